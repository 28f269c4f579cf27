import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxJobRecord } from '../../../src/renderer/cache/telerad-db';
import { createCharlsFrameCodec } from '../../../src/renderer/case-send/jpegls-codec';
import type { CharlsModule } from '../../../src/renderer/case-send/jpegls-codec';
import { prepareCaseForSending } from '../../../src/renderer/case-send/prepare-send';
import type { TranscodeDeps } from '../../../src/renderer/case-send/transcode';
import { JPEG_LS_LOSSLESS } from '../../../src/renderer/case-send/transcode';
import { loadDcmjs } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import type { Outbox } from '../../../src/renderer/outbox/outbox-scheduler';
import { buildStowBody } from '../../../src/renderer/outbox/stow-client';
import { generateCtSeries } from '../../fixtures/ct-phantom';
import { isStow } from '../../support/fault-proxy';
import { freshDb, makeOutbox, SITE_ID, siteInstances, startOutboxWorld, waitFor } from '../outbox/harness';
import type { OutboxWorld } from '../outbox/harness';

// Issue 7, "send": a referral CT of 30 slices, JPEG-LS compressed here, goes
// to a real Orthanc through the browser host's gateway and the fault proxy in
// batches of 10. The link is cut once; afterwards only what had not arrived
// is sent again, and the site received every instance exactly once.

let world: OutboxWorld;
let outbox: Outbox | undefined;
let deps: TranscodeDeps;

beforeAll(async () => {
  world = await startOutboxWorld();
  const require = createRequire(import.meta.url);
  const factory = require('@cornerstonejs/codec-charls/wasmjs') as () => Promise<CharlsModule>;
  deps = { dcmjs: await loadDcmjs(), codec: createCharlsFrameCodec(await factory()) };
}, 60_000);

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

async function referralJob(n: number): Promise<OutboxJobRecord> {
  const ct = generateCtSeries({ patientName: 'REFERRAL^SEND', patientId: `RS-${n}`, slices: 30, rows: 64, columns: 64, seed: n });
  const prepared = await prepareCaseForSending(
    ct.instances.map((i) => i.bytes.slice().buffer),
    { compress: true, deps },
  );
  expect(prepared.transcoded).toBe(30);
  const now = Date.now();
  return {
    id: `referral-${n}`,
    siteId: SITE_ID,
    studyInstanceUID: ct.studyInstanceUID,
    kind: 'referral',
    label: `Referral ${n} — CT, REFERRAL^SEND`,
    instances: prepared.instances,
    state: 'queued',
    attempts: 0,
    nextAttemptAt: now,
    uncertain: false,
    createdAt: now,
    updatedAt: now,
  };
}

async function deliveredOnce(job: OutboxJobRecord, db: ReturnType<typeof freshDb>): Promise<void> {
  await waitFor(async () => ((await db.outboxJobs.get(job.id))?.state === 'sent' ? true : undefined), `${job.label} sent`, 60_000);
  const listed = await siteInstances(world.orthanc, job.studyInstanceUID);
  expect(listed.sort()).toEqual(job.instances.map((i) => i.sopInstanceUID).sort());
  const received = world.receipts.all(world.orthanc);
  for (const i of job.instances) expect(received.get(i.sopInstanceUID), `times the site received ${i.sopInstanceUID}`).toBe(1);
}

/** The STOW request body size of the job's `k`th batch of 10 (the outbox's boundary is 47 characters). */
const batchRequestBytes = (job: OutboxJobRecord, k: number): number => buildStowBody(job.instances.slice(10 * k, 10 * k + 10), 'x'.repeat(47)).body.byteLength;

describe('sending a referral case in batches to a real Orthanc', () => {
  it('goes in 3 requests of 10, and the site stores the JPEG-LS files as sent', async () => {
    const db = freshDb();
    outbox = makeOutbox(world, db, host());
    await outbox.start();
    world.proxy.resetCounters();
    const job = await referralJob(1);
    await db.outboxJobs.put(job);
    outbox.wake();
    await deliveredOnce(job, db);
    expect(world.proxy.exchanges.filter(isStow)).toHaveLength(3);
    // The site keeps the transfer syntax it was sent.
    const uid = job.instances[0]!.sopInstanceUID;
    const res = await fetch(`${world.orthanc.baseUrl}/tools/lookup`, { method: 'POST', body: uid, headers: { authorization: world.orthanc.authorization } });
    const [found] = (await res.json()) as Array<{ ID: string }>;
    const meta = await fetch(`${world.orthanc.baseUrl}/instances/${found!.ID}/metadata/TransferSyntax`, { headers: { authorization: world.orthanc.authorization } });
    expect(await meta.text()).toBe(JPEG_LS_LOSSLESS);
  });

  it('a cut in the 3rd upload re-sends only the 3rd batch; nothing arrives twice', async () => {
    const db = freshDb();
    outbox = makeOutbox(world, db, host());
    await outbox.start();
    world.proxy.resetCounters();
    const job = await referralJob(2);
    world.proxy.addFault({ fault: { kind: 'cut-at', offset: Math.floor(batchRequestBytes(job, 2) / 2) }, match: isStow, skip: 2 });
    await db.outboxJobs.put(job);
    outbox.wake();
    await deliveredOnce(job, db);
    const posts = world.proxy.exchanges.filter(isStow);
    expect(posts.map((p) => p.fault ?? 'ok')).toEqual(['ok', 'ok', 'cut-at', 'ok']);
    const sent = await db.outboxJobs.get(job.id);
    expect(sent?.attempts).toBe(2);
  });

  it('a cut in the answer to the 2nd batch (the site stored it) sends only the 3rd batch afterwards', async () => {
    const db = freshDb();
    outbox = makeOutbox(world, db, host());
    await outbox.start();
    world.proxy.resetCounters();
    const job = await referralJob(3);
    world.proxy.addFault({ fault: { kind: 'cut-at', offset: batchRequestBytes(job, 1) + 20 }, match: isStow, skip: 1 });
    await db.outboxJobs.put(job);
    outbox.wake();
    await deliveredOnce(job, db);
    // batch 1, batch 2 (answer lost), then — after asking the site, which has batch 2 — batch 3 only.
    expect(world.proxy.exchanges.filter(isStow).map((p) => p.fault ?? 'ok')).toEqual(['ok', 'cut-at', 'ok']);
  });
});
