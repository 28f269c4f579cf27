import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { OutboxJobRecord } from '../../../src/renderer/cache/telerad-db';
import { backoffDelay, createOutbox, DEFAULT_BACKOFF } from '../../../src/renderer/outbox/outbox-scheduler';
import type { Outbox } from '../../../src/renderer/outbox/outbox-scheduler';
import { createOutboxRepo } from '../../../src/renderer/outbox/outbox-repo';
import type { DeliveredJob } from '../../../src/renderer/outbox/outbox-store';
import { StowError } from '../../../src/renderer/outbox/stow-client';
import { FakeClock, FakeNetwork, FakeSite, reportJob, until } from '../../support/outbox-jobs';
import { testRowSealer } from '../../support/test-sealer';

const log = createLogger('test', () => undefined);
let dbSeq = 0;
const running: Outbox[] = [];

afterEach(() => {
  for (const o of running.splice(0)) o.stop();
});

function setup(opts: { random?: () => number } = {}) {
  const db = new TeleradDB(`outbox-unit-${++dbSeq}-${Date.now()}`, { sealer: testRowSealer() });
  const clock = new FakeClock();
  const network = new FakeNetwork();
  const site = new FakeSite();
  const delivered: DeliveredJob[] = [];
  const make = (): Outbox => {
    const outbox = createOutbox({
      db,
      transport: site,
      clock,
      random: opts.random ?? (() => 0.5),
      log,
      network,
      siteName: (id) => (id === 'hospital-a' ? 'Hospital A' : undefined),
    });
    outbox.onDelivered((d) => delivered.push(d));
    running.push(outbox);
    return outbox;
  };
  const job = (id: string): Promise<OutboxJobRecord> => db.outboxJobs.get(id).then((j) => j!);
  return { db, clock, network, site, delivered, make, job };
}

describe('backoff', () => {
  it('doubles from 5 s up to a 10 min cap, with full jitter below that bound', () => {
    const top = (n: number): number => backoffDelay(n, () => 0.999999, DEFAULT_BACKOFF);
    expect([1, 2, 3, 4].map(top)).toEqual([4999, 9999, 19999, 39999]);
    expect(top(8)).toBe(599_999);
    expect(top(50)).toBe(599_999);
    expect(backoffDelay(3, () => 0, DEFAULT_BACKOFF)).toBe(0);
    expect(backoffDelay(3, () => 0.25, DEFAULT_BACKOFF)).toBe(5000);
  });
});

