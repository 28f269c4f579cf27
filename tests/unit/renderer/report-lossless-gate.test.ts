import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { AnnotationRecord } from '../../../src/renderer/cache/telerad-db';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { buildReportInstances } from '../../../src/renderer/lib/dicom/report-dicom';
import { studyContextFromPart10 } from '../../../src/renderer/lib/dicom/study-context';
import { SignRefusedError, createReportRepo } from '../../../src/renderer/reports/report-repo';
import type { ReportRepo } from '../../../src/renderer/reports/report-repo';
import { createLosslessGate } from '../../../src/renderer/reports/lossless-gate';
import { generateCtSeries } from '../../fixtures/ct-phantom';
import type { GeneratedSeries } from '../../fixtures/ct-phantom';
import { testRowSealer } from '../../support/test-sealer';
import { createOutboxEnqueue } from '../../../src/renderer/outbox/outbox-enqueue';
import { deleteDbsAfterEach } from '../../support/test-dbs';

// Issue 15: a report is signed on lossless images only. A measured slice that is in the cache only
// as its rendered preview is waited for (first in the queue) while its study streams, or the
// signature is refused with the reason.

const dbs = deleteDbsAfterEach();

type Listener = (e: { studyInstanceUID: string; sopInstanceUID: string; kind: 'lossless' | 'preview' }) => void;

