// The quality gate in front of sending a referral (issue 8): a blocker stops the
// send unless the user sends anyway with a reason, which is kept on the outbox
// job (same transaction) and written as an AUDIT line; warnings do not stop it.
import 'fake-indexeddb/auto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import type { LogRecord } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { loadDcmjs } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import type { DcmjsRuntime } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import { createQualityService } from '../../../src/renderer/quality/study-quality';
import { QualityBlockedError, createReferralCases } from '../../../src/renderer/referral-cases/referral-case-repo';
import type { ReferralCases } from '../../../src/renderer/referral-cases/referral-case-repo';
import { entriesFromDirectory } from '../../fixtures/case-import-entries';
import { writeSeriesFiles } from '../../fixtures/quality-dicom';
import type { SeriesFileOptions } from '../../fixtures/quality-dicom';
import { testRowSealer } from '../../support/test-sealer';
import { createOutboxEnqueue } from '../../../src/renderer/outbox/outbox-enqueue';
import { deleteDbsAfterEach } from '../../support/test-dbs';

let dcmjs: DcmjsRuntime;
beforeAll(async () => {
  dcmjs = await loadDcmjs();
});

const dirs: string[] = [];
const dbs = deleteDbsAfterEach();
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Setup {
  db: TeleradDB;
  cases: ReferralCases;
  logs: LogRecord[];
  /** The outbox job as stored when the outbox was woken (the commit is complete by then). */
  jobAtWake: () => Promise<unknown>;
  /** What the send reported to main's audit trail. */
  auditEvents: Record<string, unknown>[];
}

function setup(): Setup {
  const db = new TeleradDB(`quality-gate-referral-${Math.random()}`, { sealer: testRowSealer() });
  dbs.push(db);
  const cache = new StudyCache(db, Date.now);
  const sink = memorySink();
  const log = createLogger('test', sink);
  const quality = createQualityService({ readInstanceBytes: (sop) => cache.readInstanceBytes(sop), listStudyInstances: (uid) => cache.getStudyInstances(uid), log });
  let atWake: Promise<unknown> = Promise.resolve(undefined);
  const auditEvents: Record<string, unknown>[] = [];
  const cases = createReferralCases({
    db,
    cache,
    loadDcmjs: async () => dcmjs,
    enqueueOutboxJob: createOutboxEnqueue(() => {
      atWake = db.outboxJobs.toArray();
    }),
    now: Date.now,
    randomUUID: () => crypto.randomUUID(),
    log,
    quality,
    audit: async (event) => {
      auditEvents.push(event);
    },
  });
  return { db, cases, logs: sink.records, jobAtWake: () => atWake, auditEvents };
}

/** Sets Burned In Annotation (0028,0301) YES in every file of `dir` (dcmjs). */
function markBurnedIn(dir: string): void {
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    const b = readFileSync(file);
    const parsed = dcmjs.data.DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
    const out = new dcmjs.data.DicomDict(parsed.meta);
    out.dict = { ...parsed.dict, '00280301': { vr: 'CS', Value: ['YES'] } };
    writeFileSync(file, new Uint8Array(out.write()));
  }
}

/** A draft case ready to send (question, site, clinician) holding the series written with `o`. */
async function caseWith(s: Setup, o: SeriesFileOptions, opts: { burnedIn?: boolean } = {}): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'telerad-gate-'));
  dirs.push(dir);
  writeSeriesFiles(dir, o);
  if (opts.burnedIn) markBurnedIn(dir);
  const c = await s.cases.createDraft({ referringClinician: 'Dr Nomsa Dube' });
  await s.cases.saveFields(c.id, { clinicalQuestion: 'Mass in the right lower lobe?', siteId: 'hospital-a', urgency: 'urgent' });
  const summary = await s.cases.importDicom(c.id, entriesFromDirectory(dir, 'CD'));
  expect(summary.instanceCount).toBeGreaterThan(0);
  return c.id;
}

const LOSSY_UNCALIBRATED_GAP: SeriesFileOptions = { modality: 'MR', slices: 6, size: 64, skip: [4], uncalibrated: true, encode: 'jpeg-extended' };

const audits = (logs: readonly LogRecord[]): string[] => logs.filter((r) => r.message.startsWith('AUDIT')).map((r) => r.message);

