import { describe, expect, it } from 'vitest';
import type { AnnotationRecord } from '../../../src/renderer/cache/telerad-db';
import { isReportableMeasurement, measurementCalibration, measurementLine } from '../../../src/renderer/reports/report-measurements';
import type { Calibration } from '../../../src/renderer/lib/measure';

function rec(tool: string, data: Record<string, unknown>, extra: Partial<AnnotationRecord> = {}): AnnotationRecord {
  return {
    id: `${tool}-1`, studyInstanceUID: '1.2', seriesInstanceUID: '1.2.3', sopInstanceUID: '1.2.3.4', tool, data,
    author: 'me', createdAt: 1, updatedAt: 1, ...extra,
  };
}
const h = (x: number, y: number): { x: number; y: number } => ({ x, y });
const HALF_MM: Calibration = { rowSpacingMm: 0.5, columnSpacingMm: 0.5, source: 'PixelSpacing' };

describe('report measurement lines', () => {
  it('states an ellipse ROI mean and SD in HU from the figures recorded when it was drawn', () => {
    const e = rec('EllipticalRoi', { handles: { start: h(10, 10), end: h(30, 50) } }, {
      pixelFigures: { stats: { mean: -812.44, stdDev: 21.3, min: -900, max: -700 }, modality: 'CT' },
    });
    const line = measurementLine(e, HALF_MM, 12);
    expect(line).toContain('mean -812.4 HU');
    expect(line).toContain('SD 21.3');
    expect(line).toContain(`area ${((Math.PI * 20 * 40) / 4 * 0.25).toFixed(1)} mm²`);
    expect(line).toContain('(image 12)');
  });

  it('falls back to the area alone for an ROI drawn before figures were recorded', () => {
    const e = rec('RectangleRoi', { handles: { start: h(0, 0), end: h(10, 20) } });
    expect(measurementLine(e, HALF_MM, undefined)).toBe('Rectangle ROI Area 50.0 mm²');
  });

  it('uses the reader\'s manual calibration of the image over an uncalibrated header', () => {
    const calibration = rec('Calibration', { handles: { start: h(0, 0), end: h(200, 0) } }, { id: 'cal', referenceMm: 50 });
    const length = rec('Length', { handles: { start: h(0, 0), end: h(0, 400) } });
    const cal = measurementCalibration(undefined, length.sopInstanceUID, [calibration, length]);
    expect(cal?.source).toBe('Manual');
    expect(measurementLine(length, cal, undefined)).toMatch(/^Length 100\.0 mm/);
    expect(isReportableMeasurement(calibration)).toBe(false);
    expect(isReportableMeasurement(length)).toBe(true);
  });

  it('writes a Cobb angle in degrees and an arrow by its text', () => {
    const cobb = rec('CobbAngle', { handles: { start: h(0, 0), end: h(100, 0), start2: h(0, 100), end2: h(100, 100 + 100 * Math.tan(Math.PI / 6)) } });
    expect(measurementLine(cobb, HALF_MM, undefined)).toBe('Cobb angle 30.0°');
    const arrow = rec('ArrowAnnotate', { handles: { start: h(1, 1), end: h(5, 5) }, text: ' fracture line ' });
    expect(measurementLine(arrow, HALF_MM, undefined)).toBe('Arrow "fracture line"');
  });
});
