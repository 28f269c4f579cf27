import { describe, expect, it } from 'vitest';
import { computePixelStats } from '../../../src/shared/quality';
import { boxBlur, ctSlicePixels } from '../../fixtures/quality';

describe('computePixelStats', () => {
  it('reports the extremes, their shares and the percentiles of a known image', () => {
    // 100 pixels: 10 at 0, 80 spread over 100..179, 10 at 4095.
    const px = new Uint16Array(100);
    for (let i = 0; i < 80; i++) px[10 + i] = 100 + i;
    px.fill(4095, 90);
    const s = computePixelStats(px, 10, 10, { bitsStored: 12 });
    expect(s.min).toBe(0);
    expect(s.max).toBe(4095);
    expect(s.shareAtMin).toBeCloseTo(0.1);
    expect(s.shareAtMax).toBeCloseTo(0.1);
    expect(s.p01).toBe(0);
    expect(s.p99).toBe(4095);
    expect(s.dynamicRangeUsed).toBeCloseTo(1);
    expect(s.pixelCount).toBe(100);
  });

  it('calls a constant image uniform and gives it no Laplacian energy', () => {
    const s = computePixelStats(new Int16Array(64 * 64).fill(-3), 64, 64, { bitsStored: 16 });
    expect(s.nearUniformShare).toBe(1);
    expect(s.laplacianVariance).toBe(0);
    expect(s.effectiveBits).toBe(0);
  });

  it('handles signed values below zero', () => {
    const px = Int16Array.from({ length: 256 }, (_, i) => i - 200);
    const s = computePixelStats(px, 16, 16, { bitsStored: 16 });
    expect(s.min).toBe(-200);
    expect(s.max).toBe(55);
  });

  it('sees a blurred slice as far less sharp than the same slice unblurred', () => {
    const sharp = ctSlicePixels(3, 8, 128);
    const blurred = boxBlur(sharp, 128, 128, 2);
    const a = computePixelStats(sharp, 128, 128, { bitsStored: 16 });
    const b = computePixelStats(blurred, 128, 128, { bitsStored: 16 });
    expect(b.laplacianVariance).toBeLessThan(a.laplacianVariance * 0.2);
  });

  it('refuses an empty image rather than returning NaNs', () => {
    expect(() => computePixelStats(new Uint8Array(0), 0, 0, { bitsStored: 8 })).toThrow(/no pixels/);
  });
});
