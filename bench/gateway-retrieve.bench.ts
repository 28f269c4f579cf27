// How much the site gateway costs on the hot path of opening a study:
// retrieve every instance of a 24-slice CT (≈12.6 MB) with WADO-RS, once
// straight from Orthanc (the baseline) and once through the browser host's
// gateway (token, site lookup, credentials, streaming). Prints both and the
// ratio; ends with one JSON line. Bounded: 3 rounds each, loopback only.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startWebHost } from '../src/main/hosts/web/web-host';
import { unlockHost } from '../tests/support/e2e/unlock';
import { loadCtStudy, startOrthanc } from '../tests/support/orthanc';

/** The bench drives the host without a page; the host's no-page lock (90 s by default) would end it. */
const DAY_MS = 86_400_000;

const ROUNDS = 3;
const ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*';

async function retrieveAll(base: string, headers: Record<string, string>, study: string, series: string, sops: string[]): Promise<number> {
  let bytes = 0;
  // Four at a time, as the renderer's retriever does.
  const queue = [...sops];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let sop = queue.shift(); sop; sop = queue.shift()) {
        const res = await fetch(`${base}/studies/${study}/series/${series}/instances/${sop}`, { headers: { ...headers, accept: ACCEPT } });
        if (!res.ok) throw new Error(`retrieve failed: ${res.status}`);
        // Read first, then add: `bytes += await …` would read `bytes` before the await and lose updates.
        const n = (await res.arrayBuffer()).byteLength;
        bytes += n;
      }
    }),
  );
  return bytes;
}

async function timed(fn: () => Promise<number>): Promise<{ ms: number; bytes: number }> {
  let best = Infinity;
  let bytes = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    bytes = await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, bytes };
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-bench-'));
const orthanc = await startOrthanc();
try {
  const ct = await loadCtStudy(orthanc, { patientName: 'BENCH^CT', patientId: 'BENCH-1', slices: 24 });
  const sitesFile = path.join(tmp, 'sites.json');
  writeFileSync(sitesFile, JSON.stringify([{ name: 'Bench', url: orthanc.dicomWebUrl, auth: { type: 'basic', username: orthanc.username, password: orthanc.password } }]));
  const host = await startWebHost({ dataDir: path.join(tmp, 'data'), rendererDir: tmp, sitesFile, pageGoneLockMs: DAY_MS });
  // Unlocked as the lock screen would be; no page polls /api here, so the no-page lock is set out of the way.
  await unlockHost(host);
  try {
    const direct = await timed(() => retrieveAll(orthanc.dicomWebUrl, { authorization: orthanc.authorization }, ct.studyInstanceUID, ct.seriesInstanceUID, ct.sopInstanceUIDs));
    const viaGateway = await timed(() =>
      retrieveAll(`${host.origin}/sites/bench/dicom-web`, { 'x-telerad-token': host.token }, ct.studyInstanceUID, ct.seriesInstanceUID, ct.sopInstanceUIDs),
    );
    const mbps = (r: { ms: number; bytes: number }): number => Math.round((r.bytes / 1e6 / (r.ms / 1000)) * 10) / 10;
    const figures = { gateway_ms: Math.round(viaGateway.ms), gateway_MBps: mbps(viaGateway), bytes: viaGateway.bytes };
    const baseline = { direct_ms: Math.round(direct.ms), direct_MBps: mbps(direct), bytes: direct.bytes };
    const ratios = { gateway_over_direct_time: Math.round((viaGateway.ms / direct.ms) * 100) / 100 };
    console.log(`retrieve 24-slice CT (${(direct.bytes / 1e6).toFixed(1)} MB), best of ${ROUNDS}`);
    console.log(`  direct from Orthanc : ${baseline.direct_ms} ms  ${baseline.direct_MBps} MB/s   (baseline)`);
    console.log(`  through the gateway : ${figures.gateway_ms} ms  ${figures.gateway_MBps} MB/s   ratio ${ratios.gateway_over_direct_time}`);
    console.log(JSON.stringify({ bench: 'gateway-retrieve', figures, baseline, ratios }));
  } finally {
    await host.close();
  }
} finally {
  await orthanc.stop();
  rmSync(tmp, { recursive: true, force: true });
}
