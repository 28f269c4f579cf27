import { describe, expect, it } from 'vitest';
import { bitDepth, calibration, lossyCompression, matrixSize } from '../../../src/shared/quality/checks/suitability';
import { ctSeriesFacts, JPEG_BASELINE, JPEG_LS_LOSSLESS, xrayFacts } from '../../fixtures/quality';

describe('diagnostic suitability checks', () => {
  it('warns of JPEG baseline with its ratio: not for primary diagnosis', () => {
    const series = ctSeriesFacts({ slices: 3 }).map((f) => ({
      ...f,
      transferSyntaxUID: JPEG_BASELINE,
      lossyImageCompression: '01',
      lossyImageCompressionRatio: [12.2],
      lossyImageCompressionMethod: ['ISO_10918_1'],
    }));
    const [f, ...rest] = lossyCompression.run(series, {});
    expect(rest).toEqual([]);
    expect(f!.severity).toBe('warning');
    expect(f!.message).toMatch(/^Lossy compressed \(JPEG baseline, ratio 12:1\): not for primary diagnosis/);
  });

  it('notices earlier lossy compression in a file now stored lossless, multiplying the ratios', () => {
    const series = ctSeriesFacts({ slices: 2 }).map((f) => ({
      ...f,
      transferSyntaxUID: JPEG_LS_LOSSLESS,
      lossyImageCompression: '01',
      lossyImageCompressionRatio: [4, 2.5],
      lossyImageCompressionMethod: ['ISO_10918_1', 'ISO_15444_1'],
    }));
    expect(lossyCompression.run(series, {})[0]!.message).toContain('(JPEG then JPEG 2000, ratio 10:1)');
  });

  it('does not flag lossless JPEG-LS, or JPEG 2000 whose header says 00', () => {
    const ls = ctSeriesFacts({ slices: 2 }).map((f) => ({ ...f, transferSyntaxUID: JPEG_LS_LOSSLESS }));
    const j2k = ctSeriesFacts({ slices: 2 }).map((f) => ({ ...f, transferSyntaxUID: '1.2.840.10008.1.2.4.91', lossyImageCompression: '00' }));
    expect(lossyCompression.run([...ls, ...j2k], {})).toEqual([]);
  });

  it('warns of a CT under 512 and a radiograph under 2048 on its long side, not of full-size ones', () => {
    const smallCt = ctSeriesFacts({ slices: 2, size: 256 });
    const smallXr = xrayFacts(undefined, { rows: 1024, columns: 800 });
    const findings = matrixSize.run([...smallCt, smallXr], {});
    expect(findings.map((f) => f.message.slice(0, 30))).toEqual(['Matrix 256×256 is below the us', 'Matrix 800×1024 is below the u']);
    expect(matrixSize.run([...ctSeriesFacts({ slices: 2 }), xrayFacts()], {})).toEqual([]);
  });

  it('warns of 8 bits stored on a radiograph but not of 12', () => {
    expect(bitDepth.run([xrayFacts(undefined, { bitsStored: 8, bitsAllocated: 8 })], {})[0]!.message).toMatch(/Only 8 bits stored for DX/);
    expect(bitDepth.run([xrayFacts()], {})).toEqual([]);
  });

  it('warns that measurements are uncalibrated without any pixel spacing; Imager Pixel Spacing is enough', () => {
    const series = ctSeriesFacts({ slices: 3 }).map((f) => ({ ...f, pixelSpacing: undefined }));
    const [f] = calibration.run(series, {});
    expect(f!.message).toMatch(/all 3 images of the CT series: measurements would be in pixels/);
    expect(calibration.run([xrayFacts(), ...ctSeriesFacts({ slices: 2 })], {})).toEqual([]);
  });
});
