import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { loadDcmjs } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import type { DcmjsRuntime } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import { relink, relinkPatient } from '../../../src/renderer/deidentify/deidentify';
import type { DeidentificationMapping } from '../../../src/renderer/deidentify/deidentify';
import { readCaseNote } from '../../../src/renderer/lib/dicom/case-note-reader';
import { dicomParser } from '../../../src/renderer/lib/dicom/dicom-parser';
import { SendRefusedError, createReferralCases } from '../../../src/renderer/referral-cases/referral-case-repo';
import type { ReferralCases } from '../../../src/renderer/referral-cases/referral-case-repo';
import { createMyReferralsStore } from '../../../src/renderer/referral-cases/referral-case-status';
import { cameraJpeg } from '../../fixtures/case-import-attachments';
import { entryFromBytes } from '../../fixtures/case-import-entries';
import { generateCtSeries } from '../../fixtures/ct-phantom';
import { testRowSealer } from '../../support/test-sealer';
import { createOutboxEnqueue } from '../../../src/renderer/outbox/outbox-enqueue';
import { deleteDbsAfterEach } from '../../support/test-dbs';

let dcmjs: DcmjsRuntime;
beforeAll(async () => {
  dcmjs = await loadDcmjs();
});

const dbs = deleteDbsAfterEach();

interface Setup {
  db: TeleradDB;
  cases: ReferralCases;
  wakes: () => number;
  /** What the database held when the outbox was woken (the commit must be complete by then). */
  atWake: () => { jobs: number; queuedCases: number } | undefined;
}

function setup(name = `referral-case-${Math.random()}`): Setup {
  const db = new TeleradDB(name, { sealer: testRowSealer() });
  dbs.push(db);
  const cache = new StudyCache(db, Date.now);
  let wakes = 0;
  let atWake: { jobs: number; queuedCases: number } | undefined;
  let pending: Promise<void> = Promise.resolve();
  const cases = createReferralCases({
    db,
    cache,
    loadDcmjs: async () => dcmjs,
    enqueueOutboxJob: createOutboxEnqueue(() => {
      wakes++;
      pending = (async () => {
        atWake = { jobs: await db.outboxJobs.count(), queuedCases: await db.referralCases.where('state').equals('queued').count() };
      })();
    }),
    now: Date.now,
    randomUUID: () => crypto.randomUUID(),
    log: createLogger('test', memorySink()),
  });
  return { db, cases, wakes: () => wakes, atWake: () => (void pending, atWake) };
}

const ct = (patientName: string, patientId: string, slices = 3): ReturnType<typeof generateCtSeries> =>
  generateCtSeries({ patientName, patientId, patientBirthDate: '19800212', patientSex: 'M', slices, rows: 16, columns: 16, studyDescription: 'CT CHEST', accessionNumber: 'A1' });

const entriesOf = (series: ReturnType<typeof generateCtSeries>, dir: string): ReturnType<typeof entryFromBytes>[] =>
  series.instances.map((i, k) => entryFromBytes(`${dir}/IM${k + 1}`, i.bytes));

function attr(bytes: ArrayBuffer, tag: string): string | undefined {
  return dicomParser.parseDicom(new Uint8Array(bytes), { untilTag: 'x7fe00010' }).string(tag)?.trim();
}

async function readyCase(s: Setup, fill = true): Promise<string> {
  const c = await s.cases.createDraft({ referringClinician: 'Dr Nomsa Dube' });
  if (fill) await s.cases.saveFields(c.id, { clinicalQuestion: 'Mass in the right lower lobe?', siteId: 'hospital-a', urgency: 'urgent' });
  return c.id;
}

