/** What ordering a slice needs: its identity, number and geometry (a cached instance or a listed one). */
export interface StackSortable {
  sopInstanceUID: string;
  instanceNumber?: number;
  imagePositionPatient?: readonly number[];
  imageOrientationPatient?: readonly number[];
}

function normalOf(iop: readonly number[]): [number, number, number] | undefined {
  const [rx, ry, rz, cx, cy, cz] = iop;
  if ([rx, ry, rz, cx, cy, cz].some((v) => v === undefined)) return undefined;
  const n: [number, number, number] = [ry! * cz! - rz! * cy!, rz! * cx! - rx! * cz!, rx! * cy! - ry! * cx!];
  return Math.hypot(...n) > 1e-6 ? n : undefined;
}

/**
 * The order of a stack of slices. When every slice has a position and they
 * share one orientation, slices are ordered by their position along the
 * slice normal, highest first — for axial images that is head to feet, the
 * order a reading room expects whatever the instance numbering. Otherwise
 * by instance number. Ties (and missing numbers) keep a stable order by SOP UID.
 */
export function sortStack<T extends StackSortable>(instances: readonly T[]): T[] {
  const byNumber = (a: T, b: T): number =>
    (a.instanceNumber ?? Number.MAX_SAFE_INTEGER) - (b.instanceNumber ?? Number.MAX_SAFE_INTEGER) ||
    a.sopInstanceUID.localeCompare(b.sopInstanceUID);
  const first = instances[0]?.imageOrientationPatient;
  const normal = first ? normalOf(first) : undefined;
  const sameOrientation =
    normal !== undefined &&
    instances.every(
      (i) =>
        i.imagePositionPatient?.length === 3 &&
        i.imageOrientationPatient?.length === 6 &&
        i.imageOrientationPatient.every((v, k) => Math.abs(v - first![k]!) < 1e-3),
    );
  if (!sameOrientation || !normal) return [...instances].sort(byNumber);
  const along = (i: T): number => {
    const p = i.imagePositionPatient!;
    return p[0]! * normal[0] + p[1]! * normal[1] + p[2]! * normal[2];
  };
  return [...instances].sort((a, b) => along(b) - along(a) || byNumber(a, b));
}

/**
 * The slice a stack opens on (its hanging position): the middle one. In a CT
 * or MR stack it is the likeliest to show the anatomy of interest. The viewer
 * shows it first and the retriever fetches it first, so both use this.
 */
export function hangingIndex(count: number): number {
  return Math.max(0, Math.floor(count / 2));
}