describe('outbox scheduler', () => {
  it('marks a job sending durably before the request, then sent, and says so once', async () => {
    const { db, clock, site, delivered, make, job } = setup();
    const j = reportJob(clock.now());
    await db.outboxJobs.put(j);
    let duringSend: OutboxJobRecord | undefined;
    site.onStow = async () => {
      duringSend = await db.outboxJobs.get(j.id);
    };
    const outbox = make();
    await outbox.start();
    await until(async () => (await job(j.id)).state === 'sent', 'job sent');
    expect(duringSend).toMatchObject({ state: 'sending', attempts: 1 });
    const sent = await job(j.id);
    expect(sent.sentAt).toBe(clock.now());
    expect(sent.instances.map((i) => i.state)).toEqual(['stored', 'stored']);
    expect(delivered).toEqual([expect.objectContaining({ jobId: j.id, siteName: 'Hospital A', label: j.label })]);
    await until(() => outbox.getState().unsent === 0 && outbox.getState().jobs.length === 1, 'panel shows it sent');
  });

  it('after a 503 waits its backoff with a readable reason, then retries and delivers once', async () => {
    const { db, clock, site, make, job } = setup();
    const j = reportJob(clock.now());
    await db.outboxJobs.put(j);
    site.script.push(() => {
      throw new StowError('server', 'the site is busy (HTTP 503)', false, 503);
    });
    const outbox = make();
    await outbox.start();
    await until(async () => (await job(j.id)).state === 'failed', 'job failed');
    const failed = await job(j.id);
    // random 0.5 × 5 s for the first failure
    expect(failed).toMatchObject({ lastError: 'the site is busy (HTTP 503)', attempts: 1, nextAttemptAt: clock.now() + 2500, uncertain: false });
    clock.advance(2499);
    await new Promise((r) => setTimeout(r, 30));
    expect(site.stowCalls).toHaveLength(1);
    clock.advance(1);
    await until(async () => (await job(j.id)).state === 'sent', 'job sent after backoff');
    expect(site.stowCalls).toHaveLength(2);
    expect(site.findCalls).toHaveLength(0);
    expect([...site.storeCount.values()]).toEqual([1, 1]);
    expect((await job(j.id)).attempts).toBe(2);
  });

  it('asks the site what it holds after an unknown outcome and does not send those again', async () => {
    const { db, clock, site, make, job } = setup();
    const j = reportJob(clock.now());
    await db.outboxJobs.put(j);
    // The site stores both, then the connection is cut before the answer arrives.
    site.script.push((instances, s) => {
      s.store(instances.map((i) => i.sopInstanceUID));
      throw new StowError('no-answer', 'the connection dropped while the answer was arriving', true);
    });
    const outbox = make();
    await outbox.start();
    await until(async () => (await job(j.id)).state === 'failed', 'job failed');
    expect(await job(j.id)).toMatchObject({ uncertain: true, lastError: 'the connection dropped while the answer was arriving' });
    await outbox.retryNow(j.id);
    await until(async () => (await job(j.id)).state === 'sent', 'job sent');
    expect(site.findCalls).toEqual([[j.instances[0]!.sopInstanceUID, j.instances[1]!.sopInstanceUID]]);
    expect(site.stowCalls).toHaveLength(1);
    expect([...site.storeCount.values()]).toEqual([1, 1]);
  });

  it('treats a job left "sending" by a dead app as an unknown outcome at start', async () => {
    const { db, clock, site, make, job } = setup();
    const j = reportJob(clock.now(), { state: 'sending', attempts: 1, nextAttemptAt: clock.now() + 60_000 });
    await db.outboxJobs.put(j);
    site.store([j.instances[0]!.sopInstanceUID]); // the SR got there before the crash, the PDF did not
    const outbox = make();
    await outbox.start();
    await until(async () => (await job(j.id)).state === 'sent', 'job sent');
    expect(site.findCalls).toHaveLength(1);
    expect(site.stowCalls).toEqual([[j.instances[1]!.sopInstanceUID]]);
    expect([...site.storeCount.values()]).toEqual([1, 1]);
    expect((await job(j.id)).attempts).toBe(2);
  });

  it('re-sends only the instance the site refused for a passing reason', async () => {
    const { db, clock, site, make, job } = setup();
    const j = reportJob(clock.now());
    const [sr, pdf] = j.instances.map((i) => i.sopInstanceUID) as [string, string];
    await db.outboxJobs.put(j);
    site.script.push((_i, s) => {
      s.store([sr]);
      return { status: 202, stored: [sr], failed: [{ sopInstanceUID: pdf, reason: 0xa700, retryable: true, message: 'the site is out of resources (0xA700)' }], unaccounted: [] };
    });
    const outbox = make();
    await outbox.start();
    await until(async () => (await job(j.id)).state === 'failed', 'job failed');
    const failed = await job(j.id);
    expect(failed.lastError).toBe('1 of 2 stored; the PDF: the site is out of resources (0xA700)');
    expect(failed.instances.map((i) => i.state)).toEqual(['stored', 'failed']);
    clock.advance(2500);
    await until(async () => (await job(j.id)).state === 'sent', 'job sent');
    expect(site.stowCalls).toEqual([[sr, pdf], [pdf]]);
  });

  it('does not retry an instance the site rejects as such until the user asks, and shows why', async () => {
    const { db, clock, site, make, job } = setup();
    const j = reportJob(clock.now());
    const [sr, pdf] = j.instances.map((i) => i.sopInstanceUID) as [string, string];
    await db.outboxJobs.put(j);
    site.script.push((_i, s) => {
      s.store([sr]);
      return { status: 202, stored: [sr], failed: [{ sopInstanceUID: pdf, reason: 0xc000, retryable: false, message: 'the site cannot understand the instance (0xC000)' }], unaccounted: [] };
    });
    const outbox = make();
    await outbox.start();
    await until(async () => (await job(j.id)).state === 'failed', 'job failed');
    expect((await job(j.id)).lastError).toMatch(/the PDF: the site cannot understand the instance \(0xC000\) — will not be retried automatically/);
    await until(() => outbox.getState().jobs[0]?.state === 'failed', 'panel updated');
    expect(outbox.getState().jobs[0]!.nextAttemptAt).toBeUndefined();
    clock.advance(24 * 3600_000);
    await new Promise((r) => setTimeout(r, 30));
    expect(site.stowCalls).toHaveLength(1);
    await outbox.retryNow(j.id);
    await until(async () => (await job(j.id)).state === 'sent', 'sent after retry now');
    expect(site.stowCalls).toEqual([[sr, pdf], [pdf]]);
  });

  it('after the site refuses our credentials waits the long auth backoff', async () => {
    const { db, clock, site, make, job } = setup();
    const j = reportJob(clock.now());
    await db.outboxJobs.put(j);
    site.script.push(() => {
      throw new StowError('auth', 'the site refused our credentials', false, 502);
    });
    const outbox = make();
    await outbox.start();
    await until(async () => (await job(j.id)).state === 'failed', 'job failed');
    expect(await job(j.id)).toMatchObject({ lastError: 'the site refused our credentials', nextAttemptAt: clock.now() + DEFAULT_BACKOFF.authMs });
  });

  it('waits while offline without counting attempts, and sends when the network is back', async () => {
    const { db, clock, site, network, make, job } = setup();
    network.online = false;
    const j = reportJob(clock.now());
    await db.outboxJobs.put(j);
    const outbox = make();
    await outbox.start();
    outbox.wake();
    clock.advance(3600_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(site.stowCalls).toHaveLength(0);
    expect(await job(j.id)).toMatchObject({ state: 'queued', attempts: 0 });
    await until(() => outbox.getState().loaded && !outbox.getState().online, 'panel knows it is offline');
    network.set(true);
    await until(async () => (await job(j.id)).state === 'sent', 'sent once online');
    expect((await job(j.id)).attempts).toBe(1);
  });

  it('sends one job per site at a time, sites in parallel', async () => {
    const { db, clock, site, make, job } = setup();
    const a1 = reportJob(clock.now());
    const a2 = reportJob(clock.now());
    const b1 = reportJob(clock.now(), { siteId: 'hospital-b' });
    await db.outboxJobs.bulkPut([a1, a2, b1]);
    let inFlight = 0;
    let peakA = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const perSite = new Map<string, number>();
    site.stow = async function (siteId, instances) {
      perSite.set(siteId, (perSite.get(siteId) ?? 0) + 1);
      inFlight++;
      if (siteId === 'hospital-a') peakA = Math.max(peakA, perSite.get(siteId)!);
      await gate;
      inFlight--;
      perSite.set(siteId, perSite.get(siteId)! - 1);
      const uids = instances.map((i) => i.sopInstanceUID);
      return { status: 200, stored: uids, failed: [], unaccounted: [] };
    };
    const outbox = make();
    await outbox.start();
    await until(() => inFlight === 2, 'one per site in flight');
    expect(perSite.get('hospital-a')).toBe(1);
    expect(perSite.get('hospital-b')).toBe(1);
    release();
    await until(async () => (await Promise.all([a1, a2, b1].map((j) => job(j.id)))).every((j) => j.state === 'sent'), 'all sent');
    expect(peakA).toBe(1);
  });

  it('lets only one of two schedulers claim the same due job', async () => {
    const { db, clock } = setup();
    const j = reportJob(clock.now());
    await db.outboxJobs.put(j);
    const repo = createOutboxRepo(db);
    const claims = await Promise.all([repo.claim(j.id, clock.now()), repo.claim(j.id, clock.now())]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect((await db.outboxJobs.get(j.id))!).toMatchObject({ state: 'sending', attempts: 1 });
  });
});

describe('outbox and site reachability', () => {
  it('sends a job backing off from a site as soon as the site is known to answer again', async () => {
    const { db, clock, site, make, job } = setup();
    const j = reportJob(clock.now());
    await db.outboxJobs.put(j);
    site.script.push(() => {
      throw new StowError('no-answer', 'the site could not be reached', false, 502);
    });
    const outbox = make();
    await outbox.start();
    await until(async () => (await job(j.id)).state === 'failed', 'job failed');
    expect((await job(j.id)).nextAttemptAt).toBeGreaterThan(clock.now());
    await outbox.siteReachable('hospital-a');
    await until(async () => (await job(j.id)).state === 'sent', 'sent without waiting out the backoff');
  });
});
