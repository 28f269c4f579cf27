import 'fake-indexeddb/auto';
import Dexie from 'dexie';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditRecordRequest } from '../../../src/shared/ipc/contract';
import { createLogger } from '../../../src/shared/log';
import type { LogSink } from '../../../src/shared/log';
import { SEALING_POLICY, TELERAD_DB_SCHEMA_V9, TELERAD_DB_SCHEMA_V10, TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { DeidMappingRecord, ReferralCaseRecord, ReportDraftRecord } from '../../../src/renderer/cache/telerad-db';
import { SealedRowError, boundAad } from '../../../src/renderer/cache/sealing/row-sealer';
import { SEALED_FIELD, createSealingMiddleware } from '../../../src/renderer/cache/sealing/sealing-middleware';
import { sealExistingRows } from '../../../src/renderer/cache/sealing/seal-existing-rows';
import { createOutbox } from '../../../src/renderer/outbox/outbox-scheduler';
import type { Outbox } from '../../../src/renderer/outbox/outbox-scheduler';
import type { OutboxTransport } from '../../../src/renderer/outbox/stow-client';
import { createAuditReporter, integrityAuditRecord } from '../../../src/renderer/audit/audit-store';
import { putCase, recordSentCase } from '../../../src/renderer/referral-cases/referral-case-rows';
import { FakeClock, FakeNetwork, FakeSite, reportJob, until } from '../../support/outbox-jobs';
import { randomVaultKeys, testRowSealer } from '../../support/test-sealer';

// Issue 18, point 5: on-disk integrity of the sealed Dexie rows. Each test edits IndexedDB the way an
// attacker on the same machine would — under the sealing layer — and checks the app refuses the row.

let names: string[] = [];
const running: Outbox[] = [];
afterEach(async () => {
  for (const o of running.splice(0)) o.stop();
  for (const n of names) await Dexie.delete(n);
  names = [];
});
const dbName = (): string => {
  const n = `integrity-${Math.random()}`;
  names.push(n);
  return n;
};
const quiet = createLogger('test', () => undefined);

/** The database as IndexedDB holds it, without the sealing layer (the attacker's view). */
async function raw<T>(name: string, work: (db: Dexie) => Promise<T>): Promise<T> {
  const db = new Dexie(name);
  db.version(10).stores(TELERAD_DB_SCHEMA_V10);
  try {
    return await work(db);
  } finally {
    db.close();
  }
}

/** A sealed database as the app has it after the first unlock (the store sealed). */
async function sealedDb(name: string, sealer = testRowSealer()): Promise<TeleradDB> {
  const db = new TeleradDB(name, { sealer });
  await sealExistingRows(db, { log: quiet, now: () => 1 });
  return db;
}

const draft = (text: string, updatedAt: number): ReportDraftRecord => ({
  id: 'draft-1',
  studyInstanceUID: '1.2.3',
  siteId: 'hospital-a',
  kind: 'report',
  content: { templateId: 'ct', sections: { findings: text }, priority: 'routine', measurementIds: [], keyImageSopInstanceUIDs: [] },
  createdAt: 1,
  updatedAt,
});

describe('outbox job edited on disk', () => {
  it('editing outboxJobs.siteId on disk makes the job fail closed with an audit event', async () => {
    const name = dbName();
    const sealer = testRowSealer();
    const clock = new FakeClock();
    const job = reportJob(clock.now(), { siteId: 'hospital-a', nextAttemptAt: clock.now() + 60_000 });
    const first = await sealedDb(name, sealer);
    await first.outboxJobs.put(job);
    first.close();

    // The attacker points the queued report at their own site (a clear, indexed-for-queries field).
    await raw(name, async (db) => {
      const row = (await db.table('outboxJobs').get(job.id)) as Record<string, unknown>;
      expect(row.siteId).toBe('hospital-a');
      await db.table('outboxJobs').put({ ...row, siteId: 'attacker', nextAttemptAt: 0 });
    });

    // The app after a reload: the real scheduler, delivery and repo; a site double recording every request.
    const db = new TeleradDB(name, { sealer });
    const site = new FakeSite();
    const requests: string[] = [];
    const transport: OutboxTransport = {
      stow: (siteId, instances) => {
        requests.push(`stow ${siteId}`);
        return site.stow(siteId, instances);
      },
      findStored: (siteId, study, uids) => {
        requests.push(`find ${siteId}`);
        return site.findStored(siteId, study, uids);
      },
    };
    const logged: string[] = [];
    const sink: LogSink = (entry) => void logged.push(`${entry.level} ${entry.message}`);
    const audited: AuditRecordRequest[] = [];
    const auditClient = {
      audit: {
        record: async (r: AuditRecordRequest) => {
          audited.push(r);
          return { seq: audited.length };
        },
      },
    } as unknown as Parameters<typeof createAuditReporter>[0];
    const auditReport = createAuditReporter(auditClient, () => 'Dr Test', quiet);
    const outbox = createOutbox({ db, transport, clock, random: () => 0.5, log: createLogger('outbox', sink), network: new FakeNetwork() });
    running.push(outbox);
    // As app/wiring/outbox.ts wires it.
    outbox.onIntegrityFailure((r) => void auditReport(integrityAuditRecord(r)));
    await outbox.start();
    clock.advance(120_000);
    outbox.wake();

    await until(() => outbox.getState().jobs.some((j) => j.id === job.id && j.refused === true), 'panel shows the job refused');
    await until(() => audited.length > 0, 'audit event recorded');
    const view = outbox.getState().jobs.find((j) => j.id === job.id)!;
    expect(view).toMatchObject({ state: 'failed', lastError: 'This report was changed outside the app and was not sent' });
    expect(outbox.getState().unsent).toBe(1);
    expect(audited).toEqual([expect.objectContaining({ action: 'integrity.failed', outcome: 'failure', actor: 'Dr Test' })]);
    expect(audited[0]!.reason).toMatch(new RegExp(`${job.id}.*attacker as found on disk.*not sent`));
    expect(logged.some((l) => l.startsWith('error') && l.includes(job.id) && /changed outside the app/.test(l))).toBe(true);

    // More passes: still nothing sent, the event not repeated.
    clock.advance(600_000);
    outbox.wake();
    await new Promise((r) => setTimeout(r, 50));
    expect(requests).toEqual([]);
    expect(site.storeCount.size).toBe(0);
    expect(audited).toHaveLength(1);
    outbox.stop();
    db.close();

    // Nothing is lost: the refused row is still on disk as it was found.
    const kept = await raw(name, (r) => r.table('outboxJobs').get(job.id) as Promise<Record<string, unknown>>);
    expect(kept).toMatchObject({ id: job.id, siteId: 'attacker', state: 'queued' });
    expect(kept[SEALED_FIELD]).toBeDefined();
  });

  it('refuses a job whose state, due time or key id was changed on disk, and one moved under another key', async () => {
    const name = dbName();
    const sealer = testRowSealer();
    const db = await sealedDb(name, sealer);
    for (const id of ['j-state', 'j-due', 'j-key']) await db.outboxJobs.put(reportJob(5, { id, state: 'sent', nextAttemptAt: 99 }));
    db.close();
    await raw(name, async (r) => {
      const t = r.table('outboxJobs');
      await t.update('j-state', { state: 'queued' });
      await t.update('j-due', { nextAttemptAt: 0 });
      const row = (await t.get('j-key')) as Record<string, unknown>;
      await t.put({ ...row, id: 'j-moved' });
    });
    const again = new TeleradDB(name, { sealer });
    for (const id of ['j-state', 'j-due', 'j-moved']) await expect(again.outboxJobs.get(id)).rejects.toThrow(SealedRowError);
    expect((await again.outboxJobs.get('j-key'))?.state).toBe('sent');
    again.close();
  });
});

describe('old sealed copies', () => {
  it('an old sealed copy of a row is refused', async () => {
    const name = dbName();
    const sealer = testRowSealer();
    const db = await sealedDb(name, sealer);
    await db.reportDrafts.put(draft('No nodule.', 2));
    const old = await raw(name, (r) => r.table('reportDrafts').get('draft-1') as Promise<Record<string, unknown>>);
    await db.reportDrafts.put(draft('8 mm nodule right upper lobe: follow-up CT in 3 months.', 3));
    db.close();

    // Put the earlier sealed copy back in place of the newer one: it authenticates, but is not current.
    await raw(name, (r) => r.table('reportDrafts').put(old));
    const again = new TeleradDB(name, { sealer });
    const err = await again.reportDrafts.get('draft-1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SealedRowError);
    expect((err as SealedRowError).reason).toBe('replayed');
    again.close();
  });

  it('refuses an old copy put back together with the old copy of its table manifest, and a deleted row put back', async () => {
    const name = dbName();
    const sealer = testRowSealer();
    const db = await sealedDb(name, sealer);
    await db.outboxJobs.put(reportJob(1, { id: 'job-a', state: 'queued' }));
    const [oldRow, oldManifest] = await raw(name, (r) => Promise.all([r.table('outboxJobs').get('job-a'), r.table('rowVersions').get('outboxJobs')]));
    await db.outboxJobs.update('job-a', { state: 'sent', sentAt: 2 });
    await db.outboxJobs.put(reportJob(1, { id: 'job-b' }));
    const deleted = await raw(name, (r) => r.table('outboxJobs').get('job-b'));
    await db.outboxJobs.delete('job-b');
    db.close();

    await raw(name, async (r) => {
      await r.table('outboxJobs').put(oldRow);
      await r.table('rowVersions').put(oldManifest);
      await r.table('outboxJobs').put(deleted);
    });
    const again = new TeleradDB(name, { sealer });
    await expect(again.outboxJobs.get('job-a')).rejects.toThrow(/older copy/);
    await raw(name, async (r) => {
      // Even with the current manifest back, the deleted row is not one the registry knows.
      await r.table('rowVersions').delete('outboxJobs');
    });
    await expect(again.outboxJobs.get('job-b')).rejects.toThrow(SealedRowError);
    again.close();
  });
});

describe('rows without an envelope', () => {
  it('a clear row in a sealed table is refused', async () => {
    const name = dbName();
    const sealer = testRowSealer();
    const db = await sealedDb(name, sealer);
    await db.reportDrafts.put(draft('Real text.', 2));
    db.close();

    await raw(name, async (r) => {
      await r.table('outboxJobs').put(reportJob(1, { id: 'planted', siteId: 'attacker' }));
      await r.table('reportDrafts').put(draft('Planted text.', 9));
      await r.table('studies').put({ studyInstanceUID: '6.6', siteId: 'x', patientName: 'PLANTED', patientId: '1', studyDate: '', modalities: [], description: '', numInstances: 0, complete: true, storedAt: 1 });
    });
    const again = new TeleradDB(name, { sealer });
    for (const read of [() => again.outboxJobs.get('planted'), () => again.reportDrafts.get('draft-1'), () => again.studies.get('6.6'), () => again.studies.toArray()]) {
      const err = await read().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SealedRowError);
      expect((err as SealedRowError).reason).toBe('unsealed');
    }
    again.close();
  });
});

describe('the sealed state at open', () => {
  it('stays strict when the sealing marker and the registry head are deleted: a clear outbox job planted then is refused', async () => {
    const name = dbName();
    const sealer = testRowSealer();
    const db = await sealedDb(name, sealer);
    await db.outboxJobs.put(reportJob(1, { id: 'job-real' }));
    db.close();

    await raw(name, async (r) => {
      await r.table('sealing').delete('rows');
      await r.table('rowVersions').delete('$head');
      await r.table('outboxJobs').put(reportJob(1, { id: 'planted', siteId: 'attacker' }));
    });
    const again = new TeleradDB(name, { sealer });
    await again.open();
    expect(again.sealingState?.strict).toBe(true);
    const err = await again.outboxJobs.get('planted').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SealedRowError);
    expect((err as SealedRowError).reason).toBe('unsealed');
    again.close();
  });

  it('a pass stopped part way (registry rows, head not sealed) does not make the store strict: rows not yet rewritten stay readable', async () => {
    const name = dbName();
    const sealer = testRowSealer();
    const v9 = new Dexie(name);
    v9.version(9).stores(TELERAD_DB_SCHEMA_V9);
    v9.use(createSealingMiddleware(SEALING_POLICY, sealer));
    await v9.table('reportDrafts').put(draft('Written under v9.', 2));
    await v9.table('sealing').put({ id: 'rows', keyId: sealer.keyId, sealedAt: 1, rows: 0 });
    v9.close();
    // At v10, before the pass has finished: a versioned row written (the registry has a manifest and a head).
    const first = new TeleradDB(name, { sealer });
    await first.outboxJobs.put(reportJob(1, { id: 'job-10' }));
    expect(first.sealingState?.strict).toBe(false);
    first.close();
    expect(await raw(name, (r) => r.table('rowVersions').count())).toBeGreaterThan(0);

    const again = new TeleradDB(name, { sealer });
    await again.open();
    expect(again.sealingState?.strict).toBe(false);
    expect((await again.reportDrafts.get('draft-1'))?.content.sections.findings).toBe('Written under v9.');
    expect(await sealExistingRows(again, { log: quiet, now: () => 5 })).toBe(2);
    expect(again.sealingState?.strict).toBe(true);
    again.close();
  });
});

