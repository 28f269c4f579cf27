/** Patient-space geometry of the viewer: orientation markers and slice matching for synchronised scroll. */

export type Vec3 = readonly [number, number, number];

/** How a viewport turns and mirrors the image (Cornerstone's viewport fields). */
export interface ViewTransform {
  /** Clockwise, degrees; multiples of 90 here. */
  rotation: number;
  hflip: boolean;
  vflip: boolean;
}

export interface OrientationMarkers {
  top: string;
  right: string;
  bottom: string;
  left: string;
}

const neg = (v: Vec3): Vec3 => [-v[0], -v[1], -v[2]];

/**
 * The letters for a direction in the patient coordinate system (LPS: +x is
 * the patient's left, +y posterior, +z head), strongest axis first; axes
 * contributing less than a quarter are left out, so an oblique reads "LP"
 * and a true axial "L".
 */
export function directionLetters(v: Vec3): string {
  const letters: [string, number][] = [
    [v[0] > 0 ? 'L' : 'R', Math.abs(v[0])],
    [v[1] > 0 ? 'P' : 'A', Math.abs(v[1])],
    [v[2] > 0 ? 'H' : 'F', Math.abs(v[2])],
  ];
  return letters
    .filter(([, m]) => m > 0.25)
    .sort((a, b) => b[1] - a[1])
    .map(([l]) => l)
    .join('');
}

/**
 * The letters on the four edges of a viewport, from Image Orientation
 * (Patient) — row direction (towards increasing column, the image's right)
 * and column direction (towards increasing row, the image's bottom) — and
 * the viewport's flips and rotation. Cornerstone flips in image space first
 * and then rotates clockwise, so the same order is applied here.
 */
export function orientationMarkers(iop: readonly number[] | undefined, view: ViewTransform): OrientationMarkers | undefined {
  if (!iop || iop.length < 6 || iop.some((v) => !Number.isFinite(v))) return undefined;
  let right: Vec3 = [iop[0]!, iop[1]!, iop[2]!];
  let down: Vec3 = [iop[3]!, iop[4]!, iop[5]!];
  if (view.hflip) right = neg(right);
  if (view.vflip) down = neg(down);
  const quarterTurns = ((Math.round(view.rotation / 90) % 4) + 4) % 4;
  for (let k = 0; k < quarterTurns; k++) {
    // A clockwise quarter turn puts the image's top on the right and its right at the bottom.
    const newRight = neg(down);
    down = right;
    right = newRight;
  }
  return { top: directionLetters(neg(down)), right: directionLetters(right), bottom: directionLetters(down), left: directionLetters(neg(right)) };
}

/** The slice normal of an orientation (row × column), or undefined for a degenerate one. */
export function sliceNormal(iop: readonly number[] | undefined): Vec3 | undefined {
  if (!iop || iop.length < 6) return undefined;
  const [rx, ry, rz, cx, cy, cz] = iop as [number, number, number, number, number, number];
  const n: Vec3 = [ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx];
  const len = Math.hypot(...n);
  return len > 1e-6 ? [n[0] / len, n[1] / len, n[2] / len] : undefined;
}

export interface SlicePlane {
  position?: readonly number[];
  orientation?: readonly number[];
}

/**
 * The index of the target stack's slice nearest to `source`'s position,
 * measured along the target's own slice normal (so a thin and a thick series
 * of one frame of reference, or two series sorted in opposite directions,
 * still line up). Undefined when either side lacks a position or orientation.
 * The caller checks that both share a FrameOfReferenceUID.
 */
export function nearestSliceIndex(source: SlicePlane, target: readonly SlicePlane[]): number | undefined {
  const p = source.position;
  if (!p || p.length < 3) return undefined;
  let best: number | undefined;
  let bestDistance = Infinity;
  target.forEach((slice, i) => {
    const q = slice.position;
    const n = sliceNormal(slice.orientation);
    if (!q || q.length < 3 || !n) return;
    const d = Math.abs((p[0]! - q[0]!) * n[0] + (p[1]! - q[1]!) * n[1] + (p[2]! - q[2]!) * n[2]);
    if (d < bestDistance - 1e-9) {
      bestDistance = d;
      best = i;
    }
  });
  return best;
}

/** Slice location along the normal, in mm, as shown in the overlay. */
export function slicePositionMm(plane: SlicePlane): number | undefined {
  const n = sliceNormal(plane.orientation);
  const p = plane.position;
  if (!n || !p || p.length < 3) return undefined;
  return p[0]! * n[0] + p[1]! * n[1] + p[2]! * n[2];
}
