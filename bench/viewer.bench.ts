// The reading viewer in Chromium (a figure, not a test): a generated 300-slice
// 512×512 CT, JPEG-LS lossless (dcmcjpls — what the app stores from Orthanc),
// stored in the app's cache and scrolled at full speed on a 1024×1024
// Cornerstone element, two full passes: frames per second, per-slice time to
// paint (median, p95) and the JS heap after the two passes, with the
// configured Cornerstone image cache alongside. Ours: the app's
// initCornerstone (decode workers from the standalone worker file, under its
// own CSP) and the viewer store's prefetch of 2 neighbours each side. Baseline:
// the same stack with cornerstone's defaults — webWorkerManager never
// initialised (the loader 4.13.2 then starts its own default workers from a
// blob: URL on the first decode: it has no main-thread decode path, in either
// of its bundles), no prefetch. Page: bench/viewer-page.ts, bundled twice with esbuild. Ends with
// one JSON line. BENCH_VIEWER_SLICES=N for a smaller study;
// BENCH_VIEWER_SYNTAX=raw for raw explicit VR little endian instead of JPEG-LS.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { chromium } from '@playwright/test';
import { generateCtSeries } from '../tests/fixtures/ct-phantom';
import { CONTENT_SECURITY_POLICY, DECODE_WORKER_CONTENT_SECURITY_POLICY, DECODE_WORKER_FILE } from '../src/shared/csp';
import type { PassFigures, ViewerPageFigures } from './viewer-page';

const SLICES = Number(process.env.BENCH_VIEWER_SLICES ?? 300);
const JPEG_LS = process.env.BENCH_VIEWER_SYNTAX !== 'raw';
const SYNTAX = JPEG_LS ? '1.2.840.10008.1.2.4.80' : '1.2.840.10008.1.2.1';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-bench-viewer-'));
const run = promisify(execFile);

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const at = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const mb = (b: number): number => round(b / 1e6);

const series = generateCtSeries({ patientName: 'BENCH^VIEWER', patientId: 'BENCH-VIEWER', slices: SLICES, rows: 512, columns: 512 });
let files: Uint8Array[] = series.instances.map((i) => i.bytes);
if (JPEG_LS) {
  // dcmcjpls, 2 at a time (the machine has 2 cores): the bytes Orthanc would hand the retriever.
  const out: Uint8Array[] = new Array<Uint8Array>(files.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      while (next < files.length) {
        const i = next++;
        const src = path.join(tmp, `${i}.dcm`);
        const dst = path.join(tmp, `${i}.jls.dcm`);
        writeFileSync(src, files[i]!);
        await run('dcmcjpls', [src, dst]);
        out[i] = readFileSync(dst);
        rmSync(src);
        rmSync(dst);
      }
    }),
  );
  files = out;
}

const bundles = new Map<string, Uint8Array>();
for (const mode of ['app', 'baseline'] as const) {
  const result = await build({
    entryPoints: [path.join(root, 'bench/viewer-page.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    minify: true,
    define: { 'process.env.NODE_ENV': '"production"', __VIEWER_MODE__: JSON.stringify(mode) },
    nodePaths: [path.join(root, 'node_modules')],
    logLevel: 'error',
  });
  bundles.set(mode, result.outputFiles[0]!.contents);
}
const workerJs = readFileSync(path.join(root, 'node_modules/cornerstone-wado-image-loader/dist', DECODE_WORKER_FILE));
// Cornerstone's defaults start the decode workers from an inline blob: URL, and a blob: worker runs
// the codecs' Emscripten glue (and its data: WASM fetch) under the page's policy: the app's policy
// plus what the worker's own policy grants (eval, data:/blob: fetches) and blob: workers.
const BASELINE_CSP = CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'")
  .replace("worker-src 'self'", "worker-src 'self' blob:")
  .replace("connect-src 'self'", "connect-src 'self' data: blob:");

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const baseline = url.searchParams.get('mode') === 'baseline' || url.pathname === '/baseline.js';
  const send = (status: number, type: string, body: Uint8Array | string, csp = baseline ? BASELINE_CSP : CONTENT_SECURITY_POLICY): void => {
    res.writeHead(status, { 'content-type': type, 'content-security-policy': csp, 'cache-control': 'no-store' });
    res.end(body);
  };
  const ct = /^\/ct\/(\d+)$/.exec(url.pathname);
  if (ct) {
    const f = files[Number(ct[1])];
    return f ? send(200, 'application/dicom', f) : send(404, 'text/plain', 'not found');
  }
  if (url.pathname === '/app.js') return send(200, 'text/javascript', bundles.get('app')!);
  if (url.pathname === '/baseline.js') return send(200, 'text/javascript', bundles.get('baseline')!);
  if (url.pathname === `/${DECODE_WORKER_FILE}`) return send(200, 'text/javascript', workerJs, DECODE_WORKER_CONTENT_SECURITY_POLICY);
  if (url.pathname === '/') {
    const script = baseline ? '/baseline.js' : '/app.js';
    return send(200, 'text/html; charset=utf-8', `<!doctype html><meta charset="utf-8"><title>viewer bench</title><body><script src="${script}"></script></body>`);
  }
  send(404, 'text/plain', 'not found');
});

