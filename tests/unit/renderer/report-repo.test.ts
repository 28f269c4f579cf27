import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { AnnotationRecord } from '../../../src/renderer/cache/telerad-db';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { buildReportInstances } from '../../../src/renderer/lib/dicom/report-dicom';
import { isReportSr, readReportSr } from '../../../src/renderer/lib/dicom/report-sr-reader';
import { studyContextFromPart10 } from '../../../src/renderer/lib/dicom/study-context';
import { SignRefusedError, createReportRepo } from '../../../src/renderer/reports/report-repo';
import { uuidToDicomUid } from '../../../src/renderer/lib/dicom/uid';
import type { ReportRepo } from '../../../src/renderer/reports/report-repo';
import { defaultTemplateFor } from '../../../src/renderer/reports/report-templates';
import { generateCtSeries } from '../../fixtures/ct-phantom';
import { testRowSealer } from '../../support/test-sealer';
import { createOutboxEnqueue } from '../../../src/renderer/outbox/outbox-enqueue';
import { deleteDbsAfterEach } from '../../support/test-dbs';

const dbs = deleteDbsAfterEach();

/** A database holding a small cached CT with one length measurement on slice 2, and a repo over it. */
async function setup(): Promise<{ db: TeleradDB; repo: ReportRepo; studyUID: string; length: AnnotationRecord; wakes: () => number }> {
  const db = new TeleradDB(`report-repo-${Math.random()}`, { sealer: testRowSealer() });
  dbs.push(db);
  const cache = new StudyCache(db, Date.now);
  const ct = generateCtSeries({ patientName: 'DOE^JANE', patientId: 'P-7', slices: 3, rows: 64, columns: 64, studyDescription: 'CT CHEST' });
  await cache.upsertStudy({
    studyInstanceUID: ct.studyInstanceUID,
    siteId: 'a',
    patientName: 'DOE^JANE',
    patientId: 'P-7',
    studyDate: '20261201',
    modalities: ['CT'],
    description: 'CT CHEST',
    numInstances: 3,
  });
  for (const i of ct.instances) {
    const bytes = i.bytes.slice().buffer;
    await cache.putInstance({ sopInstanceUID: i.sopInstanceUID, studyInstanceUID: ct.studyInstanceUID, seriesInstanceUID: ct.seriesInstanceUID, transferSyntaxUID: '1.2.840.10008.1.2.1', instanceNumber: i.instanceNumber }, bytes);
  }
  const length: AnnotationRecord = {
    id: '3f1c2b9e-5a4d-4e8f-9b7c-1d2e3f4a5b6c',
    studyInstanceUID: ct.studyInstanceUID,
    seriesInstanceUID: ct.seriesInstanceUID,
    sopInstanceUID: ct.instances[1]!.sopInstanceUID,
    tool: 'Length',
    data: { handles: { start: { x: 10, y: 20 }, end: { x: 40, y: 60 } } },
    author: 'me',
    createdAt: 1,
    updatedAt: 1,
  };
  await db.annotations.put(length);
  let woken = 0;
  let t = Date.UTC(2026, 11, 1, 14, 0, 0);
  const repo = createReportRepo({
    db,
    readInstanceBytes: (uid) => cache.readInstanceBytes(uid),
    buildReportInstances,
    studyContextFromPart10,
    enqueueOutboxJob: createOutboxEnqueue(() => void woken++),
    now: () => (t += 1000),
    randomUUID: () => crypto.randomUUID(),
    log: createLogger('test', memorySink()),
  });
  return { db, repo, studyUID: ct.studyInstanceUID, length, wakes: () => woken };
}

