// Opening a 300-slice 512×512 CT over a slow link: a throttled loopback proxy
// (10 Mbit/s shared, 50 ms RTT) sits between the browser host's site gateway
// and a real Orthanc 1.10.
//
//   baseline: one whole-study WADO-RS multipart request, original transfer
//             syntax (what a naive client does);
//   ours:     the renderer's StudyRetriever — QIDO-RS instance list, then
//             WADO-RS per instance, JPEG-LS lossless negotiated with the site
//             (probed on the first instance), 5 request slots, the hanging
//             slice of each series first, every instance stored in the cache
//             (Dexie on fake-indexeddb here). Lossless only (no previews): this
//             bench measures the transport; what a reader sees and when —
//             pixels on the canvas, previews included — is bench/progressive.
//
// Reported: time to the first image of each series (baseline: its first
// multipart part fully received; ours: the first instance stored in the
// cache), total time, and bytes on the wire as the proxy counts them (server
// → client, HTTP headers included, after Orthanc's gzip where it gzips — it
// does not gzip the whole-study stream, it does gzip each per-instance answer).
// A figure, not a test: it prints, then one JSON line. Loopback only; ≈3.5 min.
// BENCH_TRANSFER_SLICES=N for a smaller study; BENCH_TRANSFER_SKIP_BASELINE=1
// to time only ours (diagnosis).
import 'fake-indexeddb/auto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startWebHost } from '../src/main/hosts/web/web-host';
import { unlockHost } from '../tests/support/e2e/unlock';
import type { SiteSummary } from '../src/shared/ipc/contract';
import { createLogger, memorySink } from '../src/shared/log';
import { StudyCache } from '../src/renderer/cache/study-cache';
import { StudyRetriever } from '../src/renderer/cache/study-retriever';
import { TeleradDB } from '../src/renderer/cache/telerad-db';
import { WADO_INSTANCE_ACCEPT, createDicomWebApiFactory } from '../src/renderer/dicomweb/dicomweb-api';
import { loadCtStudy, startOrthanc } from '../tests/support/orthanc';
import { startThrottleProxy } from '../tests/support/throttle-proxy';

/** The bench drives the host without a page; the host's no-page lock (90 s by default) would end it. */
const DAY_MS = 86_400_000;

const SLICES = Number(process.env.BENCH_TRANSFER_SLICES ?? 300);
const BITS_PER_SECOND = 10e6;
const RTT_MS = 50;

interface Run {
  firstImageMs: Record<string, number>;
  totalMs: number;
  wireBytes: number;
}

