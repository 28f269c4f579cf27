import { describe, expect, it } from 'vitest';
import { calibrationFrom, ellipsePixels, ellipseStats, formatEllipse, formatLength, measureAngle, measureLength, probeValue, rectangleStats } from '../../../src/renderer/annotations/measure';

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
