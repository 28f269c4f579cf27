import { describe, expect, it } from 'vitest';
import { calibrationFrom, describeCalibration, effectiveCalibration, ellipsePixels, ellipseStats, formatEllipse, formatLength, manualCalibration, measureAngle, measureCobbAngle, measureLength, probeValue, rectangleStats } from '../../../src/renderer/lib/measure';

describe('measurement calibration', () => {
  it('uses PixelSpacing (row, column) when present', () => {
    expect(calibrationFrom({ pixelSpacing: '0.7\\0.5', imagerPixelSpacing: '0.2\\0.2' })).toEqual({ rowSpacingMm: 0.7, columnSpacingMm: 0.5, source: 'PixelSpacing' });
  });
  it('falls back to ImagerPixelSpacing for projection X-ray', () => {
    expect(calibrationFrom({ imagerPixelSpacing: '0.143\\0.143' })).toMatchObject({ rowSpacingMm: 0.143, source: 'ImagerPixelSpacing' });
  });
  it('is absent without either (or with a malformed value): measurements are in px and say uncalibrated', () => {
    expect(calibrationFrom({})).toBeUndefined();
    expect(calibrationFrom({ pixelSpacing: '0\\abc' })).toBeUndefined();
    const r = measureLength({ x: 0, y: 0 }, { x: 3, y: 4 }, undefined);
    expect(formatLength(r)).toBe('5.0 px (uncalibrated)');
  });
});

describe('length', () => {
  it('scales x by the column spacing and y by the row spacing', () => {
    const cal = calibrationFrom({ pixelSpacing: '2\\1' });
    expect(measureLength({ x: 0, y: 0 }, { x: 3, y: 0 }, cal).value).toBeCloseTo(3);
    expect(measureLength({ x: 0, y: 0 }, { x: 0, y: 3 }, cal).value).toBeCloseTo(6);
    expect(formatLength(measureLength({ x: 10, y: 10 }, { x: 30, y: 10 }, calibrationFrom({ pixelSpacing: '0.7\\0.7' })))).toBe('14.0 mm');
  });
});

describe('ellipse statistics', () => {
  const columns = 20;
  const rows = 20;
  // Stored values: 1000 inside a 10×10 square at (5..14), 0 elsewhere; CT rescale -1024.
  const pixels = new Int16Array(columns * rows).map((_, k) => {
    const i = k % columns;
    const j = Math.floor(k / columns);
    return i >= 5 && i < 15 && j >= 5 && j < 15 ? 1000 + (i % 2 === 0 ? 10 : -10) : 0;
  });
  const src = { columns, rows, pixels, slope: 1, intercept: -1024 };

  it('counts the pixels whose centres lie inside the ellipse and reports modality units (stored × slope + intercept)', () => {
    const stats = ellipseStats({ x: 5, y: 5 }, { x: 15, y: 15 }, src, calibrationFrom({ pixelSpacing: '0.5\\0.5' }))!;
    const n = [...ellipsePixels({ x: 5, y: 5 }, { x: 15, y: 15 }, columns, rows)].length;
    expect(stats.count).toBe(n);
    // A disc of radius 5: close to π·25 pixels, all inside the square.
    expect(n).toBeGreaterThan(70);
    expect(n).toBeLessThan(90);
    expect(stats.min).toBe(-34);
    expect(stats.max).toBe(-14);
    expect(stats.mean).toBeGreaterThan(-34);
    expect(stats.mean).toBeLessThan(-14);
    expect(stats.stdDev).toBeCloseTo(10, 0);
    expect(stats.area).toBeCloseTo(Math.PI * 25 * 0.25);
    expect(formatEllipse(stats, 'HU')).toMatch(/^Area 19\.6 mm² · mean -\d+\.\d HU · SD \d+\.\d · min -34 · max -14$/);
  });

  it('is the same whichever corner the drag started from, and empty for a degenerate ellipse', () => {
    const a = ellipseStats({ x: 15, y: 15 }, { x: 5, y: 5 }, src, undefined)!;
    const b = ellipseStats({ x: 5, y: 5 }, { x: 15, y: 15 }, src, undefined)!;
    expect(a).toEqual(b);
    expect(a.areaUnit).toBe('px²');
    expect(ellipseStats({ x: 5, y: 5 }, { x: 5, y: 15 }, src, undefined)).toBeUndefined();
  });

  it('a rectangle counts the pixels whose centres it covers; its area is the box', () => {
    const stats = rectangleStats({ x: 5, y: 5 }, { x: 15, y: 15 }, src, calibrationFrom({ pixelSpacing: '0.5\\0.5' }))!;
    expect(stats.count).toBe(100);
    expect(stats.mean).toBeCloseTo(-24);
    expect(stats.area).toBeCloseTo(25);
  });

  it('a probe reads the pixel under the point in modality units, nothing outside the image', () => {
    expect(probeValue({ x: 6.9, y: 5.2 }, src)).toBe(-14);
    expect(probeValue({ x: 0.5, y: 0.5 }, src)).toBe(-1024);
    expect(probeValue({ x: 20.5, y: 0.5 }, src)).toBeUndefined();
  });
});

