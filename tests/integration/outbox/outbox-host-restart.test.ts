import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Outbox } from '../../../src/renderer/outbox/outbox-scheduler';
import { isStow } from '../../support/fault-proxy';
import { freshDb, makeOutbox, reportJob, siteInstances, startHostProcess, startOutboxWorld, waitFor } from './harness';
import type { HostProcess, OutboxWorld } from './harness';

// Issue 6 (b): the browser host process is SIGKILLed while a STOW-RS request
// is in flight; a new host starts on the same data dir (the site and its
// password come from there), the page reloads (a new scheduler over the same
// IndexedDB) and the job completes — with exactly one copy at the site.

let world: OutboxWorld;
const hosts: HostProcess[] = [];
const outboxes: Outbox[] = [];

beforeAll(async () => {
  world = await startOutboxWorld({ inProcessHost: false });
});

afterAll(async () => {
  for (const o of outboxes) o.stop();
  for (const h of hosts) await h.kill('SIGTERM');
  await world?.close();
});

async function killMidSendAndResume(fault: 'hold-response' | 'hang', n: number): Promise<{ stowRequests: number; attempts: number }> {
  const first = await startHostProcess(world, hosts.length === 0 ? world.sitesFile : undefined);
  hosts.push(first);
  const db = freshDb();
  const job = await reportJob(world.study, n);
  await db.outboxJobs.put(job);
  world.proxy.resetCounters();
  world.proxy.addFault({ fault: { kind: fault }, match: isStow });

  const page1 = makeOutbox(world, db, first);
  outboxes.push(page1);
  await page1.start();
  // In flight: the site has the whole request (and, for hold-response, has stored it and answered).
  await waitFor(() => world.proxy.exchanges.some(isStow) || undefined, 'the STOW request at the site');
  expect((await db.outboxJobs.get(job.id))?.state).toBe('sending');
  // The page goes with it (a reload), in the same instant: it writes nothing more.
  const killed = first.kill('SIGKILL');
  page1.stop();
  await killed;
  world.proxy.clearFaults();
  expect((await db.outboxJobs.get(job.id))?.state).toBe('sending');

  const second = await startHostProcess(world);
  hosts.push(second);
  const page2 = makeOutbox(world, db, second);
  outboxes.push(page2);
  await page2.start();
  const done = await waitFor(async () => {
    const j = await db.outboxJobs.get(job.id);
    return j?.state === 'sent' ? j : undefined;
  }, 'job sent after the restart', 30_000);
  page2.stop();
  await second.kill('SIGTERM');

  const listed = await siteInstances(world.orthanc, world.study.studyInstanceUID);
  for (const i of job.instances) {
    expect(listed.filter((u) => u === i.sopInstanceUID)).toHaveLength(1);
    expect(world.receipts.count(world.orthanc, i.sopInstanceUID), `times the site received ${i.sopInstanceUID}`).toBe(1);
  }
  return { stowRequests: world.proxy.exchanges.filter(isStow).length, attempts: done.attempts };
}

describe('outbox across a browser host killed mid-send', () => {
  it('resumes after the host dies once the site has stored the report but before its answer came back, without sending it again', async () => {
    const r = await killMidSendAndResume('hold-response', 1);
    expect(r.stowRequests).toBe(1);
    expect(r.attempts).toBe(1);
  });

  it('resumes after the host dies while the upload had not reached the site, and sends it once', async () => {
    const r = await killMidSendAndResume('hang', 2);
    expect(r.stowRequests).toBe(2);
    expect(r.attempts).toBe(2);
  });
});
