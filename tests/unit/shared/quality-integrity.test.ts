import { describe, expect, it } from 'vitest';
import { pixelLength, unreadableFile, unsupportedSyntax } from '../../../src/shared/quality/checks/integrity';
import { ctSeriesFacts } from '../../fixtures/quality';

describe('integrity checks', () => {
  it('blocks a truncated file and only notes a non-DICOM one', () => {
    const findings = unreadableFile.run(
      [
        { source: 'IMG1', unreadable: { kind: 'truncated', reason: 'Pixel Data declares 524288 bytes, 1000 present' } },
        { source: 'README.TXT', unreadable: { kind: 'not-dicom', reason: 'not a DICOM file' } },
      ],
      {},
    );
    expect(findings.map((f) => [f.severity, f.evidence.instances[0]!.source])).toEqual([
      ['blocker', 'IMG1'],
      ['info', 'README.TXT'],
    ]);
    expect(findings[0]!.message).toMatch(/Truncated file: IMG1/);
  });

  it('says nothing about readable files', () => {
    expect(unreadableFile.run(ctSeriesFacts({ slices: 3 }), {})).toEqual([]);
  });

  it('blocks native pixel data shorter than rows × columns × bits and names the image', () => {
    const series = ctSeriesFacts({ slices: 4 });
    series[2]!.pixelData = { encapsulated: false, declaredLength: 512 * 512, presentLength: 512 * 512 };
    const [f, ...rest] = pixelLength.run(series, {});
    expect(rest).toEqual([]);
    expect(f!.severity).toBe('blocker');
    expect(f!.evidence.instances.map((e) => e.instanceNumber)).toEqual([3]);
    expect(f!.message).toContain('262144 bytes, 524288 expected');
  });

  it('blocks pixel data the file cut short, and accepts one pad byte and compressed data', () => {
    const series = ctSeriesFacts({ slices: 3 });
    series[0]!.pixelData = { encapsulated: false, declaredLength: 524288, presentLength: 4000 };
    series[1]!.pixelData = { encapsulated: false, declaredLength: 524289, presentLength: 524289 };
    series[2]!.pixelData = { encapsulated: true, presentLength: 120000 };
    const [f] = pixelLength.run(series, {});
    expect(f!.evidence.instances.map((e) => e.instanceNumber)).toEqual([1]);
    expect(pixelLength.run(ctSeriesFacts({ slices: 3 }), {})).toEqual([]);
  });

  it('blocks a transfer syntax the viewer cannot decode, not the ones it can', () => {
    const series = ctSeriesFacts({ slices: 2 });
    series[0]!.transferSyntaxUID = '1.2.840.10008.1.2.4.102';
    const [f] = unsupportedSyntax.run(series, {});
    expect(f!.severity).toBe('blocker');
    expect(f!.message).toMatch(/MPEG-4/);
    series[0]!.transferSyntaxUID = '1.2.840.10008.1.2.4.80';
    expect(unsupportedSyntax.run(series, {})).toEqual([]);
  });
});
