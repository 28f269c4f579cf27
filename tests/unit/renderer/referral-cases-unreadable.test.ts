import 'fake-indexeddb/auto';
import Dexie from 'dexie';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { TELERAD_DB_SCHEMA_V10, TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { ReferralCaseRecord } from '../../../src/renderer/cache/telerad-db';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { sealExistingRows } from '../../../src/renderer/cache/sealing/seal-existing-rows';
import { loadDcmjs } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import { createReferralCases } from '../../../src/renderer/referral-cases/referral-case-repo';
import { createMyReferralsStore } from '../../../src/renderer/referral-cases/referral-case-status';
import { putCase } from '../../../src/renderer/referral-cases/referral-case-rows';
import { createOutboxEnqueue } from '../../../src/renderer/outbox/outbox-enqueue';
import { testRowSealer } from '../../support/test-sealer';

// Issue 18: a sealed row changed on disk is refused. One referral case refused that way must not hide
// the physician's other cases: "My referrals" lists them and says one could not be opened.

const names: string[] = [];
afterEach(async () => {
  for (const n of names.splice(0)) await Dexie.delete(n);
});

const caseRow = (id: string, updatedAt: number, state: ReferralCaseRecord['state']): ReferralCaseRecord => ({
  id,
  localStudyInstanceUID: `1.2.826.0.1.3680043.8.498.${updatedAt}`,
  siteId: 'hospital-a',
  patient: { name: `DOE^${id.toUpperCase()}`, id: `MRN-${updatedAt}` },
  clinicalQuestion: `Question ${id}?`,
  history: '',
  urgency: 'routine',
  requestedSpecialty: 'dermatology',
  deidentify: { enabled: false, retainLongitudinalFullDates: false, cleanDescriptors: true },
  compress: false,
  sopInstanceUIDs: [],
  skipped: [],
  state,
  outboxJobIds: [],
  createdAt: updatedAt,
  updatedAt,
});

describe('My referrals with a case changed outside the app', () => {
  it('lists the other cases, says one could not be opened, logs it, and keeps the row', async () => {
    const name = `referral-unreadable-${Math.random()}`;
    names.push(name);
    const sealer = testRowSealer();
    const db = new TeleradDB(name, { sealer });
    await sealExistingRows(db, { log: createLogger('t', () => undefined), now: () => 1 });
    for (const [id, at, state] of [['a', 1, 'draft'], ['b', 2, 'queued'], ['c', 3, 'sent']] as const) await putCase(db, caseRow(id, at, state));
    db.close();
    // Under the sealing layer, as an attacker on the machine would: a clear field of case b is changed.
    const raw = new Dexie(name);
    raw.version(10).stores(TELERAD_DB_SCHEMA_V10);
    await raw.table('referralCases').update('b', { urgency: 'stat' });
    raw.close();

    const reopened = new TeleradDB(name, { sealer });
    const log = memorySink();
    const cases = createReferralCases({
      db: reopened,
      cache: new StudyCache(reopened, Date.now),
      loadDcmjs,
      enqueueOutboxJob: createOutboxEnqueue(() => undefined),
      now: Date.now,
      randomUUID: () => crypto.randomUUID(),
      log: createLogger('cases', log),
    });
    const store = createMyReferralsStore({ cases, jobs: () => [], reportArrived: async () => false, log: createLogger('my', log) });
    await store.refresh();

    const state = store.getState();
    expect(state.error).toBeUndefined();
    expect(state.rows.map((r) => r.record.id)).toEqual(['c', 'a']);
    expect(state.unreadable).toBe(1);
    expect(log.records.map((r) => r.message).join('\n')).toContain('Referral case b failed its integrity check (tampered): kept on disk, not listed');
    // Kept: the row is still there, for inspection.
    expect(await reopened.referralCases.count()).toBe(3);
    reopened.close();
  });
});