describe('referral case send', () => {
  it('commits the case, the outbox job with every instance and the referral note in one transaction before waking the outbox', async () => {
    const s = setup();
    const id = await readyCase(s);
    const series = ct('NDLOVU^SIPHO', 'ZIT-1');
    const imported = await s.cases.importDicom(id, entriesOf(series, 'CD/IMAGES'));
    expect(imported.instanceCount).toBe(3);
    const photo = cameraJpeg();
    expect((await s.cases.addAttachments(id, [{ name: 'lesion.jpg', type: 'image/jpeg', bytes: photo.jpeg }])).added).toBe(1);
    expect(await s.db.outboxJobs.count()).toBe(0);

    const sent = await s.cases.send(id);
    expect(s.wakes()).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(s.atWake()).toEqual({ jobs: 1, queuedCases: 1 });

    expect(sent.state).toBe('queued');
    const job = (await s.db.outboxJobs.get(sent.outboxJobIds[0]!))!;
    expect(job.kind).toBe('referral');
    expect(job.state).toBe('queued');
    expect(job.label).toBe('Referral — NDLOVU^SIPHO · Mass in the right lower lobe?');
    // 3 CT slices + the photo + the referral note, every one pending with its bytes.
    expect(job.instances).toHaveLength(5);
    expect(job.instances.every((i) => i.state === 'pending' && i.bytes.byteLength > 0)).toBe(true);
    for (const i of series.instances) expect(job.instances.map((x) => x.sopInstanceUID)).toContain(i.sopInstanceUID);
    // Everything is filed into one study at the site, the one the case says.
    expect(new Set(job.instances.map((i) => attr(i.bytes, 'x0020000d')))).toEqual(new Set([sent.sentStudyInstanceUID]));
    expect(sent.sentStudyInstanceUID).toBe(series.studyInstanceUID);
    // The photo carries the case's patient.
    const photoInst = job.instances.find((i) => i.sopClassUID === '1.2.840.10008.5.1.4.1.1.77.1.4')!;
    expect(attr(photoInst.bytes, 'x00100010')).toBe('NDLOVU^SIPHO');
    expect(attr(photoInst.bytes, 'x00100020')).toBe('ZIT-1');

    const noteInst = job.instances.find((i) => i.sopClassUID === '1.2.840.10008.5.1.4.1.1.88.11')!;
    const note = readCaseNote(noteInst.bytes)!;
    expect(note.kind).toBe('referral');
    expect(note.referral?.clinicalQuestion).toBe('Mass in the right lower lobe?');
    expect(note.referral?.priority).toBe('urgent');
    expect(note.attachments.map((a) => a.sopInstanceUID)).toEqual([photoInst.sopInstanceUID]);
    const noteRow = await s.db.caseNotes.get(noteInst.sopInstanceUID);
    expect(noteRow).toMatchObject({ kind: 'referral', outboxJobId: job.id, studyInstanceUID: sent.sentStudyInstanceUID, siteId: 'hospital-a' });
    expect(await s.db.deidMappings.count()).toBe(0);
    // Sending twice cannot make a second job.
    await expect(s.cases.send(id)).rejects.toBeInstanceOf(SendRefusedError);
    expect(await s.db.outboxJobs.count()).toBe(1);
  });

  it('refuses to send without a question and writes nothing', async () => {
    const s = setup();
    const id = await readyCase(s, false);
    await s.cases.importDicom(id, entriesOf(ct('DOE^JANE', 'P1', 1), 'F'));
    await expect(s.cases.send(id)).rejects.toThrow(/clinical question/);
    expect(await s.db.outboxJobs.count()).toBe(0);
    expect((await s.db.referralCases.get(id))!.state).toBe('draft');
    expect(s.wakes()).toBe(0);
  });

  it('sends every instance under the chosen identity and leaves the cached originals untouched', async () => {
    const s = setup();
    const id = await readyCase(s);
    const a = ct('NDLOVU^SIPHO', 'ZIT-1', 2);
    const b = ct('NDLOVU^S', 'ZIT-0001', 1);
    await s.cases.importDicom(id, [...entriesOf(a, 'A'), ...entriesOf(b, 'B')]);
    const groups = await s.cases.identities(id);
    expect(groups).toHaveLength(2);
    await expect(s.cases.send(id)).rejects.toThrow(/2 different patients/);

    await s.cases.chooseIdentity(id, groups.find((g) => g.identity.id === 'ZIT-1')!.identity);
    const sent = await s.cases.send(id);
    const job = (await s.db.outboxJobs.get(sent.outboxJobIds[0]!))!;
    expect(job.instances).toHaveLength(4);
    for (const i of job.instances) {
      expect(attr(i.bytes, 'x00100020')).toBe('ZIT-1');
      expect(attr(i.bytes, 'x00100010')).toBe('NDLOVU^SIPHO');
    }
    const original = await s.db.instanceBytes.get(b.instances[0]!.sopInstanceUID);
    expect(attr(original!.bytes, 'x00100020')).toBe('ZIT-0001');
    expect((await s.db.referralCases.get(id))!.identityResolution).toBe('chosen');
  });

  it('splits a case with two patients into one case per patient', async () => {
    const s = setup();
    const id = await readyCase(s);
    const a = ct('NDLOVU^SIPHO', 'ZIT-1', 2);
    const b = ct('MOKOENA^THANDI', 'ZIT-2', 1);
    await s.cases.importDicom(id, [...entriesOf(a, 'A'), ...entriesOf(b, 'B')]);
    const split = await s.cases.splitByIdentity(id);
    expect(split).toHaveLength(2);
    expect(split.map((c) => [c.patient.id, c.sopInstanceUIDs.length])).toEqual([
      ['ZIT-1', 2],
      ['ZIT-2', 1],
    ]);
    expect(await s.cases.problems(split[0]!.id)).toEqual([]);
    expect(await s.cases.problems(split[1]!.id)).toEqual([]);
    expect(split[1]!.localStudyInstanceUID).toBe(b.studyInstanceUID);
  });

  it('gives a photo-only case one new study UID and the typed patient', async () => {
    const s = setup();
    const id = await readyCase(s);
    const created = (await s.cases.get(id))!;
    expect(created.localStudyInstanceUID).toMatch(/^2\.25\.\d+$/);
    const photo = cameraJpeg();
    await s.cases.addAttachments(id, [
      { name: 'a.jpg', type: 'image/jpeg', bytes: photo.jpeg },
      { name: 'b.jpg', type: 'image/jpeg', bytes: photo.jpeg },
    ]);
    await expect(s.cases.send(id)).rejects.toThrow(/Type the patient/);
    await s.cases.saveFields(id, { patient: { name: 'ZULU^THEMBA', id: 'RC-77', birthDate: '19900101', sex: 'M' } });
    const sent = await s.cases.send(id);
    expect(sent.sentStudyInstanceUID).toBe(created.localStudyInstanceUID);
    const job = (await s.db.outboxJobs.get(sent.outboxJobIds[0]!))!;
    expect(job.instances).toHaveLength(3);
    for (const i of job.instances) {
      expect(attr(i.bytes, 'x0020000d')).toBe(created.localStudyInstanceUID);
      expect(attr(i.bytes, 'x00100010')).toBe('ZULU^THEMBA');
      expect(attr(i.bytes, 'x00100030')).toBe('19900101');
    }
  });

  it('de-identifies with one mapping across the case, stores it locally, and re-links the sent UIDs', async () => {
    const s = setup();
    const id = await readyCase(s);
    const series = ct('NDLOVU^SIPHO', 'ZIT-1', 3);
    await s.cases.importDicom(id, entriesOf(series, 'CD'));
    await s.cases.addAttachments(id, [{ name: 'lesion.jpg', type: 'image/jpeg', bytes: cameraJpeg().jpeg }]);
    await s.cases.saveFields(id, { deidentify: { enabled: true, retainLongitudinalFullDates: false, cleanDescriptors: true } });
    const sent = await s.cases.send(id);
    const job = (await s.db.outboxJobs.get(sent.outboxJobIds[0]!))!;
    expect(sent.sentStudyInstanceUID).not.toBe(series.studyInstanceUID);
    const row = (await s.db.deidMappings.get(id))!;
    expect(row.sentStudyInstanceUID).toBe(sent.sentStudyInstanceUID);
    const mapping = row.mapping as unknown as DeidentificationMapping;
    expect(relink(mapping, sent.sentStudyInstanceUID!)).toBe(series.studyInstanceUID);
    const pseudonymId = attr(job.instances[0]!.bytes, 'x00100020')!;
    expect(relinkPatient(mapping, pseudonymId)?.id).toBe('ZIT-1');
    const sentSeries = new Set<string>();
    for (const i of job.instances) {
      // Nothing sent names the patient; every instance is in the one de-identified study, the note too.
      expect(attr(i.bytes, 'x00100010')).not.toContain('NDLOVU');
      expect(attr(i.bytes, 'x00100020')).toBe(pseudonymId);
      expect(attr(i.bytes, 'x0020000d')).toBe(sent.sentStudyInstanceUID);
      if (i.sopClassUID === '1.2.840.10008.5.1.4.1.1.2') sentSeries.add(i.seriesInstanceUID);
    }
    expect([...sentSeries]).toEqual([mapping.uids[series.seriesInstanceUID]]);
    for (const orig of series.instances) expect(job.instances.map((i) => i.sopInstanceUID)).toContain(mapping.uids[orig.sopInstanceUID]);
    const note = readCaseNote(job.instances.find((i) => i.sopClassUID === '1.2.840.10008.5.1.4.1.1.88.11')!.bytes)!;
    const photo = job.instances.find((i) => i.sopClassUID === '1.2.840.10008.5.1.4.1.1.77.1.4')!;
    expect(note.attachments.map((a) => a.sopInstanceUID)).toEqual([photo.sopInstanceUID]);
  });

  it('previews the descriptors de-identification keeps: cleaned with Clean Descriptors, removed without', async () => {
    const s = setup();
    const id = await readyCase(s);
    await s.cases.importDicom(id, entriesOf(ct('NDLOVU^SIPHO', 'ZIT-1', 2), 'CD'));
    const [study] = await s.cases.studies(id);
    expect(study).toMatchObject({ description: 'CT CHEST', series: [{ modality: 'CT', count: 2 }] });
    await s.cases.saveFields(id, { deidentify: { enabled: true, retainLongitudinalFullDates: false, cleanDescriptors: true } });
    const cleaned = await s.cases.previewDeidentification(id);
    expect(cleaned.descriptors).toContainEqual({ name: 'Study Description', before: 'CT CHEST', after: 'CT CHEST' });
    expect(cleaned.pseudonym.id).toMatch(/^ANON-/);
    await s.cases.saveFields(id, { deidentify: { enabled: true, retainLongitudinalFullDates: false, cleanDescriptors: false } });
    const removed = await s.cases.previewDeidentification(id);
    expect(removed.descriptors).toContainEqual({ name: 'Study Description', before: 'CT CHEST', after: '(removed)' });
  });

  it('follows a sent case in "My referrals": queued with n of N stored, received once delivered, then report arrived', async () => {
    const s = setup();
    const id = await readyCase(s);
    await s.cases.importDicom(id, entriesOf(ct('NDLOVU^SIPHO', 'ZIT-1', 2), 'CD'));
    const sent = await s.cases.send(id);
    const jobId = sent.outboxJobIds[0]!;
    let siteHasReport = false;
    const asked: string[] = [];
    const store = createMyReferralsStore({
      cases: s.cases,
      jobs: () => [],
      reportArrived: async (siteId, uid) => {
        asked.push(`${siteId} ${uid}`);
        return siteHasReport;
      },
      log: createLogger('test', memorySink()),
    });
    const jobs = async (): Promise<{ id: string; state: 'queued' | 'sending' | 'sent' | 'failed'; instances: { state: 'pending' | 'stored' | 'failed' }[] }[]> => {
      const j = (await s.db.outboxJobs.get(jobId))!;
      return [{ id: j.id, state: j.state, instances: j.instances }];
    };
    // One instance stored so far (the outbox writes per-instance states as the site answers).
    await s.db.outboxJobs.update(jobId, { instances: (await s.db.outboxJobs.get(jobId))!.instances.map((i, k) => ({ ...i, state: k === 0 ? 'stored' : 'pending' })) });
    const snapshot = await jobs();
    const withJobs = createMyReferralsStore({ cases: s.cases, jobs: () => snapshot, reportArrived: async () => false, log: createLogger('test', memorySink()) });
    await withJobs.refresh();
    expect(withJobs.getState().rows[0]!.progress).toEqual({ state: 'queued', stored: 1, total: 3, jobState: 'queued' });

    await s.db.outboxJobs.update(jobId, { state: 'sent', instances: (await s.db.outboxJobs.get(jobId))!.instances.map((i) => ({ ...i, state: 'stored' as const })) });
    await store.refresh();
    expect((await s.db.referralCases.get(id))!.state).toBe('sent');
    expect(store.getState().rows[0]!.progress).toEqual({ state: 'received' });
    expect(asked).toEqual([`hospital-a ${sent.sentStudyInstanceUID}`]);
    siteHasReport = true;
    await store.refresh();
    expect(store.getState().rows[0]!.progress).toEqual({ state: 'reported' });
  });

  it('keeps a draft and its typed question across a reopen of the database', async () => {
    const name = `referral-draft-${Math.random()}`;
    const s1 = setup(name);
    const id = await readyCase(s1, false);
    await s1.cases.saveFields(id, { clinicalQuestion: 'Cellulitis or abscess?', history: 'Three days of swelling.' });
    s1.db.close();
    const s2 = setup(name);
    const reopened = await s2.cases.list();
    expect(reopened.unreadable).toBe(0);
    expect(reopened.cases).toHaveLength(1);
    expect(reopened.cases[0]).toMatchObject({ id, state: 'draft', clinicalQuestion: 'Cellulitis or abscess?', history: 'Three days of swelling.', referringClinician: 'Dr Nomsa Dube' });
  });
});
