import 'fake-indexeddb/auto';
import { renderToStaticMarkup } from 'react-dom/server';
import { createElement } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { OutboxJobRecord } from '../../../src/renderer/cache/telerad-db';
import { planBatches, progressAfter } from '../../../src/renderer/outbox/outbox-batches';
import { createOutbox } from '../../../src/renderer/outbox/outbox-scheduler';
import type { Outbox } from '../../../src/renderer/outbox/outbox-scheduler';
import { OutboxPanel } from '../../../src/renderer/outbox/OutboxPanel';
import type { OutboxState } from '../../../src/renderer/outbox/outbox-store';
import { StowError } from '../../../src/renderer/outbox/stow-client';
import { FakeClock, FakeNetwork, FakeSite, reportJob, until } from '../../support/outbox-jobs';
import { testRowSealer } from '../../support/test-sealer';

const log = createLogger('test', () => undefined);
const running: Outbox[] = [];
let dbSeq = 0;
afterEach(() => {
  for (const o of running.splice(0)) o.stop();
});

const CT = '1.2.840.10008.5.1.4.1.1.2';

/** A referral job of `n` CT slices of `size` bytes each. */
function caseJob(now: number, n: number, size: number): OutboxJobRecord {
  const instances = Array.from({ length: n }, (_, i) => ({
    sopInstanceUID: `1.2.9.${i + 1}`,
    sopClassUID: CT,
    seriesInstanceUID: '1.2.9.0',
    bytes: new Uint8Array(size).fill(i % 251).buffer,
    state: 'pending' as const,
  }));
  return { ...reportJob(now), id: `case-${n}-${size}`, kind: 'referral', label: `Referral — CT, ${n} slices`, instances };
}

function setup() {
  const db = new TeleradDB(`case-send-batching-${++dbSeq}-${Date.now()}`, { sealer: testRowSealer() });
  const clock = new FakeClock();
  const network = new FakeNetwork();
  const site = new FakeSite();
  const make = (): Outbox => {
    const o = createOutbox({ db, transport: site, clock, random: () => 0.5, log, network, backoff: { baseMs: 1000, capMs: 1000 } });
    running.push(o);
    return o;
  };
  const job = async (id: string): Promise<OutboxJobRecord> => (await db.outboxJobs.get(id))!;
  return { db, clock, network, site, make, job };
}

describe('planBatches', () => {
  it('cuts at 10 instances or 8 MiB, whichever comes first, and sends an oversized instance alone', () => {
    const of = (...sizes: number[]) => sizes.map((s) => ({ bytes: new ArrayBuffer(s) }));
    expect(planBatches(of(...Array(25).fill(1000))).map((b) => b.length)).toEqual([10, 10, 5]);
    const mib = 1024 * 1024;
    expect(planBatches(of(3 * mib, 3 * mib, 3 * mib, 20 * mib, 1)).map((b) => b.length)).toEqual([2, 1, 1, 1]);
    expect(planBatches([])).toEqual([]);
  });

  it('works out rate and time left from what was answered', () => {
    const p = progressAfter({ startedAt: 0, bytesSentThisRun: 0, bytesRemaining: 10_000_000 }, 2_500_000, 2000);
    expect(p).toEqual({ startedAt: 0, bytesSentThisRun: 2_500_000, bytesRemaining: 7_500_000, bytesPerSecond: 1_250_000, etaSeconds: 6 });
  });
});

