import type { AnnotationRecord } from '../cache/telerad-db';
import { calibrationFrom, effectiveCalibration, measureAngle, measureCobbAngle, measureLength, formatLength } from '../lib/measure';
import type { Calibration, Point, SpacingAttributes } from '../lib/measure';
import { dicomParser } from '../lib/dicom/dicom-parser';
import type { ImageReference } from '../lib/dicom/report-dicom-types';

/**
 * Measurements as a report writes them: one readable line per annotation,
 * with the figures measure.ts computes from the stored handles and the
 * image's calibration (read from the cached instance's header, or the
 * reader's manual calibration of that image). ROI statistics and probe
 * values need decoded pixels: the measurement store records them
 * (`pixelFigures`) whenever the annotation is drawn or moved on screen.
 */

const TOOL_LABEL: Record<string, string> = {
  Length: 'Length',
  EllipticalRoi: 'Ellipse ROI',
  RectangleRoi: 'Rectangle ROI',
  Angle: 'Angle',
  Probe: 'Probe',
  CobbAngle: 'Cobb angle',
  ArrowAnnotate: 'Arrow',
  TextMarker: 'Text',
};

/** Calibration lines are how other figures are scaled, not findings: they never go into a report. */
export function isReportableMeasurement(rec: Pick<AnnotationRecord, 'tool'>): boolean {
  return rec.tool !== 'Calibration';
}

/** The calibration a measurement on an instance uses: the reader's reference object first, else the header's. */
export function measurementCalibration(
  own: Calibration | undefined,
  sopInstanceUID: string,
  annotations: readonly Pick<AnnotationRecord, 'tool' | 'sopInstanceUID' | 'data' | 'referenceMm'>[],
): Calibration | undefined {
  const manual = annotations.find((a) => a.tool === 'Calibration' && a.sopInstanceUID === sopInstanceUID);
  return effectiveCalibration(own, manual);
}

function modalityUnit(rec: Pick<AnnotationRecord, 'pixelFigures'>): string {
  return rec.pixelFigures?.modality === 'CT' ? ' HU' : '';
}

function handle(data: Record<string, unknown>, key: string): Point | undefined {
  const handles = data['handles'] as Record<string, { x?: unknown; y?: unknown } | undefined> | undefined;
  const h = handles?.[key];
  return h && typeof h.x === 'number' && typeof h.y === 'number' ? { x: h.x, y: h.y } : undefined;
}

/** The figure of one measurement, e.g. "42.7 mm", "Area 310.2 mm²", "37.5°". */
export function measurementFigure(rec: Pick<AnnotationRecord, 'tool' | 'data' | 'pixelFigures'>, cal: Calibration | undefined): string {
  const start = handle(rec.data, 'start');
  const end = handle(rec.data, 'end');
  switch (rec.tool) {
    case 'Length':
      return start && end ? formatLength(measureLength(start, end, cal)) : 'incomplete';
    case 'Angle': {
      const middle = handle(rec.data, 'middle');
      return start && middle && end ? `${measureAngle(start, middle, end, cal).toFixed(1)}°` : 'incomplete';
    }
    case 'EllipticalRoi':
    case 'RectangleRoi': {
      if (!start || !end) return 'incomplete';
      const w = Math.abs(end.x - start.x);
      const h = Math.abs(end.y - start.y);
      const px = rec.tool === 'EllipticalRoi' ? (Math.PI * w * h) / 4 : w * h;
      const area = cal ? `Area ${(px * cal.columnSpacingMm * cal.rowSpacingMm).toFixed(1)} mm²` : `Area ${px.toFixed(0)} px² (uncalibrated)`;
      const st = rec.pixelFigures?.stats;
      if (!st) return area;
      const u = modalityUnit(rec);
      return `mean ${st.mean.toFixed(1)}${u}, SD ${st.stdDev.toFixed(1)}, min ${Math.round(st.min)}, max ${Math.round(st.max)}${u}, ${area.charAt(0).toLowerCase()}${area.slice(1)}`;
    }
    case 'Probe': {
      const where = end ? `at pixel (${Math.floor(end.x)}, ${Math.floor(end.y)})` : 'incomplete';
      const v = rec.pixelFigures?.probeValue;
      return v !== undefined && end ? `${Math.round(v)}${modalityUnit(rec)} ${where}` : where;
    }
    case 'CobbAngle': {
      const start2 = handle(rec.data, 'start2');
      const end2 = handle(rec.data, 'end2');
      const deg = start && end && start2 && end2 ? measureCobbAngle(start, end, start2, end2, cal) : undefined;
      return deg !== undefined ? `${deg.toFixed(1)}°` : 'incomplete';
    }
    case 'ArrowAnnotate':
    case 'TextMarker': {
      const text = rec.data['text'];
      return typeof text === 'string' && text.trim() ? `"${text.trim()}"` : '(no text)';
    }
    default:
      return rec.tool;
  }
}

/** "Length 42.7 mm (image 12)": what "Insert measurements" writes into the findings. */
export function measurementLine(rec: Pick<AnnotationRecord, 'tool' | 'data' | 'pixelFigures'>, cal: Calibration | undefined, instanceNumber: number | undefined): string {
  const where = instanceNumber !== undefined ? ` (image ${instanceNumber})` : '';
  return `${TOOL_LABEL[rec.tool] ?? rec.tool} ${measurementFigure(rec, cal)}${where}`;
}

/** What a report needs of the image under a measurement: its calibration, number and SOP class. */
export interface MeasuredImage {
  calibration?: Calibration;
  instanceNumber?: number;
  modality?: string;
  image: ImageReference;
}

/** Reads spacing, instance number and SOP class from a cached Part 10 file's header. */
export function measuredImageFromPart10(bytes: ArrayBuffer, ref: { sopInstanceUID: string; seriesInstanceUID: string }): MeasuredImage {
  const ds = dicomParser.parseDicom(new Uint8Array(bytes), { untilTag: 'x7fe00010' });
  const attrs: SpacingAttributes = {};
  const ps = ds.string('x00280030');
  const ips = ds.string('x00181164');
  if (ps) attrs.pixelSpacing = ps;
  if (ips) attrs.imagerPixelSpacing = ips;
  const calibration = calibrationFrom(attrs);
  const n = ds.intString('x00200013');
  const sopClassUID = ds.string('x00020002')?.trim() || ds.string('x00080016')?.trim() || '';
  const modality = ds.string('x00080060')?.trim();
  return {
    ...(calibration ? { calibration } : {}),
    ...(modality ? { modality } : {}),
    ...(n !== undefined && Number.isFinite(n) ? { instanceNumber: n } : {}),
    image: { sopInstanceUID: ref.sopInstanceUID, seriesInstanceUID: ref.seriesInstanceUID, sopClassUID },
  };
}
