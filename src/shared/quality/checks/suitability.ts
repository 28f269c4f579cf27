// Diagnostic suitability, after the ACR–AAPM–SIIM Technical Standard for
// Electronic Practice of Medical Imaging: lossy compression, matrix size, bit
// depth and spatial calibration.
import { evidenceOf, seriesCheck, seriesLabel, whichImages } from '../series';
import { lossyMethodName, syntaxInfo } from '../transfer-syntax';
import type { ImageFacts, QualityCheck } from '../types';

/** Why an image is lossy, or undefined when nothing says so. */
export function lossyDescription(im: ImageFacts): { method: string; ratio?: number } | undefined {
  const ts = syntaxInfo(im.transferSyntaxUID);
  const flagged = im.lossyImageCompression?.trim() === '01';
  const bySyntax = ts && (ts.lossy === 'always' || (ts.lossy === 'maybe' && im.lossyImageCompression?.trim() !== '00'));
  if (!flagged && !bySyntax) return undefined;
  const method = bySyntax
    ? ts!.name
    : im.lossyImageCompressionMethod?.length
      ? im.lossyImageCompressionMethod.map(lossyMethodName).join(' then ')
      : 'earlier lossy compression';
  const ratios = (im.lossyImageCompressionRatio ?? []).filter((r) => Number.isFinite(r) && r > 0);
  // Successive lossy steps multiply (PS3.3 C.7.6.1.1.5).
  const ratio = ratios.length ? ratios.reduce((a, b) => a * b, 1) : undefined;
  return ratio === undefined ? { method } : { method, ratio };
}

const formatRatio = (r: number): string => `${r >= 10 ? Math.round(r) : Math.round(r * 10) / 10}:1`;

export const lossyCompression = seriesCheck({ id: 'suitability.lossy', group: 'suitability', title: 'Lossy compression', severity: 'warning' }, (list) => {
  const hits = list.map((im) => ({ im, lossy: lossyDescription(im) })).filter((h) => h.lossy);
  if (!hits.length) return undefined;
  const methods = [...new Set(hits.map((h) => h.lossy!.method))].join(', ');
  const ratios = hits.map((h) => h.lossy!.ratio).filter((r): r is number => r !== undefined);
  const ratioText = ratios.length
    ? `, ratio ${Math.min(...ratios) === Math.max(...ratios) ? formatRatio(ratios[0]!) : `${formatRatio(Math.min(...ratios)).slice(0, -2)}–${formatRatio(Math.max(...ratios))}`}`
    : ', ratio not recorded';
  return {
    message: `Lossy compressed (${methods}${ratioText}): not for primary diagnosis — ${whichImages(hits.map((h) => h.im), list.length)} of the ${seriesLabel(list[0])}`,
    instances: hits.map((h) => evidenceOf(h.im, h.lossy!.ratio !== undefined ? `${h.lossy!.method} ${formatRatio(h.lossy!.ratio)}` : h.lossy!.method)),
    values: { method: methods, ratio: ratios.length ? Math.max(...ratios) : null },
  };
});

const PROJECTION_MATRIX_MIN = 2048;
const CT_MATRIX_MIN = 512;

export const matrixSize = seriesCheck({ id: 'suitability.matrix', group: 'suitability', title: 'Matrix below the modality’s usual minimum', severity: 'warning' }, (list) => {
  const small = list.filter((im) => {
    if (!im.rows || !im.columns) return false;
    if (im.modality === 'CR' || im.modality === 'DX') return Math.max(im.rows, im.columns) < PROJECTION_MATRIX_MIN;
    if (im.modality === 'CT') return Math.min(im.rows, im.columns) < CT_MATRIX_MIN;
    return false;
  });
  if (!small.length) return undefined;
  const im = small[0]!;
  const min = im.modality === 'CT' ? `${CT_MATRIX_MIN}×${CT_MATRIX_MIN}` : `${PROJECTION_MATRIX_MIN} pixels on the long side`;
  return {
    message: `Matrix ${im.columns}×${im.rows} is below the usual minimum for ${im.modality} (${min}): fine detail may be lost — ${whichImages(small, list.length)}`,
    where: im,
    instances: small.map((s) => evidenceOf(s, `${s.columns}×${s.rows}`)),
    values: { columns: im.columns ?? null, rows: im.rows ?? null },
  };
});

const DEEP_MODALITIES = new Set(['CR', 'DX', 'CT', 'MR']);
const MIN_BITS = 10;

export const bitDepth = seriesCheck({ id: 'suitability.bit-depth', group: 'suitability', title: 'Grayscale bit depth below 10', severity: 'warning' }, (list) => {
  const shallow = list.filter(
    (im) => DEEP_MODALITIES.has(im.modality ?? '') && (im.samplesPerPixel ?? 1) === 1 && im.bitsStored !== undefined && im.bitsStored < MIN_BITS,
  );
  if (!shallow.length) return undefined;
  const im = shallow[0]!;
  return {
    message: `Only ${im.bitsStored} bits stored for ${im.modality} (at least ${MIN_BITS} expected): contrast was reduced, likely by a screen capture or an 8-bit export — ${whichImages(shallow, list.length)}`,
    where: im,
    instances: shallow.map((s) => evidenceOf(s, s.bitsStored)),
    values: { bitsStored: im.bitsStored ?? null },
  };
});

/** Ultrasound calibrates by regions (Sequence of Ultrasound Regions), not Pixel Spacing. */
const SPACING_EXEMPT_MODALITIES = new Set(['US', 'ECG', 'SR', 'KO', 'PR', 'DOC']);

export const calibration = seriesCheck({ id: 'suitability.calibration', group: 'suitability', title: 'No pixel spacing: measurements uncalibrated', severity: 'warning' }, (list) => {
  const uncalibrated = list.filter(
    (im) =>
      im.pixelData &&
      !SPACING_EXEMPT_MODALITIES.has(im.modality ?? '') &&
      !(im.pixelSpacing?.length === 2 && im.pixelSpacing.every((v) => v > 0)) &&
      !(im.imagerPixelSpacing?.length === 2 && im.imagerPixelSpacing.every((v) => v > 0)),
  );
  if (!uncalibrated.length) return undefined;
  return {
    message: `No Pixel Spacing or Imager Pixel Spacing in ${whichImages(uncalibrated, list.length)} of the ${seriesLabel(list[0])}: measurements would be in pixels, not millimetres`,
    instances: uncalibrated.map((im) => evidenceOf(im)),
  };
});

export const suitabilityChecks: QualityCheck[] = [lossyCompression, matrixSize, bitDepth, calibration];
