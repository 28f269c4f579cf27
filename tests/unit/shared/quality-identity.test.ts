import { describe, expect, it } from 'vitest';
import { duplicateSop, missingUids, referralIdentity, studyIdentity } from '../../../src/shared/quality/checks/identity';
import { ctSeriesFacts, PATIENT } from '../../fixtures/quality';

describe('identity checks', () => {
  it('blocks a study whose images name two patients and points at the odd one', () => {
    const series = ctSeriesFacts({ slices: 5 });
    series[3]!.patientId = 'QC-999';
    const findings = studyIdentity.run(series, {});
    expect(findings).toHaveLength(1);
    expect(findings[0]!.severity).toBe('blocker');
    expect(findings[0]!.message).toContain('"QC-001" (4 images) vs "QC-999" (1 image)');
    expect(findings[0]!.evidence.instances.map((e) => e.instanceNumber)).toEqual([4]);
  });

  it('treats case, padding and trailing carets as the same name, and an empty sex as no answer', () => {
    const series = ctSeriesFacts({ slices: 3 });
    series[1]!.patientName = 'quality^test^^';
    series[2]!.patientSex = '';
    expect(studyIdentity.run(series, {})).toEqual([]);
  });

  it('blocks images whose birth date differs from the referral note', () => {
    const series = ctSeriesFacts({ slices: 3 });
    const findings = referralIdentity.run(series, { referral: { ...PATIENT, patientBirthDate: '1971-01-01' } });
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toMatch(/birth date "1971-01-01", 3 images say "19700101"/);
    expect(referralIdentity.run(series, { referral: { ...PATIENT, patientBirthDate: '1970-01-01' } })).toEqual([]);
    expect(referralIdentity.run(series, {})).toEqual([]);
  });

  it('blocks images without a Series or SOP Instance UID', () => {
    const series = ctSeriesFacts({ slices: 3 });
    delete series[0]!.seriesInstanceUID;
    delete series[2]!.sopInstanceUID;
    const [f] = missingUids.run(series, {});
    expect(f!.severity).toBe('blocker');
    expect(f!.evidence.instances.map((e) => e.value)).toEqual(['Series Instance UID', 'SOP Instance UID']);
    expect(missingUids.run(ctSeriesFacts({ slices: 3 }), {})).toEqual([]);
  });

  it('blocks one SOP Instance UID carried by two different images, not by two copies of one', () => {
    const series = ctSeriesFacts({ slices: 3 });
    const copy = { ...series[0]!, source: 'copy/ct-0001.dcm' };
    expect(duplicateSop.run([...series, copy], {})).toEqual([]);
    const impostor = { ...series[0]!, source: 'other/ct-0001.dcm', contentHash: 'different' };
    const [f] = duplicateSop.run([...series, impostor], {});
    expect(f!.severity).toBe('blocker');
    expect(f!.message).toContain('other/ct-0001.dcm');
  });
});