describe('quality gate before sending a referral', () => {
  it('lists the lossy, uncalibrated and missing-slice findings and refuses to send without a reason, writing nothing', async () => {
    const s = setup();
    const id = await caseWith(s, LOSSY_UNCALIBRATED_GAP);
    const findings = (await s.cases.quality(id)) ?? [];
    expect(findings.map((f) => f.checkId)).toEqual(expect.arrayContaining(['suitability.lossy', 'suitability.calibration', 'geometry.missing-slices']));
    expect(findings.find((f) => f.checkId === 'geometry.missing-slices')?.severity).toBe('blocker');

    await expect(s.cases.send(id)).rejects.toBeInstanceOf(QualityBlockedError);
    await expect(s.cases.send(id)).rejects.toThrow(/Missing slices.*Send anyway/);
    await expect(s.cases.send(id, { sendAnyway: { reason: '   ' } })).rejects.toThrow(/reason of at least 10 characters/);
    await expect(s.cases.send(id, { sendAnyway: { reason: 'urgent' } })).rejects.toBeInstanceOf(QualityBlockedError);

    expect(await s.db.outboxJobs.count()).toBe(0);
    expect((await s.cases.get(id))?.state).toBe('draft');
    expect(audits(s.logs)).toEqual([]);
  });

  it('"send anyway" with a reason queues the case with the reason, who and the blockers on the job, and logs an AUDIT line', async () => {
    const s = setup();
    await s.db.userProfile.put({ id: 'me', name: 'Thandi Mokoena', credentials: 'RN' });
    const id = await caseWith(s, LOSSY_UNCALIBRATED_GAP);
    const before = Date.now();
    const reason = 'Patient deteriorating, no CT repeat possible tonight';

    const sent = await s.cases.send(id, { sendAnyway: { reason: `  ${reason} ` } });

    expect(sent.state).toBe('queued');
    const job = await s.db.outboxJobs.get(sent.outboxJobIds[0]!);
    expect(job?.qualityOverride).toMatchObject({ reason, by: 'Thandi Mokoena', findings: ['blocker: Missing slices'] });
    expect(job!.qualityOverride!.at).toBeGreaterThanOrEqual(before);
    // Already on the job when the outbox is woken: written with it, not after.
    const atWake = (await s.jobAtWake()) as { id: string; qualityOverride?: { reason: string } }[];
    expect(atWake.find((j) => j.id === job!.id)?.qualityOverride?.reason).toBe(reason);
    const lines = audits(s.logs);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(job!.id);
    expect(lines[0]).toContain(reason);
    expect(lines[0]).toContain('Thandi Mokoena');
    expect(lines[0]).toContain('Missing slices');
    // And in main's audit trail: the export to the site, with the override and its reason.
    expect(s.auditEvents).toHaveLength(1);
    expect(s.auditEvents[0]).toMatchObject({ action: 'export', siteId: 'hospital-a', outcome: 'success', studyInstanceUID: sent.sentStudyInstanceUID });
    expect(String(s.auditEvents[0]!.reason)).toContain(reason);
    expect(String(s.auditEvents[0]!.reason)).toContain('Missing slices');
  });

  it('sends a case with warnings only (lossy, uncalibrated) without asking for a reason', async () => {
    const s = setup();
    const id = await caseWith(s, { modality: 'MR', slices: 4, size: 64, uncalibrated: true, encode: 'jpeg-extended' });
    const findings = (await s.cases.quality(id)) ?? [];
    expect(findings.map((f) => f.checkId)).toEqual(expect.arrayContaining(['suitability.lossy', 'suitability.calibration']));
    expect(findings.filter((f) => f.severity === 'blocker')).toEqual([]);

    const sent = await s.cases.send(id);

    const job = await s.db.outboxJobs.get(sent.outboxJobIds[0]!);
    expect(job?.state).toBe('queued');
    expect(job?.qualityOverride).toBeUndefined();
    expect(audits(s.logs)).toEqual([]);
  });

  it('burned-in annotation blocks only once the case is marked for de-identification', async () => {
    const s = setup();
    const id = await caseWith(s, { modality: 'MR', slices: 4, size: 64 }, { burnedIn: true });
    expect((await s.cases.quality(id))?.map((f) => f.checkId)).not.toContain('privacy.burned-in');
    await s.cases.saveFields(id, { deidentify: { enabled: true, retainLongitudinalFullDates: false, cleanDescriptors: false } });
    const blockers = ((await s.cases.quality(id)) ?? []).filter((f) => f.severity === 'blocker');
    expect(blockers.map((f) => f.checkId)).toEqual(['privacy.burned-in']);
    await expect(s.cases.send(id)).rejects.toBeInstanceOf(QualityBlockedError);
    expect(await s.db.outboxJobs.count()).toBe(0);
  });

  it('sends a clean series with no findings and no extra step', async () => {
    const s = setup();
    const id = await caseWith(s, { modality: 'MR', slices: 4, size: 64 });
    expect((await s.cases.quality(id))?.filter((f) => f.severity !== 'info')).toEqual([]);
    const sent = await s.cases.send(id);
    expect((await s.db.outboxJobs.get(sent.outboxJobIds[0]!))?.qualityOverride).toBeUndefined();
  });
});
