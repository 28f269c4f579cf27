// Acquisition: what the pixels themselves say — clipped exposure, little
// contrast, blank images, and images much less sharp than the rest of their
// series (a possible sign of motion or blur, never a certainty).
import { evidenceOf, median, seriesCheck, seriesLabel, whichImages } from '../series';
import type { ImageFacts, PixelStats, QualityCheck } from '../types';

/** Projection radiography, where a plateau at the extremes means the detector saturated or saw nothing. */
const PROJECTION = new Set(['CR', 'DX', 'MG', 'RF', 'XA', 'IO', 'PX']);
/** More than this share of pixels at the darkest or brightest value present: clipped. */
export const CLIPPING_SHARE = 0.05;
/** Fewer grey levels than this between the 1st and 99th percentile (for ≥ 10 bits stored). */
export const LOW_RANGE_BITS = 8;
export const LOW_RANGE_BITS_8BIT = 6;
/** At least this share of pixels within ±1 % of the range around the median: blank. */
export const BLANK_SHARE = 0.98;
/** Sharpness outliers need a series of at least this many images to compare against. */
export const BLUR_MIN_SERIES = 5;
/** Flagged below this fraction of the series' median Laplacian variance… */
export const BLUR_RATIO = 0.5;
/** …and more than this many robust standard deviations below it (log scale). */
export const BLUR_MADS = 3;

const pct = (x: number): string => `${Math.round(x * 1000) / 10} %`;

function withStats(list: readonly ImageFacts[]): { im: ImageFacts; s: PixelStats }[] {
  return list.filter((im) => im.pixelStats).map((im) => ({ im, s: im.pixelStats! }));
}

export const isBlank = (s: PixelStats): boolean => s.nearUniformShare >= BLANK_SHARE;

export const clipping = seriesCheck({ id: 'acquisition.clipping', group: 'acquisition', title: 'Exposure clipping', severity: 'warning' }, (list) => {
  const hits = withStats(list).filter(
    ({ im, s }) => PROJECTION.has(im.modality ?? '') && !isBlank(s) && Math.max(s.shareAtMin, s.shareAtMax) > CLIPPING_SHARE,
  );
  if (!hits.length) return undefined;
  const worst = hits.reduce((a, b) => (Math.max(b.s.shareAtMin, b.s.shareAtMax) > Math.max(a.s.shareAtMin, a.s.shareAtMax) ? b : a));
  const high = worst.s.shareAtMax >= worst.s.shareAtMin;
  return {
    message: `Exposure clipped: ${pct(high ? worst.s.shareAtMax : worst.s.shareAtMin)} of pixels at the ${high ? 'brightest' : 'darkest'} value (${high ? worst.s.max : worst.s.min}) — detail there is lost; ${whichImages(hits.map((h) => h.im), list.length)}`,
    instances: hits.map(({ im, s }) => evidenceOf(im, Math.round(Math.max(s.shareAtMin, s.shareAtMax) * 1000) / 1000)),
    values: { threshold: CLIPPING_SHARE },
  };
});

export const blankImage = seriesCheck({ id: 'acquisition.blank', group: 'acquisition', title: 'Blank or near-uniform image', severity: 'warning' }, (list) => {
  const hits = withStats(list).filter(({ s }) => isBlank(s));
  if (!hits.length) return undefined;
  return {
    message: `Blank or near-uniform: ${whichImages(hits.map((h) => h.im), list.length)} of the ${seriesLabel(list[0])} show almost no structure`,
    instances: hits.map(({ im, s }) => evidenceOf(im, Math.round(s.nearUniformShare * 1000) / 1000)),
    values: { threshold: BLANK_SHARE },
  };
});

export const lowDynamicRange = seriesCheck({ id: 'acquisition.low-dynamic-range', group: 'acquisition', title: 'Low dynamic range', severity: 'warning' }, (list) => {
  const hits = withStats(list).filter(
    ({ im, s }) => !isBlank(s) && s.effectiveBits < ((im.bitsStored ?? 16) >= 10 ? LOW_RANGE_BITS : LOW_RANGE_BITS_8BIT),
  );
  if (!hits.length) return undefined;
  const levels = Math.round(2 ** Math.min(...hits.map((h) => h.s.effectiveBits)));
  return {
    message: `Low dynamic range: as few as ${levels} grey levels between the 1st and 99th percentile (${hits[0]!.im.bitsStored ?? '?'} bits stored) — under- or over-exposed, or rescaled; ${whichImages(hits.map((h) => h.im), list.length)}`,
    instances: hits.map(({ im, s }) => evidenceOf(im, Math.round(2 ** s.effectiveBits))),
  };
});

export const possibleBlur = seriesCheck({ id: 'acquisition.blur', group: 'acquisition', title: 'Possible motion or blur', severity: 'warning' }, (list) => {
  const usable = withStats(list).filter(({ s }) => !isBlank(s) && s.laplacianVariance > 0);
  if (usable.length < BLUR_MIN_SERIES) return undefined;
  const logs = usable.map(({ s }) => Math.log(s.laplacianVariance));
  const m = median(logs);
  const mad = median(logs.map((l) => Math.abs(l - m))) * 1.4826;
  const cut = Math.min(m + Math.log(BLUR_RATIO), m - BLUR_MADS * mad);
  const hits = usable.filter((_, i) => logs[i]! < cut);
  if (!hits.length) return undefined;
  const seriesMedian = Math.exp(m);
  return {
    message: `Possible motion or blur: ${whichImages(hits.map((h) => h.im), list.length)} of the ${seriesLabel(list[0])} are much less sharp than the rest of the series (${Math.round((hits[0]!.s.laplacianVariance / seriesMedian) * 100)} % of its median sharpness) — look at them before relying on fine detail`,
    instances: hits.map(({ im, s }) => evidenceOf(im, Math.round((s.laplacianVariance / seriesMedian) * 1000) / 1000)),
    values: { seriesMedianLaplacianVariance: Math.round(seriesMedian) },
  };
});

export const pixelChecksSkipped = seriesCheck({ id: 'acquisition.pixels-skipped', group: 'acquisition', title: 'Pixel checks skipped', severity: 'info' }, (list) => {
  const skipped = list.filter((im) => !im.pixelStats && im.pixelStatsSkipped);
  if (!skipped.length) return undefined;
  const reasons = [...new Set(skipped.map((im) => im.pixelStatsSkipped))].join('; ');
  return {
    message: `Pixel checks skipped: ${reasons} — ${whichImages(skipped, list.length)} of the ${seriesLabel(list[0])}`,
    instances: skipped.map((im) => evidenceOf(im, im.pixelStatsSkipped)),
  };
});

export const acquisitionChecks: QualityCheck[] = [clipping, lowDynamicRange, blankImage, possibleBlur, pixelChecksSkipped];