const round = (x: number, digits = 0): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Reads a multipart stream to the end; notes when the first part is complete (the second delimiter has arrived). */
async function baseline(url: string, token: string): Promise<{ firstMs: number; totalMs: number; bodyBytes: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers: { accept: WADO_INSTANCE_ACCEPT, 'x-telerad-token': token } });
  if (res.status !== 200 || !res.body) throw new Error(`baseline retrieve failed: HTTP ${res.status}`);
  const boundary = /boundary=("?)([^";]+)\1/i.exec(res.headers.get('content-type') ?? '')?.[2];
  if (!boundary) throw new Error('baseline answer is not multipart');
  const delimiter = Buffer.from(`--${boundary}`);
  let seen = 0;
  let tail = Buffer.alloc(0);
  let firstMs = NaN;
  let bodyBytes = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bodyBytes += value.byteLength;
    if (seen < 2) {
      const window = Buffer.concat([tail, Buffer.from(value.buffer, value.byteOffset, value.byteLength)]);
      for (let at = window.indexOf(delimiter); at !== -1 && seen < 2; at = window.indexOf(delimiter, at + 1)) seen++;
      if (seen >= 2) firstMs = performance.now() - t0;
      else {
        // Keep only what a delimiter split across chunks needs, and forget delimiters already counted.
        seen = Math.min(seen, 1);
        tail = window.subarray(Math.max(0, window.length - delimiter.length + 1));
      }
    }
  }
  return { firstMs, totalMs: performance.now() - t0, bodyBytes };
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-bench-transfer-'));
const orthanc = await startOrthanc();
try {
  const tGen = performance.now();
  const ct = await loadCtStudy(orthanc, { patientName: 'BENCH^TRANSFER', patientId: 'BENCH-T', slices: SLICES });
  console.log(`generated and stored a ${SLICES}-slice 512×512 CT in ${round((performance.now() - tGen) / 1000, 1)} s`);

  const throttle = await startThrottleProxy({ upstreamPort: orthanc.port, bitsPerSecond: BITS_PER_SECOND, rttMs: RTT_MS });
  const sitesFile = path.join(tmp, 'sites.json');
  writeFileSync(
    sitesFile,
    JSON.stringify([{ name: 'Bench', url: `${throttle.url}/dicom-web`, auth: { type: 'basic', username: orthanc.username, password: orthanc.password } }]),
  );
  const rendererDir = path.join(tmp, 'renderer');
  mkdirSync(rendererDir);
  const host = await startWebHost({ dataDir: path.join(tmp, 'data'), rendererDir, sitesFile, gatewayTimeoutMs: 60_000, pageGoneLockMs: DAY_MS });
  // Unlocked as the lock screen would be; no page polls /api here, so the no-page lock is set out of the way.
  await unlockHost(host);
  try {
    const sites = (await (
      await fetch(`${host.origin}/api/sites.list`, { method: 'POST', headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' }, body: '{}' })
    ).json()) as { value: SiteSummary[] };
    const site = sites.value[0]!;
    const tokenFetch: typeof fetch = (input, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('x-telerad-token', host.token);
      return fetch(input, { ...init, headers });
    };

    // Ours first, with an empty cache and a site never probed.
    const db = new TeleradDB(`bench-transfer-${process.pid}`);
    const retriever = new StudyRetriever({
      cache: new StudyCache(db),
      dicomweb: createDicomWebApiFactory(host.origin, tokenFetch),
      log: createLogger('bench', memorySink()),
      previews: false,
    });
    throttle.resetCounters();
    const firstImageMs: Record<string, number> = {};
    let listedMs = NaN;
    const t0 = performance.now();
    const result = await retriever.ensureStudy({
      site,
      study: {
        studyInstanceUID: ct.studyInstanceUID,
        siteId: site.id,
        patientName: 'BENCH^TRANSFER',
        patientId: 'BENCH-T',
        studyDate: '20260101',
        modalities: ['CT'],
        description: 'bench',
        numInstances: SLICES,
      },
      // The first progress report comes once the instance list (QIDO-RS) is in.
      onProgress: () => {
        if (Number.isNaN(listedMs)) listedMs = performance.now() - t0;
      },
      onInstanceStored: (e) => {
        if (!(e.seriesInstanceUID in firstImageMs)) firstImageMs[e.seriesInstanceUID] = performance.now() - t0;
      },
    });
    const ours: Run = { firstImageMs, totalMs: performance.now() - t0, wireBytes: throttle.bytesDown() };
    if (!result.complete) throw new Error(`our retrieval did not complete: ${result.failure?.message}`);
    const stored = await db.instances.toArray();
    const jpegLs = stored.filter((i) => i.transferSyntaxUID === '1.2.840.10008.1.2.4.80').length;
    db.close();
    await db.delete();

    if (process.env.BENCH_TRANSFER_SKIP_BASELINE) {
      console.log(JSON.stringify({ listedMs, firstImageMs, totalMs: ours.totalMs }));
      process.exit(0);
    }
    throttle.resetCounters();
    const b = await baseline(`${host.origin}${site.gatewayPath}/studies/${ct.studyInstanceUID}`, host.token);
    const base: Run = { firstImageMs: { [ct.seriesInstanceUID]: b.firstMs }, totalMs: b.totalMs, wireBytes: throttle.bytesDown() };

    const series = ct.seriesInstanceUID;
    const figures = {
      slices: SLICES,
      first_image_ms: round(ours.firstImageMs[series] ?? NaN),
      instance_list_ms: round(listedMs),
      total_ms: round(ours.totalMs),
      wire_bytes: ours.wireBytes,
      stored_jpegls: jpegLs,
      effective_Mbps: round((ours.wireBytes * 8) / 1e6 / (ours.totalMs / 1000), 2),
    };
    const baselineFigures = {
      first_image_ms: round(base.firstImageMs[series] ?? NaN),
      total_ms: round(base.totalMs),
      wire_bytes: base.wireBytes,
      body_bytes: b.bodyBytes,
      effective_Mbps: round((base.wireBytes * 8) / 1e6 / (base.totalMs / 1000), 2),
    };
    const ratios = {
      first_image: round(figures.first_image_ms / baselineFigures.first_image_ms, 3),
      bytes: round(figures.wire_bytes / baselineFigures.wire_bytes, 3),
      total_time: round(figures.total_ms / baselineFigures.total_ms, 3),
    };
    const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
    const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    console.log(`\n${SLICES}-slice CT over ${BITS_PER_SECOND / 1e6} Mbit/s, ${RTT_MS} ms RTT (bytes: server → client at the proxy, headers included)`);
    console.log(`                         baseline (whole study, original)   ours (per instance, JPEG-LS, ×5)   ratio`);
    console.log(`  first image of series  ${s(baselineFigures.first_image_ms).padEnd(35)}${s(figures.first_image_ms).padEnd(35)}${ratios.first_image}`);
    console.log(`  total time             ${s(baselineFigures.total_ms).padEnd(35)}${s(figures.total_ms).padEnd(35)}${ratios.total_time}`);
    console.log(`  bytes on the wire      ${mb(baselineFigures.wire_bytes).padEnd(35)}${mb(figures.wire_bytes).padEnd(35)}${ratios.bytes}`);
    console.log(`  link use               ${`${baselineFigures.effective_Mbps} Mbit/s`.padEnd(35)}${`${figures.effective_Mbps} Mbit/s`.padEnd(35)}`);
    console.log(`  (ours stored ${jpegLs}/${SLICES} instances as JPEG-LS lossless; targets: first image ≤ 1 s, bytes ≤ 0.45×, time ≤ 0.5×)`);
    console.log(JSON.stringify({ bench: 'transfer', figures, baseline: baselineFigures, ratios }));
  } finally {
    await host.close();
    await throttle.close();
  }
} finally {
  await orthanc.stop();
  rmSync(tmp, { recursive: true, force: true });
}
