import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxJobRecord } from '../../../src/renderer/cache/telerad-db';
import type { Outbox } from '../../../src/renderer/outbox/outbox-scheduler';
import { buildStowBody } from '../../../src/renderer/outbox/stow-client';
import { seededRandom } from '../../fixtures/dicom-common';
import { isStow } from '../../support/fault-proxy';
import { freshDb, makeOutbox, reportJob, siteInstances, startOutboxWorld, waitFor } from './harness';
import type { OutboxWorld } from './harness';

// Issue 6 acceptance for the outbox: a real Orthanc (authentication on) behind
// a loopback fault proxy, reached through the browser host's own site gateway.
// "Exactly one copy" is checked twice: the site's instance list (Orthanc keeps
// one per UID whatever happens) and the number of times Orthanc *received*
// each instance (a Lua hook), which a re-send after an unknown outcome raises.

let world: OutboxWorld;
let outbox: Outbox | undefined;

beforeAll(async () => {
  world = await startOutboxWorld();
});

afterAll(async () => {
  await world?.close();
});

afterEach((ctx) => {
  outbox?.stop();
  outbox = undefined;
  world.proxy.clearFaults();
  if (ctx.task.result?.state === 'fail') process.stderr.write(`outbox log:\n${world.logLines.slice(-40).join('\n')}\n`);
  world.logLines.length = 0;
});

const host = (): { origin: string; token: string } => ({ origin: world.host!.origin, token: world.host!.token });
const stowRequests = (): number => world.proxy.exchanges.filter(isStow).length;

async function expectDeliveredOnce(job: OutboxJobRecord, db: ReturnType<typeof freshDb>): Promise<OutboxJobRecord> {
  const done = await waitFor(async () => {
    const j = await db.outboxJobs.get(job.id);
    return j?.state === 'sent' ? j : undefined;
  }, `job ${job.label} sent`);
  const listed = await siteInstances(world.orthanc, world.study.studyInstanceUID);
  for (const i of job.instances) {
    expect(listed.filter((u) => u === i.sopInstanceUID), `copies of ${i.sopInstanceUID} at the site`).toHaveLength(1);
    expect(world.receipts.count(world.orthanc, i.sopInstanceUID), `times the site received ${i.sopInstanceUID}`).toBe(1);
  }
  return done;
}

describe('outbox delivery to a real Orthanc through the gateway', () => {
  it('delivers a report (SR + PDF) into its CT study once, and tells the listener', async () => {
    const db = freshDb();
    outbox = makeOutbox(world, db, host());
    const delivered: string[] = [];
    outbox.onDelivered((d) => delivered.push(`${d.label} → ${d.siteName}`));
    const job = await reportJob(world.study, 0);
    await db.outboxJobs.put(job);
    await outbox.start();
    const done = await expectDeliveredOnce(job, db);
    expect(done.attempts).toBe(1);
    expect(delivered).toEqual([`${job.label} → Hospital A`]);
  });

  it('survives the connection cut at 50 seeded byte offsets across the upload and the answer: one copy each, nothing lost', async () => {
    const db = freshDb();
    outbox = makeOutbox(world, db, host());
    await outbox.start();
    // One clean delivery gives the size of the site's answer on the wire.
    world.proxy.resetCounters();
    const probe = await reportJob(world.study, 100);
    await db.outboxJobs.put(probe);
    outbox.wake();
    await expectDeliveredOnce(probe, db);
    const answerBytes = world.proxy.exchanges.find(isStow)!.wireBytes;
    expect(answerBytes).toBeGreaterThan(0);

    const rand = seededRandom(0x0b0c);
    const started = Date.now();
    const cutsInRequest: number[] = [];
    for (let k = 0; k < 50; k++) {
      const job = await reportJob(world.study, 101 + k);
      const requestBytes = buildStowBody(job.instances, 'x'.repeat(47)).body.byteLength;
      const offset = Math.floor(rand() * (requestBytes + answerBytes));
      if (offset < requestBytes) cutsInRequest.push(offset);
      world.proxy.addFault({ fault: { kind: 'cut-at', offset }, match: isStow });
      world.proxy.resetCounters();
      await db.outboxJobs.put(job);
      outbox.wake();
      await expectDeliveredOnce(job, db);
      const posts = world.proxy.exchanges.filter(isStow);
      expect(posts[0]?.fault, `the cut at byte ${offset} happened`).toBe('cut-at');
      // Cut before the site had the whole request: sent again. Cut after: found at the site, not sent again.
      expect(posts, `STOW requests after a cut at byte ${offset} of ${requestBytes} + ${answerBytes}`).toHaveLength(offset < requestBytes ? 2 : 1);
      world.proxy.clearFaults();
    }
    // Both halves were exercised: cuts before the site had the whole request, and after it had answered.
    expect(cutsInRequest.length).toBeGreaterThan(10);
    expect(cutsInRequest.length).toBeLessThan(50);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(await db.outboxJobs.where('state').notEqual('sent').count()).toBe(0);
  });

  it('retries after 503 twice without duplicating the report: three requests, one copy', async () => {
    const db = freshDb();
    outbox = makeOutbox(world, db, host());
    world.proxy.resetCounters();
    world.proxy.addFault({ fault: { kind: 'status', status: 503 }, match: isStow, times: 2 });
    const job = await reportJob(world.study, 200);
    await db.outboxJobs.put(job);
    await outbox.start();
    const done = await expectDeliveredOnce(job, db);
    expect(stowRequests()).toBe(3);
    expect(done.attempts).toBe(3);
  });

  /**
   * The site stores the report, and the answer that comes back cannot be read: a long backoff keeps the job
   * waiting in 'failed' (outcome uncertain) until the user retries, and the retry's check finds it stored.
   */
  async function storedBehindAnUnreadableAnswer(body: 'malformed-json' | 'html-page', reportIndex: number, error: RegExp): Promise<void> {
    const db = freshDb();
    outbox = makeOutbox(world, db, host(), { backoff: { baseMs: 60_000, capMs: 60_000 } });
    world.proxy.resetCounters();
    world.proxy.addFault({ fault: { kind: 'rewrite', body }, match: isStow });
    const job = await reportJob(world.study, reportIndex);
    await db.outboxJobs.put(job);
    await outbox.start();
    const failed = await waitFor(async () => {
      const j = await db.outboxJobs.get(job.id);
      return j?.state === 'failed' ? j : undefined;
    }, 'job failed');
    expect(failed.lastError).toMatch(error);
    // Not a final refusal: the outcome is unknown, so the next try asks the site first.
    expect(failed.uncertain).toBe(true);
    await waitFor(() => outbox!.getState().jobs.find((j) => j.id === job.id && j.state === 'failed'), 'panel shows the failure');
    expect(outbox.getState().unsent).toBe(1);

    // The fault is gone (it fired once); the user retries.
    await outbox.retryNow(job.id);
    const done = await expectDeliveredOnce(job, db);
    // The site had stored it behind the answer: the check found it, nothing was posted again.
    expect(stowRequests()).toBe(1);
    expect(done.attempts).toBe(1);
  }

  it('marks a malformed answer failed with a readable reason, keeps the job, and a retry finds the report already stored', async () => {
    await storedBehindAnUnreadableAnswer('malformed-json', 300, /^the site answered HTTP 200 with a body that is not JSON \("/);
  });

  it('keeps a STOW answered 200 text/html uncertain, and the retry finds the report already stored: one copy', async () => {
    // A portal in front of the site answers with a page instead of the STOW-RS response.
    await storedBehindAnUnreadableAnswer('html-page', 400, /HTTP 200 with an empty body/);
  });
});
