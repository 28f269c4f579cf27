// @vitest-environment node
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import { createLogger, memorySink } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { buildCaseNote } from '../../../src/renderer/lib/dicom/case-note-dicom';
import { createReferralLookup } from '../../../src/renderer/referral/referral-reader';
import { deriveCaseStatus } from '../../../src/renderer/worklist/worklist-row';
import { generateReferralNote, generateReportSr } from '../../fixtures/referral-packet';
import { fakeSite } from '../../support/fake-sr-site';
import type { SiteObject } from '../../support/fake-sr-site';
import { testRowSealer } from '../../support/test-sealer';

const STUDY = { studyInstanceUID: '1.2.826.0.1.3680043.8.498.5150', patientName: 'DLAMINI^NOMSA', patientId: 'CASE-9' };
const SITE: SiteSummary = { id: 'clinic', name: 'Clinic', url: 'http://pacs.invalid', authType: 'none', gatewayPath: '/sites/clinic/dicom-web' };
const log = createLogger('test', memorySink());

async function consult(status: 'more-info-needed' | 'final', n: number): Promise<SiteObject> {
  const base = {
    study: STUDY,
    sopInstanceUID: `${STUDY.studyInstanceUID}.901.${n}`,
    seriesInstanceUID: `${STUDY.studyInstanceUID}.901`,
    author: { name: 'Amara Nwosu', credentials: 'FCRad' },
    // After the referral note, which the fixture writes "now".
    writtenAt: Date.now() + n * 60_000,
    instanceNumber: n,
  };
  return buildCaseNote(status === 'final' ? { ...base, kind: 'consult', status } : { ...base, kind: 'consult', status, question: 'Lateral view?' });
}

describe('case status from the thread', () => {
  it('does not take a consult note asking for more for a report, and flags the case for the referrer', async () => {
    const referral = generateReferralNote({ ...STUDY, priority: 'urgent', clinicalQuestion: 'Fracture?' });
    const question = await consult('more-info-needed', 1);
    const lookup = createReferralLookup({ db: new TeleradDB(`status-${Math.random()}`, { sealer: testRowSealer() }), dicomweb: () => fakeSite([referral, question]), log });
    const rec = await lookup(SITE, STUDY.studyInstanceUID);
    expect(rec).toMatchObject({ noteSopInstanceUID: referral.sopInstanceUID, hasReport: false, moreInformationRequested: true });
    expect(deriveCaseStatus(rec, undefined)).toBe('more-info');
  });

  it('clears the flag once a report follows the question, and counts the report', async () => {
    const referral = generateReferralNote({ ...STUDY, clinicalQuestion: 'Fracture?' });
    const question = await consult('more-info-needed', 1);
    // The report is written after the question (the fixture writes "now"; the question is a minute ahead, so shift it back).
    const earlyQuestion = await buildCaseNote({
      kind: 'consult',
      status: 'more-info-needed',
      question: 'Lateral view?',
      study: STUDY,
      sopInstanceUID: question.sopInstanceUID,
      seriesInstanceUID: question.seriesInstanceUID,
      author: { name: 'Amara Nwosu' },
      writtenAt: Date.now() - 60_000,
    });
    const report = generateReportSr(STUDY);
    const rec = await createReferralLookup({ db: new TeleradDB(`status-${Math.random()}`, { sealer: testRowSealer() }), dicomweb: () => fakeSite([referral, earlyQuestion, report]), log })(SITE, STUDY.studyInstanceUID);
    expect(rec).toMatchObject({ hasReport: true });
    expect(rec?.moreInformationRequested).toBeUndefined();
    expect(deriveCaseStatus(rec, undefined)).toBe('reported');
  });

  it('a final consult note is not a report either', async () => {
    const referral = generateReferralNote({ ...STUDY, clinicalQuestion: 'Fracture?' });
    const final = await consult('final', 2);
    const rec = await createReferralLookup({ db: new TeleradDB(`status-${Math.random()}`, { sealer: testRowSealer() }), dicomweb: () => fakeSite([referral, final]), log })(SITE, STUDY.studyInstanceUID);
    expect(rec).toMatchObject({ hasReport: false });
    expect(rec?.moreInformationRequested).toBeUndefined();
    expect(deriveCaseStatus(rec, undefined)).toBe('awaiting-report');
  });
});
