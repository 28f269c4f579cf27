/**
 * The figures shown for a measurement, computed here from the tool's handles
 * (image pixel coordinates) rather than read from cornerstone-tools' cached
 * stats: the pixel set and the calibration are then ours, stated and tested.
 */

export interface Point {
  x: number;
  y: number;
}

/** mm per pixel along rows (between rows, y) and columns (between columns, x); absent when uncalibrated. */
export interface Calibration {
  rowSpacingMm: number;
  columnSpacingMm: number;
  /**
   * Where it came from: PixelSpacing (patient plane), ImagerPixelSpacing
   * (detector, projection X-ray) or Manual (the reader's reference object).
   */
  source: 'PixelSpacing' | 'ImagerPixelSpacing' | 'Manual';
  /** Manual: the reference object's known size, as typed. */
  referenceMm?: number;
}

/** The two DICOM attributes calibration may come from, as backslash-separated DS strings. */
export interface SpacingAttributes {
  pixelSpacing?: string;
  imagerPixelSpacing?: string;
}

function parsePair(v: string | undefined): [number, number] | undefined {
  if (!v) return undefined;
  const parts = v.split('\\').map((p) => Number.parseFloat(p));
  if (parts.length < 2 || !parts.every((n) => Number.isFinite(n) && n > 0)) return undefined;
  return [parts[0]!, parts[1]!];
}

/**
 * PixelSpacing first; for projection X-ray without it, ImagerPixelSpacing
 * (the detector plane: magnification not corrected, but what radiographs
 * are routinely measured in). Neither: undefined, and the measurement is in px.
 */
export function calibrationFrom(attrs: SpacingAttributes): Calibration | undefined {
  const ps = parsePair(attrs.pixelSpacing);
  if (ps) return { rowSpacingMm: ps[0], columnSpacingMm: ps[1], source: 'PixelSpacing' };
  const ips = parsePair(attrs.imagerPixelSpacing);
  if (ips) return { rowSpacingMm: ips[0], columnSpacingMm: ips[1], source: 'ImagerPixelSpacing' };
  return undefined;
}

/**
 * A calibration from a line drawn across a reference object of known size.
 * The image's own spacing (if any) gives the pixel aspect ratio, which is
 * kept; only the scale changes so the line measures `referenceMm`. Without
 * one, pixels are taken as square. Undefined for a zero-length line or a
 * size that is not a positive number.
 */
export function manualCalibration(start: Point, end: Point, referenceMm: number, base: Calibration | undefined): Calibration | undefined {
  if (!Number.isFinite(referenceMm) || referenceMm <= 0) return undefined;
  const row = base?.rowSpacingMm ?? 1;
  const col = base?.columnSpacingMm ?? 1;
  const drawn = Math.hypot((end.x - start.x) * col, (end.y - start.y) * row);
  if (!(drawn > 0)) return undefined;
  const k = referenceMm / drawn;
  return { rowSpacingMm: row * k, columnSpacingMm: col * k, source: 'Manual', referenceMm };
}

/**
 * An instance's calibration given its own (from DICOM) and its manual
 * calibration record, if any (an `annotations` row with tool 'Calibration':
 * `data.handles.start/end` and `referenceMm`). The reports use this too.
 */
export function effectiveCalibration(
  own: Calibration | undefined,
  manual: { data: Record<string, unknown>; referenceMm?: number } | undefined,
): Calibration | undefined {
  if (!manual || typeof manual.referenceMm !== 'number') return own;
  const handles = (manual.data.handles ?? {}) as Record<string, { x?: unknown; y?: unknown } | undefined>;
  const point = (h: { x?: unknown; y?: unknown } | undefined): Point | undefined =>
    h && typeof h.x === 'number' && typeof h.y === 'number' ? { x: h.x, y: h.y } : undefined;
  const start = point(handles.start);
  const end = point(handles.end);
  return (start && end && manualCalibration(start, end, manual.referenceMm, own)) || own;
}

