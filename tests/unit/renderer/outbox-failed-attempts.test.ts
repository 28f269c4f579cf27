import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { OutboxJobRecord } from '../../../src/renderer/cache/telerad-db';
import { createOutbox } from '../../../src/renderer/outbox/outbox-scheduler';
import type { FailedAttempt, Outbox } from '../../../src/renderer/outbox/outbox-scheduler';
import { StowError } from '../../../src/renderer/outbox/stow-client';
import { FakeClock, FakeNetwork, FakeSite, reportJob, until } from '../../support/outbox-jobs';

// What the audit trail hears of failed deliveries: attempts the site answered
// with an error, once per job per distinct error.
const log = createLogger('test', () => undefined);
let dbSeq = 0;
const running: Outbox[] = [];
afterEach(() => {
  for (const o of running.splice(0)) o.stop();
});

function setup() {
  const db = new TeleradDB(`outbox-failed-${++dbSeq}-${Date.now()}`);
  const clock = new FakeClock();
  const site = new FakeSite();
  const failures: FailedAttempt[] = [];
  const outbox = createOutbox({ db, transport: site, clock, random: () => 0.5, log, network: new FakeNetwork() });
  const unsubscribe = outbox.onFailed((f) => failures.push(f));
  running.push(outbox);
  const job = (id: string): Promise<OutboxJobRecord> => db.outboxJobs.get(id).then((j) => j!);
  return { db, clock, site, failures, outbox, unsubscribe, job };
}

const busy = (): never => {
  throw new StowError('server', 'the site is busy (HTTP 503)', false, 503);
};

describe('outbox: failed attempts reported', () => {
  it('tells a 503 once with the job, its instances and the reason, and not again for the same 503 on retry', async () => {
    const { db, clock, site, failures, outbox, job } = setup();
    const j = reportJob(clock.now());
    await db.outboxJobs.put(j);
    site.script.push(busy, busy, busy);
    await outbox.start();
    await until(async () => (await job(j.id)).attempts === 1 && (await job(j.id)).state === 'failed', 'first failure');
    for (let attempt = 2; attempt <= 3; attempt++) {
      clock.advance(60_000);
      await until(async () => (await job(j.id)).attempts === attempt && (await job(j.id)).state === 'failed', `failure ${attempt}`);
    }
    clock.advance(60_000);
    await until(async () => (await job(j.id)).state === 'sent', 'sent at last');
    expect(site.stowCalls).toHaveLength(4);
    expect(failures).toEqual([
      {
        jobId: j.id,
        siteId: 'hospital-a',
        kind: 'report',
        label: j.label,
        studyInstanceUID: '1.2.3',
        reportId: j.reportId,
        error: 'the site is busy (HTTP 503)',
        sopInstanceUIDs: j.instances.map((i) => i.sopInstanceUID),
        permanent: false,
        attempts: 1,
      },
    ]);
  });

  it('tells each distinct error of a job once: a 503, then a permanent refusal of the PDF', async () => {
    const { db, clock, site, failures, outbox, job } = setup();
    const j = reportJob(clock.now());
    const [sr, pdf] = j.instances.map((i) => i.sopInstanceUID) as [string, string];
    await db.outboxJobs.put(j);
    site.script.push(busy, (_i, s) => {
      s.store([sr]);
      return { status: 202, stored: [sr], failed: [{ sopInstanceUID: pdf, reason: 0xc000, retryable: false, message: 'the site cannot understand the instance (0xC000)' }], unaccounted: [] };
    });
    await outbox.start();
    await until(async () => (await job(j.id)).state === 'failed', 'first failure');
    clock.advance(60_000);
    await until(async () => (await job(j.id)).lastError?.includes('0xC000') === true, 'refused');
    expect(failures.map((f) => [f.error, f.permanent])).toEqual([
      ['the site is busy (HTTP 503)', false],
      ['1 of 2 stored; the PDF: the site cannot understand the instance (0xC000) — will not be retried automatically', true],
    ]);
  });

  it('tells a site that refuses the stored credentials', async () => {
    const { db, clock, site, failures, outbox, job } = setup();
    const j = reportJob(clock.now());
    await db.outboxJobs.put(j);
    site.script.push(() => {
      throw new StowError('auth', 'the site refused our credentials', false, 502);
    });
    await outbox.start();
    await until(async () => (await job(j.id)).state === 'failed', 'failed');
    await until(() => failures.length === 1, 'told');
    expect(failures[0]).toMatchObject({ jobId: j.id, error: 'the site refused our credentials', permanent: false });
  });

  it('tells nothing while the site cannot be reached at all (store-and-forward waits), nor after unsubscribing', async () => {
    const { db, clock, site, failures, outbox, unsubscribe, job } = setup();
    const j = reportJob(clock.now());
    await db.outboxJobs.put(j);
    site.script.push(() => {
      throw new StowError('no-answer', 'the site could not be reached', false);
    });
    await outbox.start();
    await until(async () => (await job(j.id)).state === 'failed', 'waiting');
    expect(failures).toEqual([]);
    unsubscribe();
    site.script.push(busy);
    clock.advance(60_000);
    await until(async () => (await job(j.id)).lastError === 'the site is busy (HTTP 503)', 'busy');
    expect(failures).toEqual([]);
  });
});