describe('signing a report', () => {
  it('refuses to sign until the profile has a name and credentials, and keeps the draft', async () => {
    const { db, repo, studyUID } = await setup();
    const draft = await repo.createDraft({ studyInstanceUID: studyUID, siteId: 'a', templateId: 'ct' });
    await repo.saveDraft(draft.id, { ...draft.content, sections: { ...draft.content.sections, impression: 'No acute finding.' } }, Date.now() + 10_000);
    await expect(repo.sign(draft.id)).rejects.toThrow(/name and credentials/);
    await repo.saveProfile({ name: 'Ada Lovelace', credentials: '' });
    await expect(repo.sign(draft.id)).rejects.toBeInstanceOf(SignRefusedError);
    expect(await db.reportDrafts.get(draft.id)).toBeDefined();
    expect(await db.reports.count()).toBe(0);
    expect(await db.outboxJobs.count()).toBe(0);
  });

  it('writes the report and its queued outbox job and removes the draft together; the job carries the UIDs stored on the report', async () => {
    const { db, repo, studyUID, length, wakes } = await setup();
    await repo.saveProfile({ name: 'Ada Lovelace', credentials: 'MD, FRCR' });
    const draft = await repo.createDraft({ studyInstanceUID: studyUID, siteId: 'a', templateId: 'ct' });
    const content = {
      ...draft.content,
      sections: { findings: 'Nodule in the right upper lobe.', impression: 'Indeterminate nodule.', recommendation: 'CT in 3 months.' },
      priority: 'urgent' as const,
      measurementIds: [length.id],
    };
    expect(await repo.saveDraft(draft.id, content, Date.now() + 10_000)).toBe('saved');

    const report = await repo.sign(draft.id);

    expect(await db.reportDrafts.get(draft.id)).toBeUndefined();
    const stored = await db.reports.get(report.id);
    expect(stored?.author).toEqual({ name: 'Ada Lovelace', credentials: 'MD, FRCR' });
    expect(stored?.measurements.map((m) => m.id)).toEqual([length.id]);
    const job = await db.outboxJobs.get(stored!.outboxJobId);
    expect(job).toMatchObject({ kind: 'report', reportId: report.id, state: 'queued', attempts: 0, uncertain: false, studyInstanceUID: studyUID, siteId: 'a' });
    expect(job!.label).toBe('Report — CT CHEST · DOE^JANE');
    expect(job!.instances.map((i) => [i.sopInstanceUID, i.seriesInstanceUID, i.state])).toEqual([
      [stored!.srSopInstanceUID, stored!.srSeriesInstanceUID, 'pending'],
      [stored!.pdfSopInstanceUID, stored!.pdfSeriesInstanceUID, 'pending'],
    ]);
    expect(stored!.srSopInstanceUID).toMatch(/^2\.25\.\d+$/);
    // The SR in the job is the report as signed: its text and its measurement read back from the bytes.
    const sr = job!.instances[0]!.bytes;
    expect(isReportSr(sr)).toBe(true);
    const read = readReportSr(sr);
    expect(read.sopInstanceUID).toBe(stored!.srSopInstanceUID);
    expect(read.sections.map((s) => s.text)).toContain('Indeterminate nodule.');
    expect(read.measurements).toHaveLength(1);
    expect(read.measurements[0]!.image.sopInstanceUID).toBe(length.sopInstanceUID);
    expect(wakes()).toBe(1);
    // Signing the same draft again makes no second report.
    await expect(repo.sign(draft.id)).rejects.toBeInstanceOf(SignRefusedError);
    expect(await db.reports.count()).toBe(1);
    expect(await db.outboxJobs.count()).toBe(1);
  });

  it('writes nothing when the transaction fails half-way (the job cannot be added): the draft stays', async () => {
    const { db, repo, studyUID } = await setup();
    await repo.saveProfile({ name: 'Ada Lovelace', credentials: 'MD' });
    const draft = await repo.createDraft({ studyInstanceUID: studyUID, siteId: 'a', templateId: 'generic' });
    await repo.saveDraft(draft.id, { ...draft.content, sections: { ...draft.content.sections, findings: 'Normal.' } }, Date.now() + 10_000);
    // A hook that makes the outbox write fail inside the sign transaction.
    const fail = (): never => {
      throw new Error('disk full');
    };
    db.outboxJobs.hook('creating', fail);
    await expect(repo.sign(draft.id)).rejects.toThrow(/disk full/);
    db.outboxJobs.hook('creating').unsubscribe(fail);
    expect(await db.reports.count()).toBe(0);
    expect(await db.reportDrafts.get(draft.id)).toBeDefined();
  });

  it('an addendum references the signed report and its SR names the earlier SR as predecessor', async () => {
    const { db, repo, studyUID } = await setup();
    await repo.saveProfile({ name: 'Ada Lovelace', credentials: 'MD' });
    const first = await repo.createDraft({ studyInstanceUID: studyUID, siteId: 'a', templateId: 'ct' });
    await repo.saveDraft(first.id, { ...first.content, sections: { ...first.content.sections, impression: 'No nodule.' } }, Date.now() + 10_000);
    const original = await repo.sign(first.id);

    const addendum = await repo.startCorrection(original.id, 'addendum');
    expect(addendum).toMatchObject({ kind: 'addendum', predecessorReportId: original.id, studyInstanceUID: studyUID });
    expect(addendum.content.sections['impression']).toBe('');
    await repo.saveDraft(addendum.id, { ...addendum.content, sections: { ...addendum.content.sections, impression: 'A 4 mm nodule was overlooked.' } }, Date.now() + 20_000);
    const signed = await repo.sign(addendum.id);

    expect(signed.predecessorReportId).toBe(original.id);
    const job = await db.outboxJobs.get(signed.outboxJobId);
    expect(job!.label).toMatch(/^Addendum — /);
    const read = readReportSr(job!.instances[0]!.bytes);
    expect(read.predecessorSopInstanceUID).toBe(original.srSopInstanceUID);
    // The original is untouched.
    expect((await db.reports.get(original.id))!.content.sections['impression']).toBe('No nodule.');
  });

  it('an amendment starts from the original text', async () => {
    const { repo, studyUID } = await setup();
    await repo.saveProfile({ name: 'Ada Lovelace', credentials: 'MD' });
    const first = await repo.createDraft({ studyInstanceUID: studyUID, siteId: 'a', templateId: 'ct' });
    await repo.saveDraft(first.id, { ...first.content, sections: { ...first.content.sections, impression: 'Left lower lobe pneumonia.' } }, Date.now() + 10_000);
    const original = await repo.sign(first.id);
    const amendment = await repo.startCorrection(original.id, 'amendment');
    expect(amendment.content.sections['impression']).toBe('Left lower lobe pneumonia.');
    expect(amendment.kind).toBe('amendment');
  });

  it('makes 2.25 UIDs from UUIDs', () => {
    expect(uuidToDicomUid('00000000-0000-0000-0000-00000000000a')).toBe('2.25.10');
    expect(uuidToDicomUid('ffffffff-ffff-ffff-ffff-ffffffffffff')).toBe(`2.25.${(2n ** 128n - 1n).toString()}`);
  });

  it('a consult note quotes the referral question read-only and is the default when the referral asks one', async () => {
    const { repo, studyUID } = await setup();
    expect(defaultTemplateFor(['CT'], 'Pulmonary embolism?').id).toBe('consult');
    expect(defaultTemplateFor(['CT'], undefined).id).toBe('ct');
    expect(defaultTemplateFor(['CR'], '  ').id).toBe('xray');
    expect(defaultTemplateFor(['US'], undefined).id).toBe('generic');
    const draft = await repo.createDraft({ studyInstanceUID: studyUID, siteId: 'a', templateId: 'consult', clinicalQuestion: 'Pulmonary embolism?' });
    expect(draft.content.sections).toEqual({ question: 'Pulmonary embolism?', answer: '', recommendation: '' });
    // The quoted question alone is not a report: signing needs the consultant's own words.
    await repo.saveProfile({ name: 'Ada Lovelace', credentials: 'MD' });
    await expect(repo.sign(draft.id)).rejects.toThrow(/empty/);
  });
});