/** A cached 3-slice CT whose slice 2 (the measured one) is in the cache only as a preview, and a repo with the gate. */
async function setup(opts: { streaming: boolean; timeoutMs?: number }): Promise<{
  db: TeleradDB;
  cache: StudyCache;
  repo: ReportRepo;
  ct: GeneratedSeries;
  measured: AnnotationRecord;
  prioritized: string[][];
  storeLossless: () => Promise<void>;
}> {
  const db = new TeleradDB(`report-lossless-${Math.random()}`, { sealer: testRowSealer() });
  dbs.push(db);
  const cache = new StudyCache(db, Date.now);
  const ct = generateCtSeries({ patientName: 'DOE^JANE', patientId: 'P-7', slices: 3, rows: 64, columns: 64, studyDescription: 'CT CHEST' });
  await cache.upsertStudy({ studyInstanceUID: ct.studyInstanceUID, siteId: 'a', patientName: 'DOE^JANE', patientId: 'P-7', studyDate: '20261201', modalities: ['CT'], description: 'CT CHEST', numInstances: 3 });
  const put = (k: number): Promise<unknown> =>
    cache.putInstance(
      { sopInstanceUID: ct.instances[k]!.sopInstanceUID, studyInstanceUID: ct.studyInstanceUID, seriesInstanceUID: ct.seriesInstanceUID, transferSyntaxUID: '1.2.840.10008.1.2.1', instanceNumber: k + 1 },
      ct.instances[k]!.bytes.slice().buffer,
    );
  await put(0);
  await put(2);
  const jpeg = new Uint8Array([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9]).buffer;
  await cache.putPreviews([{ sopInstanceUID: ct.instances[1]!.sopInstanceUID, studyInstanceUID: ct.studyInstanceUID, seriesInstanceUID: ct.seriesInstanceUID, bytes: jpeg, width: 32, height: 32 }]);
  const measured: AnnotationRecord = {
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
  await db.annotations.put(measured);
  const listeners = new Set<Listener>();
  const prioritized: string[][] = [];
  const gate = createLosslessGate({
    hasLossless: (sop) => cache.hasInstance(sop),
    hasPreview: (sop) => cache.hasPreview(sop),
    isStreaming: () => opts.streaming,
    prioritize: (_uid, sops) => void prioritized.push([...sops]),
    onStored: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  });
  let t = Date.UTC(2026, 11, 1, 14, 0, 0);
  const repo = createReportRepo({
    db,
    readInstanceBytes: (uid) => cache.readInstanceBytes(uid),
    buildReportInstances,
    studyContextFromPart10,
    enqueueOutboxJob: createOutboxEnqueue(() => undefined),
    now: () => (t += 1000),
    randomUUID: () => crypto.randomUUID(),
    log: createLogger('test', memorySink()),
    losslessGate: gate,
  });
  await repo.saveProfile({ name: 'Ada Lovelace', credentials: 'MD' });
  const storeLossless = async (): Promise<void> => {
    await put(1);
    for (const l of listeners) l({ studyInstanceUID: ct.studyInstanceUID, sopInstanceUID: ct.instances[1]!.sopInstanceUID, kind: 'lossless' });
  };
  return { db, cache, repo, ct, measured, prioritized, storeLossless };
}

async function measuredDraft(repo: ReportRepo, studyUID: string, measured: AnnotationRecord, keyImages: string[] = []): Promise<string> {
  const draft = await repo.createDraft({ studyInstanceUID: studyUID, siteId: 'a', templateId: 'ct' });
  await repo.saveDraft(draft.id, { ...draft.content, sections: { ...draft.content.sections, impression: 'Nodule 5 cm.' }, measurementIds: [measured.id], keyImageSopInstanceUIDs: keyImages }, Date.now() + 10_000);
  return draft.id;
}

describe('signing on lossless images only', () => {
  it('refuses, with the reason, a report whose measured slice was seen only as a preview and is not being retrieved', async () => {
    const { db, repo, ct, measured } = await setup({ streaming: false });
    const id = await measuredDraft(repo, ct.studyInstanceUID, measured);
    const attempt = repo.sign(id);
    await expect(attempt).rejects.toBeInstanceOf(SignRefusedError);
    await expect(attempt).rejects.toThrow(/a Length measurement\) was seen only as a preview.*signed on lossless images only.*Open the study again/);
    expect(await db.reports.count()).toBe(0);
    expect(await db.outboxJobs.count()).toBe(0);
    expect(await db.reportDrafts.get(id)).toBeDefined();
  });

  it('refuses a key image that is only a preview the same way', async () => {
    const { repo, ct, measured, db } = await setup({ streaming: false });
    await db.annotations.delete(measured.id);
    const draft = await repo.createDraft({ studyInstanceUID: ct.studyInstanceUID, siteId: 'a', templateId: 'ct' });
    const sop = ct.instances[1]!.sopInstanceUID;
    await db.keyImages.put({ sopInstanceUID: sop, studyInstanceUID: ct.studyInstanceUID, seriesInstanceUID: ct.seriesInstanceUID, author: 'me', createdAt: 1 });
    await repo.saveDraft(draft.id, { ...draft.content, sections: { ...draft.content.sections, impression: 'See key image.' }, keyImageSopInstanceUIDs: [sop] }, Date.now() + 10_000);
    await expect(repo.sign(draft.id)).rejects.toThrow(/a key image\) was seen only as a preview/);
  });

  it('waits for the measured slice while its study streams, asks for it first, then signs on the lossless file', async () => {
    const { db, repo, ct, measured, prioritized, storeLossless } = await setup({ streaming: true });
    const id = await measuredDraft(repo, ct.studyInstanceUID, measured);
    const notes: string[] = [];
    const signing = repo.sign(id, { onWaiting: (n) => notes.push(n) });
    await expect.poll(() => notes.length).toBeGreaterThan(0);
    expect(notes[0]).toMatch(/Waiting for the lossless image of 1 measured or key slice/);
    expect(prioritized).toEqual([[ct.instances[1]!.sopInstanceUID]]);
    expect(await db.reports.count()).toBe(0);
    await storeLossless();
    const signed = await signing;
    expect(signed.measurements.map((m) => m.sopInstanceUID)).toEqual([ct.instances[1]!.sopInstanceUID]);
    expect(await db.outboxJobs.count()).toBe(1);
    // The lossless file replaced the preview in the cache.
    expect(await db.instancePreviews.count()).toBe(0);
  });

  it('gives up after the wait and says so, keeping the draft', async () => {
    const { db, repo, ct, measured } = await setup({ streaming: true, timeoutMs: 30 });
    const id = await measuredDraft(repo, ct.studyInstanceUID, measured);
    await expect(repo.sign(id)).rejects.toThrow(/waited \d+ s and the lossless files have not arrived/);
    expect(await db.reportDrafts.get(id)).toBeDefined();
  });

  it('signs at once when every named image is lossless', async () => {
    const { repo, ct, measured, prioritized, storeLossless } = await setup({ streaming: false });
    await storeLossless();
    const id = await measuredDraft(repo, ct.studyInstanceUID, measured);
    await expect(repo.sign(id)).resolves.toMatchObject({ studyInstanceUID: ct.studyInstanceUID });
    expect(prioritized).toEqual([]);
  });
});
