// Series geometry: a volume with a hole, or one whose slices do not share a
// thickness, an orientation or a frame of reference, misleads every
// measurement and reconstruction made on it.
import { evidenceOf, median, seriesCheck, seriesLabel } from '../series';
import type { ImageFacts, QualityCheck } from '../types';

/** Gaps wider than this many times the series' usual spacing hold missing slices. */
export const GAP_FACTOR = 1.5;
const ORIENTATION_TOLERANCE = 1e-3;
const THICKNESS_TOLERANCE_MM = 0.01;

/** Single-frame images of a series: the volume checks apply to them. */
function slicesOf(list: readonly ImageFacts[]): ImageFacts[] {
  return list.filter((im) => (im.numberOfFrames ?? 1) === 1 && im.pixelData);
}

function normalOf(iop: readonly number[]): [number, number, number] {
  const [a, b, c, d, e, f] = iop as [number, number, number, number, number, number];
  return [b * f - c * e, c * d - a * f, a * e - b * d];
}

export interface SliceGaps {
  missingInstanceNumbers: number[];
  /** Positions (mm along the slice normal) after which slices are missing, with how many. */
  positionGaps: { after: ImageFacts; before: ImageFacts; gapMm: number; missing: number }[];
  spacingMm?: number;
}

export function findSliceGaps(slices: readonly ImageFacts[]): SliceGaps {
  const numbers = [...new Set(slices.map((s) => s.instanceNumber).filter((n): n is number => Number.isInteger(n)))].sort((a, b) => a - b);
  const missingInstanceNumbers: number[] = [];
  for (let i = 1; i < numbers.length; i++) {
    for (let n = numbers[i - 1]! + 1; n < numbers[i]! && missingInstanceNumbers.length < 1000; n++) missingInstanceNumbers.push(n);
  }
  const positioned = slices.filter((s) => s.imagePositionPatient?.length === 3 && s.imageOrientationPatient?.length === 6);
  const positionGaps: SliceGaps['positionGaps'] = [];
  if (positioned.length < 3) return { missingInstanceNumbers, positionGaps };
  const normal = normalOf(positioned[0]!.imageOrientationPatient!);
  const along = positioned
    .map((s) => ({ s, d: s.imagePositionPatient!.reduce((acc, v, i) => acc + v * normal[i]!, 0) }))
    .sort((a, b) => a.d - b.d);
  const steps = along.slice(1).map((p, i) => p.d - along[i]!.d);
  const positive = steps.filter((x) => x > 1e-3);
  if (!positive.length) return { missingInstanceNumbers, positionGaps };
  // The lower quartile, not the median: with few slices left, the gaps themselves would pull a median up.
  const spacingMm = [...positive].sort((a, b) => a - b)[Math.floor((positive.length - 1) / 4)]!;
  steps.forEach((step, i) => {
    if (step > GAP_FACTOR * spacingMm) {
      positionGaps.push({ after: along[i]!.s, before: along[i + 1]!.s, gapMm: step, missing: Math.max(1, Math.round(step / spacingMm) - 1) });
    }
  });
  return { missingInstanceNumbers, positionGaps, spacingMm };
}

const mm = (x: number): string => `${Math.round(x * 100) / 100} mm`;

