// A referral from a CD over a slow link (issue 7): a generated 300-slice
// 512×512 CT, explicit VR little endian as a CD holds it, under a DICOMDIR
// (tests/fixtures/dicomdir.ts: dcmmkdir, ISO 9660 names; it also holds one
// small X-ray), is imported with the app's importFiles, then sent through the
// app's outbox (batches of ≤ 8 MiB / 10 instances, each answer recorded in
// Dexie — fake-indexeddb here) and the browser host's gateway to a real
// Orthanc behind a throttled loopback link (tests/support/throttle-proxy.ts:
// 10 Mbit/s, 50 ms RTT). Ours: every image transcoded to JPEG-LS lossless
// (transcodeForSending with CharLS, in Node) before the job is written.
// Baseline: the same files sent in their original transfer syntax. A fresh
// Orthanc per run. Bytes are counted at the proxy, client → server, headers
// included. Ends with one JSON line.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { startWebHost } from '../src/main/hosts/web/web-host';
import { unlockHost } from '../tests/support/e2e/unlock';
import type { OutboxJobRecord } from '../src/renderer/cache/telerad-db';
import { importFiles } from '../src/renderer/case-import/import-files';
import { createCharlsFrameCodec } from '../src/renderer/case-send/jpegls-codec';
import type { CharlsModule } from '../src/renderer/case-send/jpegls-codec';
import { prepareCaseForSending } from '../src/renderer/case-send/prepare-send';
import type { TranscodeDeps } from '../src/renderer/case-send/transcode';
import { loadDcmjs } from '../src/renderer/lib/dicom/dcmjs-runtime';
import { planBatches } from '../src/renderer/outbox/outbox-batches';
import { entriesFromDirectory } from '../tests/fixtures/case-import-entries';
import { writeDicomdirFixture } from '../tests/fixtures/dicomdir';
import { freshDb, makeOutbox, siteInstances, SITE_ID, SITE_NAME } from '../tests/integration/outbox/harness';
import { startOrthanc } from '../tests/support/orthanc';
import { orthancReceipts } from '../tests/support/orthanc-receipts';
import { startThrottleProxy } from '../tests/support/throttle-proxy';

/** The bench drives the host without a page; the host's no-page lock (90 s by default) would end it. */
const DAY_MS = 86_400_000;

const SLICES = Number(process.env.BENCH_REFERRAL_SLICES ?? 300);
const BITS_PER_SECOND = 10_000_000;
const RTT_MS = 50;

const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;
const mb = (n: number): number => round(n / 1e6, 1);

interface SendFigures {
  prepareS: number;
  sendS: number;
  bytesUp: number;
  attempts: number;
  requests: number;
  payloadBytes: number;
  transcoded: number;
  keptAsIs: string[];
  duplicates: number;
}