describe('referral case UIDs', () => {
  it('the referral case keeps the original UID only inside the sealed part', async () => {
    const name = dbName();
    const db = await sealedDb(name);
    const original = '1.2.826.0.1.3680043.8.498.11111111111111111111';
    const deidentified = '2.25.222222222222222222222222222222222222';
    const c: ReferralCaseRecord = {
      id: 'case-1', localStudyInstanceUID: original, siteId: 'hospital-a', patient: { name: 'DOE^JANE', id: 'MRN-1' },
      clinicalQuestion: 'Rash?', history: '', urgency: 'routine', requestedSpecialty: 'dermatology',
      deidentify: { enabled: true, retainLongitudinalFullDates: false, cleanDescriptors: true }, compress: false,
      sopInstanceUIDs: [`${original}.1`], skipped: [], state: 'draft', outboxJobIds: [], createdAt: 1, updatedAt: 1,
    };
    await putCase(db, c);
    const mapping: DeidMappingRecord = { caseId: 'case-1', sentStudyInstanceUID: deidentified, mapping: { [original]: deidentified }, createdAt: 2 };
    await db.transaction('rw', [db.referralCases, db.deidMappings], (tx) => recordSentCase(tx, { ...c, state: 'queued', sentStudyInstanceUID: deidentified, sentAt: 2, updatedAt: 2 }, mapping));
    expect(await db.referralCases.get('case-1')).toMatchObject({ localStudyInstanceUID: original, sentStudyInstanceUID: deidentified });
    db.close();

    const [caseRow, mappingRow] = await raw(name, (r) => Promise.all([r.table('referralCases').get('case-1'), r.table('deidMappings').get('case-1')]));
    for (const row of [caseRow, mappingRow] as Record<string, unknown>[]) {
      const { [SEALED_FIELD]: _sealed, ...clear } = row;
      const text = JSON.stringify(clear);
      expect(text).not.toContain(original);
      expect(text).not.toContain(deidentified);
    }
    expect(Object.keys(caseRow as object).sort()).toEqual([SEALED_FIELD, 'compress', 'createdAt', 'id', 'sentAt', 'siteId', 'state', 'updatedAt', 'urgency'].sort());
  });
});