describe('angle', () => {
  it('is measured at the vertex, in physical space when the pixels are not square', () => {
    expect(measureAngle({ x: 10, y: 0 }, { x: 0, y: 0 }, { x: 0, y: 10 }, undefined)).toBeCloseTo(90);
    expect(measureAngle({ x: 10, y: 0 }, { x: 0, y: 0 }, { x: 10, y: 10 }, undefined)).toBeCloseTo(45);
    // 10 px across at 1 mm and 10 px down at 2 mm: atan(20/10).
    expect(measureAngle({ x: 10, y: 0 }, { x: 0, y: 0 }, { x: 10, y: 10 }, calibrationFrom({ pixelSpacing: '2\\1' }))).toBeCloseTo((Math.atan2(20, 10) * 180) / Math.PI);
  });
});

describe('Cobb angle', () => {
  it('is the angle between the two lines, whichever way each was drawn, 0–90°', () => {
    // Line 1 tilted +20° from horizontal, line 2 tilted −15°: 35° between them.
    const rad = (d: number): number => (d * Math.PI) / 180;
    const a1 = { x: 100, y: 100 };
    const a2 = { x: 100 + 80 * Math.cos(rad(20)), y: 100 + 80 * Math.sin(rad(20)) };
    const b1 = { x: 120, y: 300 };
    const b2 = { x: 120 + 60 * Math.cos(rad(-15)), y: 300 + 60 * Math.sin(rad(-15)) };
    expect(measureCobbAngle(a1, a2, b1, b2, undefined)).toBeCloseTo(35, 6);
    // Reversing one line (drawn right to left) gives the same angle, not 145°.
    expect(measureCobbAngle(a2, a1, b1, b2, undefined)).toBeCloseTo(35, 6);
    // Perpendicular lines: 90°; parallel: 0.
    expect(measureCobbAngle({ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 0, y: 0 }, { x: 0, y: 10 }, undefined)).toBeCloseTo(90, 6);
    expect(measureCobbAngle({ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 0, y: 5 }, { x: 20, y: 5 }, undefined)).toBeCloseTo(0, 6);
    expect(measureCobbAngle({ x: 0, y: 0 }, { x: 0, y: 0 }, { x: 0, y: 5 }, { x: 20, y: 5 }, undefined)).toBeUndefined();
  });
  it('is measured in physical space when rows and columns are spaced differently', () => {
    // 45° in pixels becomes atan(2) from horizontal when rows are twice as far apart.
    const cal = calibrationFrom({ pixelSpacing: '2\\1' });
    const deg = measureCobbAngle({ x: 0, y: 0 }, { x: 10, y: 10 }, { x: 0, y: 20 }, { x: 10, y: 20 }, cal)!;
    expect(deg).toBeCloseTo((Math.atan(2) * 180) / Math.PI, 6);
  });
});

describe('manual calibration', () => {
  it('scales so that the reference line measures the typed size, and labels figures with it', () => {
    const cal = manualCalibration({ x: 10, y: 10 }, { x: 110, y: 10 }, 25, undefined)!;
    expect(cal).toMatchObject({ rowSpacingMm: 0.25, columnSpacingMm: 0.25, source: 'Manual', referenceMm: 25 });
    const r = measureLength({ x: 0, y: 0 }, { x: 0, y: 160 }, cal);
    expect(r).toEqual({ value: 40, unit: 'mm' });
    expect(formatLength(r, cal)).toBe('40.0 mm (calibrated manually: 25.0 mm reference)');
    expect(describeCalibration(cal)).toBe('calibrated manually: 25.0 mm reference');
    expect(describeCalibration(undefined)).toBe('uncalibrated');
  });
  it("keeps the image's own pixel aspect ratio and replaces only its scale (a magnified radiograph)", () => {
    const detector = calibrationFrom({ imagerPixelSpacing: '0.2\\0.1' });
    // A vertical 100 px line is 20 mm on the detector; the object is really 16 mm (magnification 1.25).
    const cal = manualCalibration({ x: 0, y: 0 }, { x: 0, y: 100 }, 16, detector)!;
    expect(cal.rowSpacingMm).toBeCloseTo(0.16, 9);
    expect(cal.columnSpacingMm).toBeCloseTo(0.08, 9);
    expect(measureLength({ x: 0, y: 0 }, { x: 100, y: 0 }, cal).value).toBeCloseTo(8, 9);
  });
  it('refuses a zero-length line or a size that is not positive', () => {
    expect(manualCalibration({ x: 5, y: 5 }, { x: 5, y: 5 }, 10, undefined)).toBeUndefined();
    expect(manualCalibration({ x: 0, y: 0 }, { x: 5, y: 5 }, 0, undefined)).toBeUndefined();
    expect(manualCalibration({ x: 0, y: 0 }, { x: 5, y: 5 }, Number.NaN, undefined)).toBeUndefined();
  });
});

describe('effective calibration of an instance', () => {
  it('is the manual one when a calibration record exists, else the DICOM one', () => {
    const own = calibrationFrom({ imagerPixelSpacing: '0.2\\0.2' });
    const record = { data: { handles: { start: { x: 0, y: 0 }, end: { x: 100, y: 0 } } }, referenceMm: 15 };
    const cal = effectiveCalibration(own, record)!;
    expect(cal).toMatchObject({ source: 'Manual', referenceMm: 15 });
    expect(cal.columnSpacingMm).toBeCloseTo(0.15, 12);
    expect(effectiveCalibration(own, undefined)).toBe(own);
    expect(effectiveCalibration(undefined, { data: { handles: {} }, referenceMm: 15 })).toBeUndefined();
  });
});
