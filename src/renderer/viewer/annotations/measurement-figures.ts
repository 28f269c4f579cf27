/** The figures of an annotation, from its handles and the instance's calibration (see measure.ts). */
import type { MeasurementData } from 'cornerstone-tools';
import type { Image } from 'cornerstone-core';
import type { AnnotationRecord } from '../../cache/telerad-db';
import {
  calibrationFrom,
  ellipseStats,
  formatEllipse,
  effectiveCalibration,
  formatLength,
  measureAngle,
  measureCobbAngle,
  measureLength,
  probeValue,
  rectangleStats,
} from '../../lib/measure';
import type { Calibration } from '../../lib/measure';
import type { MeasurementItem } from './measurement-types';
import { KIND, handlePoint, shownImage } from './store-context';
import type { StoreContext } from './store-context';

function calibrationRecord(ctx: StoreContext, sop: string): AnnotationRecord | undefined {
  return [...ctx.records.values()].find((r) => r.sopInstanceUID === sop && r.tool === 'Calibration' && typeof r.referenceMm === 'number');
}

/** The reader's calibration line on the instance drew the spacing (not the DICOM attributes). */
export function hasManualCalibration(ctx: StoreContext, sop: string): boolean {
  return calibrationRecord(ctx, sop) !== undefined;
}

/** The instance's calibration: the reader's reference object first, else the DICOM spacing. */
export function calibrationOf(ctx: StoreContext, sop: string, image: Image | undefined): Calibration | undefined {
  const own = calibrationFrom({
    pixelSpacing: image?.data?.string('x00280030'),
    imagerPixelSpacing: image?.data?.string('x00181164'),
  });
  return effectiveCalibration(own, calibrationRecord(ctx, sop));
}

export function describe(rec: AnnotationRecord, image: Image | undefined, cal: Calibration | undefined): MeasurementItem | undefined {
  const kind = KIND[rec.tool];
  const data = rec.data as MeasurementData;
  const end = handlePoint(data, 'end');
  // A probe and a free-text label have one handle (end); every other tool starts somewhere.
  const start = handlePoint(data, 'start') ?? (kind === 'probe' || kind === 'text' ? end : undefined);
  if (!kind || !start || !end) return undefined;
  const base = { id: rec.id, tool: rec.tool, kind, uncalibrated: !cal, start, end, locked: rec.locked === true, author: rec.author };
  switch (kind) {
    case 'calibration': {
      const px = measureLength(start, end, undefined).value;
      return { ...base, uncalibrated: false, text: `reference ${(rec.referenceMm ?? 0).toFixed(1)} mm over ${px.toFixed(1)} px` };
    }
    case 'arrow':
    case 'text': {
      const label = typeof data.text === 'string' ? data.text : '';
      return { ...base, text: label, label };
    }
    case 'angle': {
      const middle = handlePoint(data, 'middle');
      if (!middle) return { ...base, text: '…' };
      const deg = measureAngle(start, middle, end, cal);
      return { ...base, text: `${deg.toFixed(1)}°`, angleDeg: deg };
    }
    case 'cobb': {
      const start2 = handlePoint(data, 'start2');
      const end2 = handlePoint(data, 'end2');
      const deg = start2 && end2 ? measureCobbAngle(start, end, start2, end2, cal) : undefined;
      if (deg === undefined) return { ...base, text: '…' };
      return { ...base, text: `${deg.toFixed(1)}°`, angleDeg: deg };
    }
    case 'length': {
      const r = measureLength(start, end, cal);
      return { ...base, text: formatLength(r, cal), ...(cal ? { lengthMm: r.value } : {}) };
    }
    default:
      break;
  }
  if (!image) return { ...base, text: '…' };
  const src = { columns: image.columns, rows: image.rows, pixels: image.getPixelData(), slope: image.slope, intercept: image.intercept };
  const unit = image.data?.string('x00080060') === 'CT' ? 'HU' : '';
  if (kind === 'probe') {
    const v = probeValue(end, src);
    if (v === undefined) return { ...base, text: 'outside the image' };
    return { ...base, text: `${Math.round(v)}${unit ? ` ${unit}` : ''} at (${Math.floor(end.x)}, ${Math.floor(end.y)})`, value: v };
  }
  const stats = kind === 'rectangle' ? rectangleStats(start, end, src, cal) : ellipseStats(start, end, src, cal);
  if (!stats) return { ...base, text: 'empty region' };
  return { ...base, text: formatEllipse(stats, unit, cal), mean: stats.mean };
}

/**
 * Adds ROI statistics or the probe value from the decoded pixels of a
 * viewport showing the record's instance; unchanged when none shows it
 * (an undo on another slice keeps the figures it had).
 */
export function withPixelFigures(ctx: StoreContext, rec: AnnotationRecord): AnnotationRecord {
  const kind = KIND[rec.tool];
  if (kind !== 'ellipse' && kind !== 'rectangle' && kind !== 'probe') return rec;
  for (const att of ctx.attachments) {
    const shown = att.images.displayed();
    if (shown?.sopInstanceUID !== rec.sopInstanceUID) continue;
    const image = shownImage(ctx, att, shown);
    if (!image) continue;
    const item = describe(rec, image, calibrationOf(ctx, rec.sopInstanceUID, image));
    const modality = image.data?.string('x00080060')?.trim() || undefined;
    const src = { columns: image.columns, rows: image.rows, pixels: image.getPixelData(), slope: image.slope, intercept: image.intercept };
    const start = handlePoint(rec.data as MeasurementData, 'start');
    const end = handlePoint(rec.data as MeasurementData, 'end');
    if (!item || !end) return rec;
    if (kind === 'probe') return { ...rec, pixelFigures: { ...(item.value !== undefined ? { probeValue: item.value } : {}), ...(modality ? { modality } : {}) } };
    if (!start) return rec;
    const cal = calibrationOf(ctx, rec.sopInstanceUID, image);
    const s = kind === 'rectangle' ? rectangleStats(start, end, src, cal) : ellipseStats(start, end, src, cal);
    return s ? { ...rec, pixelFigures: { stats: { mean: s.mean, stdDev: s.stdDev, min: s.min, max: s.max }, ...(modality ? { modality } : {}) } } : rec;
  }
  return rec;
}