interface Summary {
  fps: number;
  paintMedianMs: number;
  paintP95Ms: number;
  readyMedianMs: number;
  readyP95Ms: number;
}
const summarize = (p: PassFigures): Summary => ({
  fps: round(p.paintMs.length / (p.elapsedMs / 1000)),
  paintMedianMs: round(at(p.paintMs, 0.5), 2),
  paintP95Ms: round(at(p.paintMs, 0.95), 2),
  readyMedianMs: round(at(p.readyMs, 0.5), 2),
  readyP95Ms: round(at(p.readyMs, 0.95), 2),
});

try {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--enable-precise-memory-info',
      '--js-flags=--expose-gc',
    ],
  });
  const results: Partial<Record<'app' | 'baseline', ViewerPageFigures>> = {};
  try {
    for (const mode of ['app', 'baseline'] as const) {
      // A context (and renderer) per mode: the heap figure is one page's alone.
      const context = await browser.newContext({ viewport: { width: 1280, height: 1100 } });
      const page = await context.newPage();
      const violations: string[] = [];
      page.on('pageerror', (err) => console.error(`page error (${mode}): ${err.message}`));
      page.on('console', (msg) => {
        if (process.env.BENCH_VIEWER_DEBUG) console.error(`[${mode}] ${msg.text()}`);
        if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
      });
      await page.goto(`${origin}/?mode=${mode}`);
      await page.waitForFunction(() => typeof window.__runViewerBench === 'function');
      results[mode] = (await page.evaluate(
        ([n, study, ser, ts]) => window.__runViewerBench!(n, study, ser, ts),
        [SLICES, series.studyInstanceUID, series.seriesInstanceUID, SYNTAX] as const,
      )) as ViewerPageFigures;
      if (violations.length) throw new Error(`CSP refusals in the ${mode} page: ${violations.join('; ')}`);
      await context.close();
    }
  } finally {
    await browser.close();
  }
  const app = results.app!;
  const base = results.baseline!;
  const summary = (f: ViewerPageFigures): Record<string, number> => {
    const [cold, warm] = f.passes.map(summarize) as [Summary, Summary];
    const all: PassFigures = {
      paintMs: f.passes.flatMap((p) => p.paintMs),
      readyMs: f.passes.flatMap((p) => p.readyMs),
      elapsedMs: f.passes.reduce((s, p) => s + p.elapsedMs, 0),
    };
    const both = summarize(all);
    return {
      fps: both.fps,
      paintMedianMs: both.paintMedianMs,
      paintP95Ms: both.paintP95Ms,
      firstPassFps: cold.fps,
      firstPassPaintMedianMs: cold.paintMedianMs,
      firstPassPaintP95Ms: cold.paintP95Ms,
      firstPassReadyP95Ms: cold.readyP95Ms,
      secondPassFps: warm.fps,
      secondPassPaintMedianMs: warm.paintMedianMs,
      secondPassPaintP95Ms: warm.paintP95Ms,
      readyMedianMs: both.readyMedianMs,
      readyP95Ms: both.readyP95Ms,
      heapMB: mb(f.heapBytes),
      heapBeforeMB: mb(f.heapBeforeBytes),
      imageCacheMaxMB: mb(f.imageCacheMaxBytes),
      imageCacheUsedMB: mb(f.imageCacheUsedBytes),
      frameIntervalMs: round(f.frameIntervalMs, 2),
    };
  };
  const figures = summary(app);
  const baseline = summary(base);
  const ratios = {
    fps: round(figures.fps! / baseline.fps!, 2),
    firstPassFps: round(figures.firstPassFps! / baseline.firstPassFps!, 2),
    paintMedian: round(figures.paintMedianMs! / baseline.paintMedianMs!, 2),
    paintP95: round(figures.paintP95Ms! / baseline.paintP95Ms!, 2),
    firstPassPaintP95: round(figures.firstPassPaintP95Ms! / baseline.firstPassPaintP95Ms!, 2),
    heap: round(figures.heapMB! / baseline.heapMB!, 2),
  };
  const line = (label: string, ours: unknown, theirs: unknown, ratio = ''): string =>
    `${label.padEnd(40)}${String(ours).padStart(16)}${String(theirs).padStart(16)}${ratio.padStart(9)}`;
  console.log(
    `${app.slices} slices 512×512, ${JPEG_LS ? 'JPEG-LS lossless' : 'raw explicit VR LE'} (${mb(app.storedBytes)} MB in the cache), 1024×1024 element, ` +
      `Chromium headless, frame interval ${figures.frameIntervalMs} ms, ours with ${app.decodeWorkers} decode workers`,
  );
  console.log(line('', 'ours', 'baseline', 'ratio'));
  console.log(line('fps, both passes', figures.fps, baseline.fps, `${ratios.fps}×`));
  console.log(line('time to paint, median (ms)', figures.paintMedianMs, baseline.paintMedianMs, `${ratios.paintMedian}×`));
  console.log(line('time to paint, p95 (ms)', figures.paintP95Ms, baseline.paintP95Ms, `${ratios.paintP95}×`));
  console.log(line('first pass (decoding): fps', figures.firstPassFps, baseline.firstPassFps, `${ratios.firstPassFps}×`));
  console.log(line('first pass: paint median / p95 (ms)', `${figures.firstPassPaintMedianMs} / ${figures.firstPassPaintP95Ms}`, `${baseline.firstPassPaintMedianMs} / ${baseline.firstPassPaintP95Ms}`));
  console.log(line('second pass (cached): fps', figures.secondPassFps, baseline.secondPassFps));
  console.log(line('second pass: paint median / p95 (ms)', `${figures.secondPassPaintMedianMs} / ${figures.secondPassPaintP95Ms}`, `${baseline.secondPassPaintMedianMs} / ${baseline.secondPassPaintP95Ms}`));
  console.log(line('ready to display, median / p95 (ms)', `${figures.readyMedianMs} / ${figures.readyP95Ms}`, `${baseline.readyMedianMs} / ${baseline.readyP95Ms}`));
  console.log(line('JS heap after two passes (MB)', figures.heapMB, baseline.heapMB, `${ratios.heap}×`));
  console.log(line('image cache used / max (MB)', `${figures.imageCacheUsedMB} / ${figures.imageCacheMaxMB}`, `${baseline.imageCacheUsedMB} / ${baseline.imageCacheMaxMB}`));
  const met = (ok: boolean): string => (ok ? 'met' : 'MISSED');
  console.log(
    `targets: ≥ 60 fps: ${met(figures.fps! >= 60)}; p95 ≤ 16 ms: ${met(figures.paintP95Ms! <= 16)}; ` +
      `heap bounded by the image cache (${figures.imageCacheMaxMB} MB): ${met(figures.heapMB! <= figures.imageCacheMaxMB! + figures.heapBeforeMB!)}`,
  );
  console.log(JSON.stringify({ bench: 'viewer', figures, baseline, ratios, slices: app.slices, transferSyntaxUID: SYNTAX, storedMB: mb(app.storedBytes) }));
} finally {
  server.close();
  rmSync(tmp, { recursive: true, force: true });
}