describe('the outbox sends a large case in batches and resumes where it was cut', () => {
  it('a job of 30 instances goes in 3 requests, each answer recorded before the next request', async () => {
    const { db, clock, site, make, job } = setup();
    const j = caseJob(clock.now(), 30, 1000);
    await db.outboxJobs.put(j);
    const storedBeforeEachRequest: number[] = [];
    site.onStow = async () => {
      storedBeforeEachRequest.push((await job(j.id)).instances.filter((i) => i.state === 'stored').length);
    };
    await make().start();
    await until(async () => (await job(j.id)).state === 'sent', 'sent');
    expect(site.stowCalls.map((c) => c.length)).toEqual([10, 10, 10]);
    expect(storedBeforeEachRequest).toEqual([0, 10, 20]);
    expect([...site.storeCount.values()].every((n) => n === 1)).toBe(true);
    expect((await job(j.id)).attempts).toBe(1);
  });

  it('a link cut during the 3rd request re-sends only the 3rd batch onward, after asking the site about it', async () => {
    const { db, clock, site, make, job } = setup();
    const j = caseJob(clock.now(), 30, 1000);
    await db.outboxJobs.put(j);
    site.script = [
      (b, s) => (s.store(b.map((i) => i.sopInstanceUID)), { status: 200, stored: b.map((i) => i.sopInstanceUID), failed: [], unaccounted: [] }),
      (b, s) => (s.store(b.map((i) => i.sopInstanceUID)), { status: 200, stored: b.map((i) => i.sopInstanceUID), failed: [], unaccounted: [] }),
      () => {
        throw new StowError('no-answer', 'the connection dropped', true);
      },
    ];
    await make().start();
    await until(async () => (await job(j.id)).state === 'failed', 'failed after the cut');
    const cut = await job(j.id);
    expect(cut.instances.filter((i) => i.state === 'stored')).toHaveLength(20);
    expect(cut.uncertain).toBe(true);
    clock.advance(1000);
    await until(async () => (await job(j.id)).state === 'sent', 'sent after the retry');
    // The check asks only about what was not recorded stored; then only those go again.
    expect(site.findCalls).toEqual([j.instances.slice(20).map((i) => i.sopInstanceUID)]);
    expect(site.stowCalls.slice(3).flat()).toEqual(j.instances.slice(20).map((i) => i.sopInstanceUID));
    expect([...site.storeCount.values()].every((n) => n === 1)).toBe(true);
    expect(site.storeCount.size).toBe(30);
  });

  it('after an app restart mid-job, a new outbox sends only what had not been answered', async () => {
    const { db, clock, site, make, job } = setup();
    const j = caseJob(clock.now(), 30, 1000);
    await db.outboxJobs.put(j);
    const first = make();
    let calls = 0;
    site.onStow = async () => {
      calls += 1;
      // The app dies while the 2nd request is in flight (it never reaches the site).
      if (calls === 2) {
        first.stop();
        await new Promise(() => undefined);
      }
    };
    await first.start();
    await until(async () => (await job(j.id)).instances.filter((i) => i.state === 'stored').length === 10 && calls === 2, 'first batch stored, second in flight');
    site.onStow = undefined;
    const second = make();
    await second.start();
    await until(async () => (await job(j.id)).state === 'sent', 'sent by the restarted outbox');
    expect(site.stowCalls.slice(2).flat()).toEqual(j.instances.slice(10).map((i) => i.sopInstanceUID));
    expect(site.storeCount.size).toBe(30);
    expect([...site.storeCount.values()].every((n) => n === 1)).toBe(true);
  });

  it('going offline between batches pauses the job without an unknown outcome, and the rest goes when the network returns', async () => {
    const { db, clock, network, site, make, job } = setup();
    const j = caseJob(clock.now(), 30, 1000);
    await db.outboxJobs.put(j);
    site.onStow = () => {
      if (site.stowCalls.length === 1) network.online = false;
    };
    await make().start();
    await until(async () => (await job(j.id)).state === 'failed', 'paused');
    const paused = await job(j.id);
    expect(paused.uncertain).toBe(false);
    expect(paused.instances.filter((i) => i.state === 'stored')).toHaveLength(10);
    expect(paused.lastError).toBe('the network went away; the rest is sent when it returns');
    network.set(true);
    await until(async () => (await job(j.id)).state === 'sent', 'sent');
    expect(site.findCalls).toEqual([]);
    expect(site.stowCalls.map((c) => c.length)).toEqual([10, 10, 10]);
  });

  it('a small report job still goes in one request', async () => {
    const { db, clock, site, make, job } = setup();
    const j = reportJob(clock.now());
    await db.outboxJobs.put(j);
    await make().start();
    await until(async () => (await job(j.id)).state === 'sent', 'sent');
    expect(site.stowCalls).toHaveLength(1);
  });
});

describe('progress while sending', () => {
  it('the panel shows "n of N instances, x MB of y MB" and the rate and time left', async () => {
    const { db, clock, site, make, job } = setup();
    const j = caseJob(clock.now(), 30, 500_000);
    await db.outboxJobs.put(j);
    const outbox = make();
    let seen: OutboxState | undefined;
    site.onStow = async () => {
      // Each request "takes" 4 s: 5 MB per 4 s = 1.25 MB/s = 10 Mbit/s.
      clock.t += 4000;
    };
    const unsubscribe = outbox.subscribe(() => {
      const s = outbox.getState();
      const view = s.jobs.find((x) => x.id === j.id);
      if (view?.state === 'sending' && view.progress?.bytesPerSecond !== undefined && view.instances.filter((i) => i.state === 'stored').length === 10) seen ??= s;
    });
    await outbox.start();
    // 15 MB through the sealed fake IndexedDB: seconds on a loaded 2-core machine.
    await until(async () => (await job(j.id)).state === 'sent', 'sent', 20_000);
    unsubscribe();
    expect(seen).toBeDefined();
    const html = renderToStaticMarkup(createElement(OutboxPanel, { outbox: { getState: () => seen!, subscribe: () => () => undefined, retryNow: async () => undefined }, onClose: () => undefined }));
    expect(html).toContain('10 of 30 instances, 5.00 MB of 15.0 MB');
    expect(html).toContain('10.0 Mbit/s, about 8 s left');
    expect(outbox.getState().lastUploadBytesPerSecond).toBeCloseTo(1_250_000, -3);
    // Once sent: no rate, everything stored.
    const after = renderToStaticMarkup(createElement(OutboxPanel, { outbox, onClose: () => undefined }));
    expect(after).toContain('30 of 30 instances, 15.0 MB of 15.0 MB');
    expect(after).not.toContain('Mbit/s');
  });
});