/** How a figure was calibrated, in words, as shown next to it. */
export function describeCalibration(cal: Calibration | undefined): string {
  if (!cal) return 'uncalibrated';
  if (cal.source === 'Manual') return `calibrated manually: ${(cal.referenceMm ?? 0).toFixed(1)} mm reference`;
  if (cal.source === 'ImagerPixelSpacing') return 'calibrated from Imager Pixel Spacing (detector plane)';
  return 'calibrated from Pixel Spacing';
}

export interface LengthResult {
  value: number;
  unit: 'mm' | 'px';
}

export function measureLength(start: Point, end: Point, cal: Calibration | undefined): LengthResult {
  const dx = end.x - start.x;
  const dy = end.y - start.y;
  if (!cal) return { value: Math.hypot(dx, dy), unit: 'px' };
  return { value: Math.hypot(dx * cal.columnSpacingMm, dy * cal.rowSpacingMm), unit: 'mm' };
}

/** Pixel values of one frame and how to turn them into modality units. */
export interface PixelSource {
  columns: number;
  rows: number;
  /** Stored values, row-major. */
  pixels: ArrayLike<number>;
  slope: number;
  intercept: number;
}

export interface EllipseStats {
  /** Pixels counted. */
  count: number;
  area: number;
  areaUnit: 'mm²' | 'px²';
  mean: number;
  stdDev: number;
  min: number;
  max: number;
}

/**
 * Statistics of the pixels whose centres lie inside the ellipse inscribed in
 * the box spanned by `start` and `end`. In Cornerstone's image coordinates
 * pixel (i, j) covers [i, i+1) × [j, j+1), so its centre is (i + 0.5, j + 0.5).
 * Values are in modality units: stored × slope + intercept (HU for CT).
 * The area is the ellipse's own (π·a·b), not the pixel count.
 */
export function ellipseStats(start: Point, end: Point, src: PixelSource, cal: Calibration | undefined): EllipseStats | undefined {
  const a = Math.abs(end.x - start.x) / 2;
  const b = Math.abs(end.y - start.y) / 2;
  if (a <= 0 || b <= 0) return undefined;
  return regionStats(ellipsePixels(start, end, src.columns, src.rows), src, Math.PI * a * b, cal);
}

/** The pixels whose centres lie inside the box spanned by `start` and `end`. */
export function* rectanglePixels(start: Point, end: Point, columns: number, rows: number): Generator<{ i: number; j: number }> {
  const x0 = Math.min(start.x, end.x);
  const x1 = Math.max(start.x, end.x);
  const y0 = Math.min(start.y, end.y);
  const y1 = Math.max(start.y, end.y);
  for (let j = Math.max(0, Math.ceil(y0 - 0.5)); j <= Math.min(rows - 1, Math.floor(y1 - 0.5)); j++) {
    for (let i = Math.max(0, Math.ceil(x0 - 0.5)); i <= Math.min(columns - 1, Math.floor(x1 - 0.5)); i++) yield { i, j };
  }
}

/** Statistics over a pixel set, in modality units; the area is the caller's. */
function regionStats(pixelsOf: Iterable<{ i: number; j: number }>, src: PixelSource, area: number, cal: Calibration | undefined): EllipseStats | undefined {
  let n = 0;
  let sum = 0;
  let sum2 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const { i, j } of pixelsOf) {
    const v = src.pixels[j * src.columns + i]! * src.slope + src.intercept;
    n++;
    sum += v;
    sum2 += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (n === 0) return undefined;
  const mean = sum / n;
  return {
    count: n,
    area: area * (cal ? cal.columnSpacingMm * cal.rowSpacingMm : 1),
    areaUnit: cal ? 'mm²' : 'px²',
    mean,
    stdDev: Math.sqrt(Math.max(0, sum2 / n - mean * mean)),
    min,
    max,
  };
}

/** Rectangle ROI statistics: pixels whose centres lie inside the box; the area is the box's. */
export function rectangleStats(start: Point, end: Point, src: PixelSource, cal: Calibration | undefined): EllipseStats | undefined {
  const area = Math.abs(end.x - start.x) * Math.abs(end.y - start.y);
  if (area <= 0) return undefined;
  return regionStats(rectanglePixels(start, end, src.columns, src.rows), src, area, cal);
}