export const missingSlices = seriesCheck({ id: 'geometry.missing-slices', group: 'geometry', title: 'Missing slices', severity: 'blocker' }, (list) => {
  const slices = slicesOf(list);
  if (slices.length < 2) return undefined;
  const gaps = findSliceGaps(slices);
  if (!gaps.missingInstanceNumbers.length && !gaps.positionGaps.length) return undefined;
  const parts: string[] = [];
  if (gaps.missingInstanceNumbers.length) {
    const shown = gaps.missingInstanceNumbers.slice(0, 10).join(', ');
    parts.push(`instance number${gaps.missingInstanceNumbers.length > 1 ? 's' : ''} ${shown}${gaps.missingInstanceNumbers.length > 10 ? '…' : ''} absent`);
  }
  for (const g of gaps.positionGaps.slice(0, 5)) {
    parts.push(
      `a gap of ${mm(g.gapMm)} where slices are ${mm(gaps.spacingMm!)} apart (≈ ${g.missing} slice${g.missing > 1 ? 's' : ''} missing between images ${g.after.instanceNumber ?? '?'} and ${g.before.instanceNumber ?? '?'})`,
    );
  }
  // Numbering alone can skip legitimately (a scout split off); a hole in the positions cannot.
  const severity = gaps.positionGaps.length ? 'blocker' : 'warning';
  return {
    severity,
    message: `Missing slices in the ${seriesLabel(list[0])} of ${slices.length} images: ${parts.join('; ')} — the volume is incomplete; ask for the full series`,
    instances: gaps.positionGaps.flatMap((g) => [evidenceOf(g.after, 'before the gap'), evidenceOf(g.before, 'after the gap')]),
    values: {
      missingInstanceNumbers: gaps.missingInstanceNumbers.join(',') || null,
      spacingMm: gaps.spacingMm ?? null,
      positionGaps: gaps.positionGaps.length,
    },
  };
});

export const inconsistentThickness = seriesCheck({ id: 'geometry.thickness', group: 'geometry', title: 'Inconsistent slice thickness', severity: 'warning' }, (list) => {
  const withThickness = slicesOf(list).filter((im) => im.sliceThickness !== undefined);
  const values: number[] = [];
  for (const im of withThickness) {
    if (!values.some((v) => Math.abs(v - im.sliceThickness!) <= THICKNESS_TOLERANCE_MM)) values.push(im.sliceThickness!);
  }
  if (values.length < 2) return undefined;
  const common = median(withThickness.map((im) => im.sliceThickness!));
  const odd = withThickness.filter((im) => Math.abs(im.sliceThickness! - common) > THICKNESS_TOLERANCE_MM);
  return {
    message: `Slice thickness varies within the ${seriesLabel(list[0])}: ${values.sort((a, b) => a - b).map(mm).join(', ')} — distances and volumes across slices are unreliable`,
    instances: odd.map((im) => evidenceOf(im, im.sliceThickness)),
    values: { thicknesses: values.join(',') },
  };
});

export const inconsistentOrientation = seriesCheck({ id: 'geometry.orientation', group: 'geometry', title: 'Inconsistent orientation', severity: 'warning' }, (list) => {
  const oriented = slicesOf(list).filter((im) => im.imageOrientationPatient?.length === 6);
  if (oriented.length < 2) return undefined;
  const first = oriented[0]!.imageOrientationPatient!;
  const odd = oriented.filter((im) => im.imageOrientationPatient!.some((v, i) => Math.abs(v - first[i]!) > ORIENTATION_TOLERANCE));
  if (!odd.length) return undefined;
  return {
    message: `Image orientation differs within the ${seriesLabel(list[0])} (${odd.length} of ${oriented.length} images differ from the first): it is not one stack — scrolling and reconstructions mix planes`,
    instances: odd.map((im) => evidenceOf(im, im.imageOrientationPatient!.join('\\'))),
    values: { firstOrientation: first.join('\\') },
  };
});

export const mixedFrameOfReference = seriesCheck({ id: 'geometry.frame-of-reference', group: 'geometry', title: 'Mixed frames of reference', severity: 'warning' }, (list) => {
  const frames = new Map<string, ImageFacts[]>();
  for (const im of list) {
    if (!im.frameOfReferenceUID) continue;
    const g = frames.get(im.frameOfReferenceUID);
    if (g) g.push(im);
    else frames.set(im.frameOfReferenceUID, [im]);
  }
  if (frames.size < 2) return undefined;
  const minority = [...frames.values()].sort((a, b) => a.length - b.length).slice(0, -1).flat();
  return {
    message: `${frames.size} frames of reference in one ${seriesLabel(list[0])}: positions in it are not comparable (the patient may have moved or been re-positioned)`,
    instances: minority.map((im) => evidenceOf(im, im.frameOfReferenceUID)),
    values: { framesOfReference: frames.size },
  };
});

export const geometryChecks: QualityCheck[] = [missingSlices, inconsistentThickness, inconsistentOrientation, mixedFrameOfReference];