async function sendRun(files: ArrayBuffer[], studyUID: string, compress: boolean, deps: TranscodeDeps, tmp: string): Promise<SendFigures> {
  const tPrep = performance.now();
  const prepared = await prepareCaseForSending(files, { compress, deps });
  const prepareS = (performance.now() - tPrep) / 1000;

  const receipts = orthancReceipts();
  const orthanc = await startOrthanc({ config: receipts.config });
  const throttle = await startThrottleProxy({ upstreamPort: orthanc.port, bitsPerSecond: BITS_PER_SECOND, rttMs: RTT_MS });
  const dir = mkdtempSync(path.join(tmp, compress ? 'jls-' : 'raw-'));
  const sitesFile = path.join(dir, 'sites.json');
  writeFileSync(sitesFile, JSON.stringify([{ name: SITE_NAME, url: `${throttle.url}/dicom-web`, auth: { type: 'basic', username: orthanc.username, password: orthanc.password } }]));
  const rendererDir = path.join(dir, 'renderer');
  mkdirSync(rendererDir);
  const host = await startWebHost({ dataDir: path.join(dir, 'data'), rendererDir, sitesFile, version: 'bench', gatewayTimeoutMs: 120_000, pageGoneLockMs: DAY_MS });
  // Unlocked as the lock screen would be; no page polls /api here, so the no-page lock is set out of the way.
  await unlockHost(host);
  const logLines: string[] = [];
  try {
    const db = freshDb();
    const now = Date.now();
    const job: OutboxJobRecord = {
      id: `referral-${compress ? 'jls' : 'raw'}`,
      siteId: SITE_ID,
      studyInstanceUID: studyUID,
      kind: 'referral',
      label: `Referral — CT ${SLICES} slices`,
      instances: prepared.instances,
      state: 'queued',
      attempts: 0,
      nextAttemptAt: now,
      uncertain: false,
      createdAt: now,
      updatedAt: now,
    };
    await db.outboxJobs.put(job);
    const outbox = makeOutbox({ logLines }, db, { origin: host.origin, token: host.token }, { backoff: {} });
    let delivered!: () => void;
    const done = new Promise<void>((r) => (delivered = r));
    outbox.onDelivered(() => delivered());
    throttle.resetCounters();
    const t0 = performance.now();
    await outbox.start();
    await done;
    const sendS = (performance.now() - t0) / 1000;
    outbox.stop();
    const listed = new Set(await siteInstances(orthanc, studyUID));
    const missing = job.instances.filter((i) => !listed.has(i.sopInstanceUID)).length;
    if (missing) throw new Error(`the outbox said delivered, but the site lacks ${missing} instance(s)\n${logLines.join('\n')}`);
    const counts = receipts.all(orthanc);
    const duplicates = job.instances.reduce((n, i) => n + Math.max(0, (counts.get(i.sopInstanceUID) ?? 0) - 1), 0);
    const sent = await db.outboxJobs.get(job.id);
    return {
      prepareS,
      sendS,
      bytesUp: throttle.bytesUp(),
      attempts: sent?.attempts ?? 0,
      requests: planBatches(prepared.instances).length,
      payloadBytes: prepared.bytes,
      transcoded: prepared.transcoded,
      keptAsIs: [...new Set(prepared.keptAsIs.map((k) => k.reason))],
      duplicates,
    };
  } finally {
    await host.close();
    await throttle.close();
    await orthanc.stop();
    receipts.dispose();
  }
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-bench-referral-'));
try {
  const tGen = performance.now();
  const cd = writeDicomdirFixture({ ctSlices: SLICES, rows: 512, columns: 512, parent: tmp });
  console.log(`generated a ${SLICES}-slice 512×512 CT (+ 1 X-ray) under a DICOMDIR in ${round((performance.now() - tGen) / 1000, 1)} s`);

  const tImport = performance.now();
  const imported = await importFiles(entriesFromDirectory(cd.dir));
  const importS = (performance.now() - tImport) / 1000;
  const instances = imported.studies.flatMap((s) => s.series.flatMap((se) => se.instances));
  if (imported.skipped.length) throw new Error(`import skipped ${imported.skipped.length}: ${imported.skipped.map((s) => s.reason).join('; ')}`);
  const ctStudy = imported.studies.find((s) => s.series.some((se) => se.modality === 'CT'))!;
  const ctFiles = ctStudy.series.filter((se) => se.modality === 'CT').flatMap((se) => se.instances.map((i) => i.bytes));
  const inBytes = ctFiles.reduce((n, b) => n + b.byteLength, 0);
  console.log(`imported ${instances.length} instances (${mb(instances.reduce((n, i) => n + i.size, 0))} MB) from the DICOMDIR in ${round(importS, 2)} s; sending the CT's ${ctFiles.length} (${mb(inBytes)} MB)`);

  const require = createRequire(import.meta.url);
  const factory = require('@cornerstonejs/codec-charls/wasmjs') as () => Promise<CharlsModule>;
  const deps: TranscodeDeps = { dcmjs: await loadDcmjs(), codec: createCharlsFrameCodec(await factory()) };

  const ours = await sendRun(ctFiles, ctStudy.studyInstanceUID, true, deps, tmp);
  const base = await sendRun(ctFiles, ctStudy.studyInstanceUID, false, deps, tmp);
  const row = (name: string, r: SendFigures): string =>
    `${name.padEnd(28)} prepare ${r.prepareS.toFixed(1).padStart(5)} s  send ${r.sendS.toFixed(1).padStart(6)} s  total ${(importS + r.prepareS + r.sendS).toFixed(1).padStart(6)} s  ${mb(r.bytesUp)} MB up  ${r.requests} STOW requests  ${r.attempts} attempt(s)  duplicates ${r.duplicates}`;
  console.log(row('original syntax (baseline)', base));
  console.log(row('JPEG-LS lossless (ours)', ours));
  if (ours.keptAsIs.length) console.log(`kept as they were: ${ours.keptAsIs.join('; ')}`);
  const figures = (r: SendFigures): Record<string, number> => ({
    import_s: round(importS),
    prepare_s: round(r.prepareS),
    send_s: round(r.sendS),
    total_s: round(importS + r.prepareS + r.sendS),
    bytes_sent_mb: mb(r.bytesUp),
    payload_mb: mb(r.payloadBytes),
    transcoded: r.transcoded,
    stow_requests: r.requests,
    duplicates: r.duplicates,
  });
  console.log(
    JSON.stringify({
      bench: 'referral',
      figures: figures(ours),
      baseline: figures(base),
      ratios: { bytes_sent: round(ours.bytesUp / base.bytesUp), send_time: round(ours.sendS / base.sendS), total_time: round((importS + ours.prepareS + ours.sendS) / (importS + base.prepareS + base.sendS)) },
      slices: ctFiles.length,
      link: { bitsPerSecond: BITS_PER_SECOND, rttMs: RTT_MS },
    }),
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