describe('v9 → v10: rows sealed before AAD', () => {
  it('re-seals existing sealed rows with AAD and versions at the first unlock instead of refusing them, then refuses the old form', async () => {
    const name = dbName();
    const sealer = testRowSealer();
    // A v9 database as the app wrote it: v2 envelopes (table and key only), the referral UIDs indexed in clear.
    const v9 = new Dexie(name);
    v9.version(9).stores(TELERAD_DB_SCHEMA_V9);
    v9.use(createSealingMiddleware(SEALING_POLICY, sealer));
    await v9.table('reportDrafts').put(draft('Written under v9.', 2));
    await v9.table('outboxJobs').put(reportJob(1, { id: 'job-9' }));
    await v9.table('referralCases').put({
      id: 'case-9', localStudyInstanceUID: '1.9.1', sentStudyInstanceUID: '2.25.9', patient: { name: 'ROE^RAY', id: 'P9' }, clinicalQuestion: 'Q', history: '',
      urgency: 'urgent', requestedSpecialty: '', deidentify: { enabled: true, retainLongitudinalFullDates: false, cleanDescriptors: false }, compress: true,
      sopInstanceUIDs: [], skipped: [], state: 'queued', outboxJobIds: ['job-9'], createdAt: 1, updatedAt: 1,
    } satisfies ReferralCaseRecord);
    await v9.table('sealing').put({ id: 'rows', keyId: sealer.keyId, sealedAt: 1, rows: 0 });
    v9.close();
    const v2Draft = await (async () => {
      const r = new Dexie(name);
      r.version(9).stores(TELERAD_DB_SCHEMA_V9);
      try {
        return (await r.table('reportDrafts').get('draft-1')) as Record<string, { c: ArrayBuffer }>;
      } finally {
        r.close();
      }
    })();
    expect(new Uint8Array(v2Draft[SEALED_FIELD]!.c)[0]).toBe(2);

    const db = new TeleradDB(name, { sealer });
    // Upgraded, not yet re-sealed: every row reads as it did.
    expect((await db.reportDrafts.get('draft-1'))?.content.sections.findings).toBe('Written under v9.');
    expect((await db.referralCases.get('case-9'))?.localStudyInstanceUID).toBe('1.9.1');
    expect(await sealExistingRows(db, { log: quiet, now: () => 5 })).toBe(3);
    expect(await sealExistingRows(db, { log: quiet, now: () => 6 })).toBe(0);
    expect((await db.reportDrafts.get('draft-1'))?.content.sections.findings).toBe('Written under v9.');
    expect((await db.outboxJobs.get('job-9'))?.state).toBe('queued');
    expect(await db.referralCases.get('case-9')).toMatchObject({ localStudyInstanceUID: '1.9.1', sentStudyInstanceUID: '2.25.9', urgency: 'urgent' });
    db.close();

    const after = await raw(name, async (r) => ({
      draft: (await r.table('reportDrafts').get('draft-1')) as Record<string, { c: ArrayBuffer; n?: number }>,
      kase: (await r.table('referralCases').get('case-9')) as Record<string, unknown>,
    }));
    expect(new Uint8Array(after.draft[SEALED_FIELD]!.c)[0]).toBe(3);
    expect(after.draft[SEALED_FIELD]!.n).toBeGreaterThan(0);
    expect(after.kase.localStudyInstanceUID).toBeUndefined();
    expect(after.kase.sentStudyInstanceUID).toBeUndefined();

    // The store is sealed now: the v2 copy put back is refused (after a reload too).
    await raw(name, (r) => r.table('reportDrafts').put(v2Draft));
    const again = new TeleradDB(name, { sealer });
    await expect(again.reportDrafts.get('draft-1')).rejects.toThrow(/format from before/);
    again.close();
  });

  it('a row changed on disk among v9 rows does not stop the pass: it is named in the log, the store becomes strict, and a clear row planted afterwards is refused', async () => {
    const name = dbName();
    const sealer = testRowSealer();
    const v9 = new Dexie(name);
    v9.version(9).stores(TELERAD_DB_SCHEMA_V9);
    v9.use(createSealingMiddleware(SEALING_POLICY, sealer));
    await v9.table('reportDrafts').put(draft('Written under v9.', 2));
    await v9.table('reportDrafts').put({ ...draft('Second draft.', 3), id: 'draft-2' });
    await v9.table('outboxJobs').put(reportJob(1, { id: 'job-9' }));
    await v9.table('sealing').put({ id: 'rows', keyId: sealer.keyId, sealedAt: 1, rows: 0 });
    v9.close();
    // Under the sealing layer: draft-1's sealed blob copied onto draft-2 (it no longer opens there).
    await (async () => {
      const r = new Dexie(name);
      r.version(9).stores(TELERAD_DB_SCHEMA_V9);
      try {
        const row = (await r.table('reportDrafts').get('draft-1')) as Record<string, unknown>;
        await r.table('reportDrafts').put({ ...row, id: 'draft-2' });
      } finally {
        r.close();
      }
    })();

    const logged: string[] = [];
    const log = createLogger('test', (entry) => void logged.push(`${entry.level} ${entry.message}`));
    const db = new TeleradDB(name, { sealer });
    expect(await sealExistingRows(db, { log, now: () => 5 })).toBe(2);
    expect(db.sealingState?.strict).toBe(true);
    expect((await db.sealing.get('rows'))?.format).toBe(3);
    expect((await db.reportDrafts.get('draft-1'))?.content.sections.findings).toBe('Written under v9.');
    expect((await db.outboxJobs.get('job-9'))?.state).toBe('queued');
    await expect(db.reportDrafts.get('draft-2')).rejects.toThrow(SealedRowError);
    const warning = logged.filter((l) => l.startsWith('warn'));
    expect(warning).toHaveLength(1);
    expect(warning[0]).toMatch(/reportDrafts.*draft-2.*tampered/);
    expect(warning[0]).not.toMatch(/Written under v9|Second draft/);
    // Done for this key: the next unlock has nothing to redo.
    expect(await sealExistingRows(db, { log, now: () => 6 })).toBe(0);
    db.close();

    // The refused row is kept as it was found; a clear row planted now is refused (after a reload too).
    const kept = await raw(name, (r) => r.table('reportDrafts').get('draft-2') as Promise<Record<string, unknown>>);
    expect(kept[SEALED_FIELD]).toBeDefined();
    await raw(name, (r) => r.table('reportDrafts').put({ ...draft('Planted.', 9), id: 'draft-3' }));
    const again = new TeleradDB(name, { sealer });
    await expect(again.reportDrafts.get('draft-3')).rejects.toThrow(/no sealed envelope/);
    again.close();
  });

  it('a database made at v10 is sealed from its first row', async () => {
    const name = dbName();
    const sealer = testRowSealer(randomVaultKeys());
    const db = new TeleradDB(name, { sealer });
    await db.open();
    expect(db.sealingState?.strict).toBe(true);
    db.close();
    await raw(name, (r) => r.table('reportDrafts').put(draft('Planted.', 1)));
    const again = new TeleradDB(name, { sealer });
    await expect(again.reportDrafts.get('draft-1')).rejects.toThrow(/no sealed envelope/);
    again.close();
  });
});

