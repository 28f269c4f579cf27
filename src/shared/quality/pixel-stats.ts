// Pixel statistics computed once per image, the same way in the renderer and
// in the Node CLI: typed arrays in, numbers out. One pass over the first
// frame for 8/16-bit data, fused: a histogram indexed by value and the
// Laplacian on alternate rows; one histogram allocated.
import type { PixelStats } from './types';

export type StoredPixels = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array;

export interface PixelStatsOptions {
  /** Bits Stored: sets the representable range the shares are measured against. */
  bitsStored: number;
}

/**
 * Detectors rarely deliver more than 12 significant bits even when 16 are
 * stored (a CT's HU range is 4096 levels): the near-uniform window is measured
 * against at most that, so a 16-bit CT slice of air still counts as blank.
 */
const UNIFORM_WINDOW_RANGE_CAP = 4095;
/** Exact histogram up to this many levels; wider data (32-bit) is binned. */
const MAX_BINS = 1 << 17;

/** The value range of an 8- or 16-bit integer array: its histogram can be indexed directly. */
function integerRange(pixels: StoredPixels): { lo: number; bins: number } | undefined {
  if (pixels instanceof Uint16Array) return { lo: 0, bins: 65536 };
  if (pixels instanceof Int16Array) return { lo: -32768, bins: 65536 };
  if (pixels instanceof Uint8Array) return { lo: 0, bins: 256 };
  if (pixels instanceof Int8Array) return { lo: -128, bins: 256 };
  return undefined;
}

interface Pass {
  hist: Uint32Array;
  /** Value of bin b: lo + b / scale. */
  lo: number;
  scale: number;
  lapSum: number;
  lapSq: number;
  lapN: number;
}

/**
 * Variance-of-Laplacian sums over the interior (4-neighbour kernel), on the
 * odd rows: the variance is a statistic of the whole image, and half the
 * rows estimate it as well at half the cost.
 */
function laplacianSums(pixels: StoredPixels, rows: number, columns: number, pass: Pass): void {
  let lapSum = 0;
  let lapSq = 0;
  let lapN = 0;
  for (let y = 1; y < rows - 1; y += 2) {
    const row = y * columns;
    for (let x = 1; x < columns - 1; x++) {
      const i = row + x;
      const l = 4 * pixels[i]! - pixels[i - 1]! - pixels[i + 1]! - pixels[i - columns]! - pixels[i + columns]!;
      lapSum += l;
      lapSq += l * l;
    }
    lapN += columns - 2;
  }
  pass.lapSum = lapSum;
  pass.lapSq = lapSq;
  pass.lapN = lapN;
}

/**
 * 8/16-bit integers: one pass, a histogram indexed by value (no min/max pass
 * first) fused with the Laplacian on the odd interior rows, so each pixel is
 * loaded once.
 */
function integerPass(pixels: StoredPixels, rows: number, columns: number, n: number, lo: number, bins: number): Pass {
  const hist = new Uint32Array(bins);
  const pass: Pass = { hist, lo, scale: 1, lapSum: 0, lapSq: 0, lapN: 0 };
  if (rows * columns > pixels.length || rows < 3 || columns < 3) {
    for (let i = 0; i < n; i++) hist[pixels[i]! - lo]!++;
    return pass;
  }
  let lapSum = 0;
  let lapSq = 0;
  let lapN = 0;
  for (let y = 0; y < rows; y++) {
    const row = y * columns;
    if ((y & 1) === 0 || y === rows - 1) {
      for (let i = row; i < row + columns; i++) hist[pixels[i]! - lo]!++;
      continue;
    }
    hist[pixels[row]! - lo]!++;
    hist[pixels[row + columns - 1]! - lo]!++;
    for (let i = row + 1; i < row + columns - 1; i++) {
      const c = pixels[i]!;
      hist[c - lo]!++;
      const l = 4 * c - pixels[i - 1]! - pixels[i + 1]! - pixels[i - columns]! - pixels[i + columns]!;
      lapSum += l;
      lapSq += l * l;
    }
    lapN += columns - 2;
  }
  pass.lapSum = lapSum;
  pass.lapSq = lapSq;
  pass.lapN = lapN;
  return pass;
}

/** Wider or float data: a min/max pass, then a histogram of at most MAX_BINS bins. */
function binnedPass(pixels: StoredPixels, n: number): Pass {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = pixels[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = max - min;
  const bins = Math.min(MAX_BINS, Math.floor(span) + 1);
  const scale = span > 0 ? (bins - 1) / span : 1;
  const hist = new Uint32Array(bins);
  for (let i = 0; i < n; i++) hist[Math.floor((pixels[i]! - min) * scale)]!++;
  return { hist, lo: min, scale, lapSum: 0, lapSq: 0, lapN: 0 };
}

/**
 * Statistics of the first `rows × columns` values of `pixels` (one grayscale
 * frame of stored values, already sign-corrected by the caller's typed array).
 */
export function computePixelStats(pixels: StoredPixels, rows: number, columns: number, options: PixelStatsOptions): PixelStats {
  const n = Math.min(pixels.length, rows * columns);
  if (n === 0) throw new Error('computePixelStats: no pixels');
  const range = integerRange(pixels);
  let pass: Pass;
  if (range) pass = integerPass(pixels, rows, columns, n, range.lo, range.bins);
  else {
    pass = binnedPass(pixels, n);
    if (rows * columns <= pixels.length) laplacianSums(pixels, rows, columns, pass);
  }
  const { hist, lo, scale } = pass;
  const bins = hist.length;
  let first = 0;
  while (hist[first] === 0) first++;
  let last = bins - 1;
  while (hist[last] === 0) last--;
  const levelOf = (bin: number): number => lo + bin / scale;
  const min = levelOf(first);
  const max = levelOf(last);

  const percentile = (p: number): number => {
    const target = p * n;
    let acc = 0;
    for (let b = first; b <= last; b++) {
      acc += hist[b]!;
      if (acc >= target) return levelOf(b);
    }
    return max;
  };
  const p01 = percentile(0.01);
  const p99 = percentile(0.99);
  const median = percentile(0.5);

  const representable = Math.max(1, 2 ** options.bitsStored - 1);
  const window = Math.max(1, Math.round(0.01 * Math.min(representable, UNIFORM_WINDOW_RANGE_CAP)));
  let nearMedian = 0;
  const b0 = Math.max(first, Math.floor((median - window - lo) * scale));
  const b1 = Math.min(last, Math.ceil((median + window - lo) * scale));
  for (let b = b0; b <= b1; b++) nearMedian += hist[b]!;

  const lapMean = pass.lapN ? pass.lapSum / pass.lapN : 0;
  return {
    min,
    max,
    shareAtMin: hist[first]! / n,
    shareAtMax: hist[last]! / n,
    p01,
    p99,
    dynamicRangeUsed: Math.min(1, (p99 - p01) / representable),
    effectiveBits: Math.log2(p99 - p01 + 1),
    nearUniformShare: nearMedian / n,
    laplacianVariance: pass.lapN ? pass.lapSq / pass.lapN - lapMean * lapMean : 0,
    pixelCount: n,
  };
}
