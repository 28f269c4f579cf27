// The reading viewer in Chromium (a figure, not a test): a generated 300-slice
// 512×512 CT, JPEG-LS lossless (dcmcjpls — what the app stores from Orthanc),
// stored in the app's cache and scrolled at full speed — one new slice asked
// for per animation frame — on a 1024×1024 Cornerstone element, two full
// passes: frames per second and dropped frames, per slice input → painted,
// the paint work itself and paint-to-paint interval (median, p95), and the JS
// heap before and after the two passes with the configured Cornerstone image
// cache alongside. Ours: the app's initCornerstone (decode workers from the
// standalone worker file, under its own CSP; 512 MiB image cache) and the
// viewer's stack preloader. Baseline: the same stack with cornerstone's
// defaults — webWorkerManager never initialised (the loader 4.13.2 then starts
// its own default workers from a blob: URL on the first decode: it has no
// main-thread decode path, in either of its bundles), no prefetch. Page:
// bench/viewer-page.ts, bundled twice with esbuild. Ends with
// one JSON line. BENCH_VIEWER_SLICES=N for a smaller study;
// BENCH_VIEWER_SYNTAX=raw for raw explicit VR little endian instead of JPEG-LS;
// BENCH_VIEWER_CONCURRENCY=N for N preloads in flight instead of the viewer's two per decode worker.
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
    define: { 'process.env.NODE_ENV': '"production"', __VIEWER_MODE__: JSON.stringify(mode), __PRELOAD_CONCURRENCY__: String(Number(process.env.BENCH_VIEWER_CONCURRENCY ?? 0)) },
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
  droppedFrames: number;
  inputMedianMs: number;
  inputP95Ms: number;
  workMedianMs: number;
  workP95Ms: number;
  intervalMedianMs: number;
  intervalP95Ms: number;
  readyMedianMs: number;
  readyP95Ms: number;
}
const summarize = (p: PassFigures): Summary => ({
  fps: round(p.inputToPaintMs.length / (p.elapsedMs / 1000)),
  droppedFrames: p.droppedFrames,
  inputMedianMs: round(at(p.inputToPaintMs, 0.5), 2),
  inputP95Ms: round(at(p.inputToPaintMs, 0.95), 2),
  workMedianMs: round(at(p.paintWorkMs, 0.5), 2),
  workP95Ms: round(at(p.paintWorkMs, 0.95), 2),
  intervalMedianMs: round(at(p.paintIntervalMs, 0.5), 2),
  intervalP95Ms: round(at(p.paintIntervalMs, 0.95), 2),
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
  // The machine is shared: the load average says how much of its 2 cores the run had.
  const loadBefore = os.loadavg()[0]!;
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
  const loadAfter = os.loadavg()[0]!;
  const app = results.app!;
  const base = results.baseline!;
  const summary = (f: ViewerPageFigures): Record<string, number> => {
    const [cold, warm] = f.passes.map(summarize) as [Summary, Summary];
    const all: PassFigures = {
      inputToPaintMs: f.passes.flatMap((p) => p.inputToPaintMs),
      paintWorkMs: f.passes.flatMap((p) => p.paintWorkMs),
      paintIntervalMs: f.passes.flatMap((p) => p.paintIntervalMs),
      readyMs: f.passes.flatMap((p) => p.readyMs),
      droppedFrames: f.passes.reduce((s, p) => s + p.droppedFrames, 0),
      elapsedMs: f.passes.reduce((s, p) => s + p.elapsedMs, 0),
    };
    const both = summarize(all);
    return {
      fps: both.fps,
      droppedFrames: both.droppedFrames,
      inputToPaintMedianMs: both.inputMedianMs,
      inputToPaintP95Ms: both.inputP95Ms,
      paintWorkMedianMs: both.workMedianMs,
      paintWorkP95Ms: both.workP95Ms,
      paintIntervalMedianMs: both.intervalMedianMs,
      paintIntervalP95Ms: both.intervalP95Ms,
      firstPassFps: cold.fps,
      firstPassDroppedFrames: cold.droppedFrames,
      firstPassInputToPaintP95Ms: cold.inputP95Ms,
      firstPassReadyP95Ms: cold.readyP95Ms,
      secondPassFps: warm.fps,
      secondPassDroppedFrames: warm.droppedFrames,
      secondPassInputToPaintMedianMs: warm.inputMedianMs,
      secondPassInputToPaintP95Ms: warm.inputP95Ms,
      readyMedianMs: both.readyMedianMs,
      readyP95Ms: both.readyP95Ms,
      heapMB: mb(f.heapBytes),
      heapBeforeMB: mb(f.heapBeforeBytes),
      imageCacheMaxMB: mb(f.imageCacheMaxBytes),
      imageCacheUsedMB: mb(f.imageCacheUsedBytes),
      imagesCached: f.imagesCached,
      frameIntervalMs: round(f.frameIntervalMs, 2),
      preloadAllMs: round(f.preloadAllMs, 0),
    };
  };
  const figures = summary(app);
  const baseline = summary(base);
  const ratio = (a: number | undefined, b: number | undefined): number => (b ? round(a! / b, 2) : NaN);
  const ratios = {
    fps: ratio(figures.fps, baseline.fps),
    firstPassFps: ratio(figures.firstPassFps, baseline.firstPassFps),
    inputToPaintMedian: ratio(figures.inputToPaintMedianMs, baseline.inputToPaintMedianMs),
    inputToPaintP95: ratio(figures.inputToPaintP95Ms, baseline.inputToPaintP95Ms),
    paintIntervalP95: ratio(figures.paintIntervalP95Ms, baseline.paintIntervalP95Ms),
    heap: ratio(figures.heapMB, baseline.heapMB),
  };
  const line = (label: string, ours: unknown, theirs: unknown, r = ''): string =>
    `${label.padEnd(44)}${String(ours).padStart(16)}${String(theirs).padStart(16)}${r.padStart(9)}`;
  const pair = (a: unknown, b: unknown): string => `${String(a)} / ${String(b)}`;
  console.log(
    `${app.slices} slices 512×512, ${JPEG_LS ? 'JPEG-LS lossless' : 'raw explicit VR LE'} (${mb(app.storedBytes)} MB in the cache), 1024×1024 element, ` +
      `Chromium headless, frame interval ${figures.frameIntervalMs} ms; one slice asked for per animation frame; ` +
      `ours: ${app.decodeWorkers} decode workers, preloader window ${app.preloadWindow}, ${app.preloadConcurrency} loads in flight; ` +
      `load average ${round(loadBefore, 2)} → ${round(loadAfter, 2)} on ${os.cpus().length} cores`,
  );
  console.log(line('', 'ours', 'baseline', 'ratio'));
  console.log(line('fps, both passes', figures.fps, baseline.fps, `${ratios.fps}×`));
  console.log(line('dropped frames, both passes', figures.droppedFrames, baseline.droppedFrames));
  console.log(line('input → painted, median / p95 (ms)', pair(figures.inputToPaintMedianMs, figures.inputToPaintP95Ms), pair(baseline.inputToPaintMedianMs, baseline.inputToPaintP95Ms)));
  console.log(line('paint work, median / p95 (ms)', pair(figures.paintWorkMedianMs, figures.paintWorkP95Ms), pair(baseline.paintWorkMedianMs, baseline.paintWorkP95Ms)));
  console.log(line('paint to next paint, median / p95 (ms)', pair(figures.paintIntervalMedianMs, figures.paintIntervalP95Ms), pair(baseline.paintIntervalMedianMs, baseline.paintIntervalP95Ms)));
  console.log(line('first pass (decoding): fps', figures.firstPassFps, baseline.firstPassFps, `${ratios.firstPassFps}×`));
  console.log(line('first pass: dropped frames', figures.firstPassDroppedFrames, baseline.firstPassDroppedFrames));
  console.log(line('first pass: input → painted p95 (ms)', figures.firstPassInputToPaintP95Ms, baseline.firstPassInputToPaintP95Ms));
  console.log(line('second pass (cached): fps', figures.secondPassFps, baseline.secondPassFps));
  console.log(line('second pass: dropped frames', figures.secondPassDroppedFrames, baseline.secondPassDroppedFrames));
  console.log(line('second pass: input → painted median / p95', pair(figures.secondPassInputToPaintMedianMs, figures.secondPassInputToPaintP95Ms), pair(baseline.secondPassInputToPaintMedianMs, baseline.secondPassInputToPaintP95Ms)));
  console.log(line('request → ready to display, median / p95', pair(figures.readyMedianMs, figures.readyP95Ms), pair(baseline.readyMedianMs, baseline.readyP95Ms)));
  console.log(line('preloader: whole stack loaded after (ms)', figures.preloadAllMs, '–'));
  console.log(line('JS heap before / after two passes (MB)', pair(figures.heapBeforeMB, figures.heapMB), pair(baseline.heapBeforeMB, baseline.heapMB), `${ratios.heap}×`));
  console.log(line('image cache used / max (MB)', pair(figures.imageCacheUsedMB, figures.imageCacheMaxMB), pair(baseline.imageCacheUsedMB, baseline.imageCacheMaxMB)));
  const met = (ok: boolean): string => (ok ? 'met' : 'MISSED');
  console.log(
    `targets: ≥ 60 fps: ${met(figures.fps! >= 60)}; input → painted p95 ≤ 16 ms: ${met(figures.inputToPaintP95Ms! <= 16)}; ` +
      `heap growth over the passes (${round(figures.heapMB! - figures.heapBeforeMB!)} MB) within the image cache (${figures.imageCacheMaxMB} MB): ` +
      `${met(figures.heapMB! - figures.heapBeforeMB! <= figures.imageCacheMaxMB!)}`,
  );
  console.log(JSON.stringify({ bench: 'viewer', figures, baseline, ratios, slices: app.slices, transferSyntaxUID: SYNTAX, storedMB: mb(app.storedBytes), loadAverage: [round(loadBefore, 2), round(loadAfter, 2)] }));
} finally {
  server.close();
  rmSync(tmp, { recursive: true, force: true });
}