describe('the additional data and the registry', () => {
  it('encodes the clear fields canonically: property order does not matter, any value change does', () => {
    const a = boundAad('outboxJobs', 'k1', 'job-1', { clear: { siteId: 'a', state: 'queued', nextAttemptAt: 5, undefinedField: undefined }, version: 3 }, null);
    const b = boundAad('outboxJobs', 'k1', 'job-1', { clear: { nextAttemptAt: 5, state: 'queued', siteId: 'a' }, version: 3 }, null);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    for (const other of [
      boundAad('outboxJobs', 'k1', 'job-1', { clear: { nextAttemptAt: 5, state: 'queued', siteId: 'b' }, version: 3 }, null),
      boundAad('outboxJobs', 'k1', 'job-1', { clear: { nextAttemptAt: '5', state: 'queued', siteId: 'a' }, version: 3 }, null),
      boundAad('outboxJobs', 'k1', 'job-1', { clear: { nextAttemptAt: 5, state: 'queued', siteId: 'a' }, version: 2 }, null),
      boundAad('outboxJobs', 'k2', 'job-1', { clear: { nextAttemptAt: 5, state: 'queued', siteId: 'a' }, version: 3 }, null),
      boundAad('reportDrafts', 'k1', 'job-1', { clear: { nextAttemptAt: 5, state: 'queued', siteId: 'a' }, version: 3 }, null),
      boundAad('outboxJobs', 'k1', 'job-1', { clear: { nextAttemptAt: 5, state: 'queued', siteId: 'a' }, version: 3 }, 0),
    ]) expect(Buffer.from(other).equals(Buffer.from(a))).toBe(false);
  });

  it('refuses every versioned row when the registry head is edited or deleted, and opens them again when it is put back', async () => {
    const name = dbName();
    const sealer = testRowSealer();
    const db = await sealedDb(name, sealer);
    await db.reportDrafts.put(draft('Text.', 2));
    await db.studies.put({ studyInstanceUID: '5.5', siteId: 'x', patientName: 'A^B', patientId: '1', studyDate: '', modalities: [], description: '', numInstances: 0, complete: true, storedAt: 1 });
    db.close();
    const head = await raw(name, (r) => r.table('rowVersions').get('$head') as Promise<Record<string, unknown>>);
    await raw(name, (r) => r.table('rowVersions').delete('$head'));
    const again = new TeleradDB(name, { sealer });
    await expect(again.reportDrafts.get('draft-1')).rejects.toThrow(SealedRowError);
    // A table that is not versioned still opens (its rows' AAD is enough).
    expect((await again.studies.get('5.5'))?.patientName).toBe('A^B');
    again.close();
    await raw(name, (r) => r.table('rowVersions').put(head));
    const restored = new TeleradDB(name, { sealer });
    expect((await restored.reportDrafts.get('draft-1'))?.content.sections.findings).toBe('Text.');
    restored.close();
  });
});
