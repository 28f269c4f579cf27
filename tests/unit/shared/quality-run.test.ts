import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { factsFromDataSet, runQualityChecks, summarizeFindings } from '../../../src/shared/quality';
import type { DataSetLike } from '../../../src/shared/quality';
import { generateCtSeries } from '../../fixtures/ct-phantom';
import { ctSeriesFacts, withoutSlices, xrayFacts } from '../../fixtures/quality';

const dicomParser = createRequire(import.meta.url)('dicom-parser') as { parseDicom(bytes: Uint8Array): DataSetLike };

describe('runQualityChecks', () => {
  it('finds nothing wrong with a clean 512×512 CT series and a full-size radiograph', () => {
    const findings = runQualityChecks([...ctSeriesFacts({ slices: 6, withPixels: true }), xrayFacts()]);
    expect(findings).toEqual([]);
    expect(summarizeFindings(findings).worst).toBe('ok');
  });

  it('summarises a case by its worst finding, per series and overall, blockers listed first', () => {
    const gappy = withoutSlices(ctSeriesFacts({ slices: 8 }), 3).map((f) => ({ ...f, pixelSpacing: undefined }));
    const xr = xrayFacts(undefined, { rows: 1000, columns: 800, pixelData: { encapsulated: false, declaredLength: 1000 * 800 * 2, presentLength: 1000 * 800 * 2 } });
    const findings = runQualityChecks([...gappy, xr]);
    expect(findings.map((f) => f.checkId)).toEqual(['geometry.missing-slices', 'suitability.matrix', 'suitability.calibration']);
    const summary = summarizeFindings(findings);
    expect(summary.worst).toBe('blocker');
    expect(summary.counts).toEqual({ blocker: 1, warning: 2, info: 0 });
    expect(summary.bySeries).toEqual({ [gappy[0]!.seriesInstanceUID!]: 'blocker', [xr.seriesInstanceUID!]: 'warning' });
  });
});

describe('factsFromDataSet', () => {
  it('reads the attributes the checks need from a Part 10 CT slice', () => {
    const series = generateCtSeries({ patientName: 'FACTS^TEST', patientId: 'F-1', slices: 2, rows: 64, columns: 64 });
    const ds = dicomParser.parseDicom(series.instances[1]!.bytes);
    const facts = factsFromDataSet(ds, 'ct2.dcm');
    expect(facts).toMatchObject({
      source: 'ct2.dcm',
      sopInstanceUID: series.instances[1]!.sopInstanceUID,
      seriesInstanceUID: series.seriesInstanceUID,
      patientId: 'F-1',
      patientName: 'FACTS^TEST',
      modality: 'CT',
      rows: 64,
      columns: 64,
      bitsStored: 16,
      pixelRepresentation: 1,
      transferSyntaxUID: '1.2.840.10008.1.2.1',
      pixelSpacing: [0.7, 0.7],
      instanceNumber: 2,
      imageOrientationPatient: [1, 0, 0, 0, 1, 0],
      sliceThickness: 5,
      pixelData: { encapsulated: false, declaredLength: 64 * 64 * 2, presentLength: 64 * 64 * 2 },
    });
    expect(facts.imagePositionPatient![2]).toBe(-5);
  });
});
