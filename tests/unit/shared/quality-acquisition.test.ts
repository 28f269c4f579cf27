import { describe, expect, it } from 'vitest';
import { blankImage, clipping, lowDynamicRange, pixelChecksSkipped, possibleBlur } from '../../../src/shared/quality/checks/acquisition';
import { boxBlur, clipHigh, ctSeriesFacts, squeeze, xrayFacts, xrayPixels } from '../../fixtures/quality';

describe('acquisition checks', () => {
  const xray = xrayPixels();

  it('warns of an over-exposed radiograph whose brightest part saturated', () => {
    const [f, ...rest] = clipping.run([xrayFacts(clipHigh(xray, 0.85))], {});
    expect(rest).toEqual([]);
    expect(f!.severity).toBe('warning');
    expect(f!.message).toMatch(/Exposure clipped: 15 % of pixels at the brightest value/);
  });

  it('does not call a well-exposed radiograph clipped', () => {
    expect(clipping.run([xrayFacts(xray)], {})).toEqual([]);
  });

  it('warns of a washed-out radiograph using only a hundred grey levels, not of the normal one', () => {
    const [f] = lowDynamicRange.run([xrayFacts(squeeze(xray, 100))], {});
    expect(f!.message).toMatch(/Low dynamic range: as few as \d+ grey levels/);
    expect(lowDynamicRange.run([xrayFacts(xray)], {})).toEqual([]);
  });

  it('warns of a blank slice in a CT series and of no other', () => {
    const series = ctSeriesFacts({ slices: 6, size: 128, withPixels: true, alterPixels: (k, px) => (k === 2 ? px.map(() => 24) : px) });
    const [f, ...rest] = blankImage.run(series, {});
    expect(rest).toEqual([]);
    expect(f!.evidence.instances.map((e) => e.instanceNumber)).toEqual([3]);
    expect(blankImage.run(ctSeriesFacts({ slices: 6, size: 128, withPixels: true }), {})).toEqual([]);
  });

  it('reports a blurred slice among sharp ones as possible motion or blur', () => {
    const series = ctSeriesFacts({ slices: 8, size: 128, withPixels: true, alterPixels: (k, px, n) => (k === 4 ? boxBlur(px, n, n, 2) : px) });
    const [f, ...rest] = possibleBlur.run(series, {});
    expect(rest).toEqual([]);
    expect(f!.message).toMatch(/^Possible motion or blur: image 5 of 8/);
    expect(f!.evidence.instances.map((e) => e.instanceNumber)).toEqual([5]);
  });

  it('finds no blur in a series of equally sharp slices, nor in one too short to compare', () => {
    expect(possibleBlur.run(ctSeriesFacts({ slices: 8, size: 128, withPixels: true }), {})).toEqual([]);
    const short = ctSeriesFacts({ slices: 3, size: 128, withPixels: true, alterPixels: (k, px, n) => (k === 1 ? boxBlur(px, n, n, 2) : px) });
    expect(possibleBlur.run(short, {})).toEqual([]);
  });

  it('says honestly when pixel checks were skipped and why', () => {
    const series = ctSeriesFacts({ slices: 2 }).map((f) => ({ ...f, pixelStatsSkipped: 'compressed (JPEG-LS lossless)' }));
    const [f] = pixelChecksSkipped.run(series, {});
    expect(f!.severity).toBe('info');
    expect(f!.message).toBe('Pixel checks skipped: compressed (JPEG-LS lossless) — all 2 images of the CT series');
    expect(pixelChecksSkipped.run(ctSeriesFacts({ slices: 2, size: 128, withPixels: true }), {})).toEqual([]);
  });
});
