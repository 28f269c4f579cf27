import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { OutboxJobRecord } from '../../../src/renderer/cache/telerad-db';
import { hasUnsentReportWork, localStatusOf, localStatuses, startReportStatusSync } from '../../../src/renderer/reports/report-status';
import { deriveCaseStatus } from '../../../src/renderer/worklist/worklist-row';
import type { LocalCaseStatus } from '../../../src/renderer/worklist/worklist-row';
import { testRowSealer } from '../../support/test-sealer';
import { deleteDbsAfterEach } from '../../support/test-dbs';

const dbs = deleteDbsAfterEach();

describe('case status from drafts and the outbox', () => {
  it('a draft reads "draft"; a queued, sending or failed report reads "queued"; a delivered one "reported"', () => {
    expect(localStatusOf([{ id: 'd' }], [])).toBe('draft');
    expect(localStatusOf([], ['queued'])).toBe('queued');
    expect(localStatusOf([], ['sending'])).toBe('queued');
    expect(localStatusOf([], ['failed'])).toBe('queued');
    expect(localStatusOf([], ['sent'])).toBe('reported');
    expect(localStatusOf([], [])).toBeUndefined();
    // Unsent work outranks an addendum being written; an addendum draft on a delivered report shows the draft.
    expect(localStatusOf([{ id: 'd' }], ['sent', 'failed'])).toBe('queued');
    expect(localStatusOf([{ id: 'd' }], ['sent'])).toBe('draft');
    expect(deriveCaseStatus(undefined, 'reported')).toBe('reported');
  });

  it('referral jobs do not count as a report of the case', () => {
    const m = localStatuses([], [{ kind: 'referral', siteId: 'a', studyInstanceUID: 's1', state: 'queued' }]);
    expect(m.size).toBe(0);
  });

  it('the worklist follows job state changes written to Dexie by anyone', async () => {
    const db = new TeleradDB(`report-status-${Math.random()}`, { sealer: testRowSealer() });
    dbs.push(db);
    const seen: (LocalCaseStatus | undefined)[] = [];
    const stop = startReportStatusSync({ db, setLocalStatus: (_site, _study, s) => seen.push(s), log: createLogger('t', memorySink()) });
    const job: OutboxJobRecord = {
      id: 'j1',
      siteId: 'a',
      studyInstanceUID: 's1',
      kind: 'report',
      label: 'Report',
      instances: [],
      state: 'queued',
      attempts: 0,
      nextAttemptAt: 0,
      uncertain: false,
      createdAt: 0,
      updatedAt: 0,
    };
    await db.outboxJobs.add(job);
    await expect.poll(() => seen.at(-1)).toBe('queued');
    await db.outboxJobs.update('j1', { state: 'sent' });
    await expect.poll(() => seen.at(-1)).toBe('reported');
    await db.outboxJobs.delete('j1');
    await expect.poll(() => seen.length > 0 && seen.at(-1) === undefined).toBe(true);
    stop();
  });

  it('a case with a draft or an unsent job is kept from eviction; once sent it is not', async () => {
    const db = new TeleradDB(`report-unsent-${Math.random()}`, { sealer: testRowSealer() });
    dbs.push(db);
    expect(await hasUnsentReportWork(db, 's1')).toBe(false);
    await db.reportDrafts.add({
      id: 'd1',
      studyInstanceUID: 's1',
      siteId: 'a',
      kind: 'report',
      content: { templateId: 'ct', sections: {}, priority: 'routine', measurementIds: [], keyImageSopInstanceUIDs: [] },
      createdAt: 0,
      updatedAt: 0,
    });
    expect(await hasUnsentReportWork(db, 's1')).toBe(true);
    await db.reportDrafts.delete('d1');
    const job: OutboxJobRecord = { id: 'j1', siteId: 'a', studyInstanceUID: 's1', kind: 'report', label: 'Report', instances: [], state: 'failed', attempts: 2, nextAttemptAt: 0, uncertain: false, createdAt: 0, updatedAt: 0 };
    await db.outboxJobs.add(job);
    expect(await hasUnsentReportWork(db, 's1')).toBe(true);
    await db.outboxJobs.update('j1', { state: 'sent' });
    expect(await hasUnsentReportWork(db, 's1')).toBe(false);
  });
});