/** The value (modality units) of the pixel under `p`; undefined outside the image. */
export function probeValue(p: Point, src: PixelSource): number | undefined {
  const i = Math.floor(p.x);
  const j = Math.floor(p.y);
  if (i < 0 || j < 0 || i >= src.columns || j >= src.rows) return undefined;
  return src.pixels[j * src.columns + i]! * src.slope + src.intercept;
}

/** The arm from `from` to `to`, in millimetres when calibrated, else in pixels. */
function arm(from: Point, to: Point, cal: Calibration | undefined): Point {
  return { x: (to.x - from.x) * (cal ? cal.columnSpacingMm : 1), y: (to.y - from.y) * (cal ? cal.rowSpacingMm : 1) };
}

/** The cosine of the angle between `u` and `v`; undefined when either has no length. */
function cosBetween(u: Point, v: Point): number | undefined {
  const nu = Math.hypot(u.x, u.y);
  const nv = Math.hypot(v.x, v.y);
  if (nu === 0 || nv === 0) return undefined;
  return (u.x * v.x + u.y * v.y) / (nu * nv);
}

const degrees = (radians: number): number => (radians * 180) / Math.PI;

/** The angle at `vertex` between the arms to `a` and `b`, in degrees, in physical space when calibrated. */
export function measureAngle(a: Point, vertex: Point, b: Point, cal: Calibration | undefined): number {
  const cos = cosBetween(arm(vertex, a, cal), arm(vertex, b, cal));
  return cos === undefined ? 0 : degrees(Math.acos(Math.max(-1, Math.min(1, cos))));
}

/**
 * The Cobb angle: the angle between two lines (each given by two points),
 * as lines rather than rays, so 0–90°; in physical space when calibrated.
 */
export function measureCobbAngle(a1: Point, a2: Point, b1: Point, b2: Point, cal: Calibration | undefined): number | undefined {
  const cos = cosBetween(arm(a1, a2, cal), arm(b1, b2, cal));
  return cos === undefined ? undefined : degrees(Math.acos(Math.min(1, Math.abs(cos))));
}

/** The pixels `ellipseStats` counts (exported so tests can compute the truth over the same set). */
export function* ellipsePixels(start: Point, end: Point, columns: number, rows: number): Generator<{ i: number; j: number }> {
  const cx = (start.x + end.x) / 2;
  const cy = (start.y + end.y) / 2;
  const a = Math.abs(end.x - start.x) / 2;
  const b = Math.abs(end.y - start.y) / 2;
  if (a <= 0 || b <= 0) return;
  const j0 = Math.max(0, Math.floor(cy - b));
  const j1 = Math.min(rows - 1, Math.ceil(cy + b));
  const i0 = Math.max(0, Math.floor(cx - a));
  const i1 = Math.min(columns - 1, Math.ceil(cx + a));
  for (let j = j0; j <= j1; j++) {
    const dy = (j + 0.5 - cy) / b;
    for (let i = i0; i <= i1; i++) {
      const dx = (i + 0.5 - cx) / a;
      if (dx * dx + dy * dy <= 1) yield { i, j };
    }
  }
}

/** "NN.N mm", or "NN.N px (uncalibrated)"; a manual calibration is named after the figure. */
export function formatLength(r: LengthResult, cal?: Calibration): string {
  if (r.unit === 'px') return `${r.value.toFixed(1)} px (uncalibrated)`;
  return `${r.value.toFixed(1)} mm${manualSuffix(cal)}`;
}

function manualSuffix(cal: Calibration | undefined): string {
  return cal?.source === 'Manual' ? ` (${describeCalibration(cal)})` : '';
}

export function formatEllipse(s: EllipseStats, modalityUnit: string, cal?: Calibration): string {
  const u = modalityUnit ? ` ${modalityUnit}` : '';
  const area = s.areaUnit === 'mm²' ? `${s.area.toFixed(1)} mm²${manualSuffix(cal)}` : `${s.area.toFixed(0)} px² (uncalibrated)`;
  return `Area ${area} · mean ${s.mean.toFixed(1)}${u} · SD ${s.stdDev.toFixed(1)} · min ${Math.round(s.min)} · max ${Math.round(s.max)}`;
}
