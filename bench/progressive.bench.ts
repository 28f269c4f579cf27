// Progressive reading (issue 15), measured at the reader's end: the built
// browser host and the app in Chromium, a real Orthanc 1.10 with a 300-slice
// 512×512 CT behind a throttled loopback link (10 Mbit/s shared, 50 ms RTT,
// tests/support/throttle-proxy.ts) and, in front of it, the fault proxy with no
// faults, only to count the bytes of each kind of answer (lossless instances,
// /rendered previews, QIDO) and when each one finished.
//
//   ours:     the viewer as built: opens on the instance list, paints the
//             hanging (middle) slice from its JPEG-LS file the moment it is
//             cached, previews of every slice beside the lossless transfer,
//             retrieval following the reader;
//   baseline: the same app with `?open=complete` (the path before issue 15: the
//             whole study first, no previews, then the first paint), same run,
//             same link, its own fresh browser context (empty cache).
//
// Every time is taken in the page (bench/progressive-page.ts, injected), from
// the click on the worklist row's open button (performance.now() and the click
// in one task) to pixels on the viewport's canvas (a requestAnimationFrame check
// of the canvas: an image there, and the phantom's per-slice marker where the
// slice the viewport reports has it), with the viewport's data-quality:
//   1. first_slice_lossless_ms: the hanging slice painted from its lossless file;
//   2. all_navigable_ms: every slice has at least its preview (data-missing = 0);
//      then a sweep over every slice, one ArrowDown per painted slice, checks each
//      one paints (after 3 and 5, so the sweep's moving focus does not reorder
//      the retrieval before they are measured);
//   5. scroll_fps_during_transfer: right after 2, back and forth one slice per
//      animation frame for 2 s over the run of lossless slices around the
//      hanging one, while the transfer goes on;
//   3. jump_250_lossless_ms: End, then PageUp/ArrowUp to slice 250 (in stack
//      order, as data-image-index reports it): landing → its lossless pixels;
//   4. whole_study_lossless_ms (data-lossless = 300) against the byte floor
//      (the lossless answers' bytes at 10 Mbit/s), and the previews' bytes.
// A figure, not a test: it prints, then one JSON line. Needs `npm run build`
// first (dist/main/web-host.mjs and the renderer). ≈ 3–4 min with both modes.
// BENCH_PROGRESSIVE_SLICES=N for a smaller study (the jump target scales:
// round(250·N/300), or BENCH_PROGRESSIVE_JUMP=i); BENCH_PROGRESSIVE_SKIP_BASELINE=1
// for ours only; BENCH_PROGRESSIVE_DEBUG=1 prints the page's console and the
// host's log.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from '@playwright/test';
import type { Browser, Page } from '@playwright/test';
import { loadCtStudy, startOrthanc } from '../tests/support/orthanc';
import type { OrthancHandle } from '../tests/support/orthanc';
import { startThrottleProxy } from '../tests/support/throttle-proxy';
import type { ThrottleProxy } from '../tests/support/throttle-proxy';
import { isQido, isRendered, isWado, startFaultProxy } from '../tests/support/fault-proxy';
import type { FaultProxy, ProxyExchange } from '../tests/support/fault-proxy';
import { startWebHostProcess } from '../tests/support/e2e/web-host-process';
import type { WebHostProcess } from '../tests/support/e2e/web-host-process';
import type { JumpFigures, Milestone, MilestoneName, ScrollFigures, Snapshot, SweepFigures } from './progressive-page';

const SLICES = Number(process.env.BENCH_PROGRESSIVE_SLICES ?? 300);
const JUMP_TARGET = Math.min(SLICES - 1, Number(process.env.BENCH_PROGRESSIVE_JUMP ?? Math.round((250 * SLICES) / 300)));
const SKIP_BASELINE = Boolean(process.env.BENCH_PROGRESSIVE_SKIP_BASELINE);
const DEBUG = Boolean(process.env.BENCH_PROGRESSIVE_DEBUG);
/** A file to write the page's CPU profile (click → hanging slice lossless) to; a summary is printed. */
const PROFILE = process.env.BENCH_PROGRESSIVE_PROFILE;
const BITS_PER_SECOND = 10e6;
const RTT_MS = 50;
const HANGING = Math.floor(SLICES / 2);
const SCROLL_MS = 2000;
/** The whole run stays under 8 minutes; past this the bench stops, cleans up and fails. */
const WATCHDOG_MS = 8 * 60_000;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const round = (x: number, digits = 0): number => Math.round(x * 10 ** digits) / 10 ** digits;
const at = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
/** 3,4,5,9 → "3-5,9". */
const ranges = (xs: number[]): string =>
  xs
    .reduce<Array<[number, number]>>((acc, x) => {
      const last = acc.at(-1);
      if (last && x === last[1] + 1) last[1] = x;
      else acc.push([x, x]);
      return acc;
    }, [])
    .map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`))
    .join(',');
const epochNow = (): number => performance.timeOrigin + performance.now();

if (!existsSync(path.join(root, 'dist/main/web-host.mjs'))) {
  console.error('dist/main/web-host.mjs is missing: run `npm run build` first');
  process.exit(1);
}

const pageScript = (
  await build({
    entryPoints: [path.join(root, 'bench/progressive-page.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    logLevel: 'error',
  })
).outputFiles[0]!.text;

interface ExchangeTimes {
  instanceListMs: number;
  firstLosslessAnswerMs: number;
  hangingAnswerMs: number;
  lastLosslessAnswerMs: number;
  firstPreviewAnswerMs: number;
  lastPreviewAnswerMs: number;
  losslessAnswers: number;
  previewAnswers: number;
  qidoAnswers: number;
  notOk: number;
  repeatedInstances: number;
  /** The first exchanges after the click: path kind, status, ms after the click. */
  first: string[];
}

interface ModeResult {
  mode: 'progressive' | 'baseline';
  milestones: Partial<Record<MilestoneName, Milestone>>;
  timeline: Snapshot[];
  scroll?: ScrollFigures;
  jump?: JumpFigures;
  sweep?: SweepFigures;
  transferState?: string;
  losslessBytes: number;
  previewBytes: number;
  qidoBytes: number;
  linkBytesDown: number;
  exchanges: ExchangeTimes;
  exchangeLog: ProxyExchange[];
  /** The click, epoch ms. */
  t0: number;
  gateway: GatewayTimes;
}

let orthanc: OrthancHandle | undefined;
let throttle: ThrottleProxy | undefined;
let faults: FaultProxy | undefined;
let host: WebHostProcess | undefined;
let browser: Browser | undefined;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-bench-progressive-'));
let cleaned = false;
async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  const steps: Array<[string, (() => Promise<void>) | undefined]> = [
    ['browser', browser ? () => browser!.close() : undefined],
    ['host', host ? () => host!.stop() : undefined],
    ['fault proxy', faults ? () => faults!.close() : undefined],
    ['throttle', throttle ? () => throttle!.close() : undefined],
    ['orthanc', orthanc ? () => orthanc!.stop() : undefined],
  ];
  for (const [name, step] of steps) {
    try {
      await step?.();
    } catch (err) {
      console.error(`cleanup: ${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  rmSync(tmp, { recursive: true, force: true });
}
const watchdog = setTimeout(() => {
  console.error(`progressive bench: still running after ${WATCHDOG_MS / 60_000} min, stopping`);
  void cleanup().finally(() => process.exit(2));
}, WATCHDOG_MS);

/** When each exchange finished (epoch ms): the fault proxy records them on completion, in order. */
const finishedAt = new WeakMap<ProxyExchange, number>();

function exchangeTimes(list: ProxyExchange[], t0: number, hangingSop: string): ExchangeTimes {
  const rel = (e: ProxyExchange | undefined): number => (e ? round((finishedAt.get(e) ?? NaN) - t0) : NaN);
  const wado = list.filter(isWado);
  const rendered = list.filter(isRendered);
  const qido = list.filter((e) => isQido(e) && !isRendered(e));
  const perSop = new Map<string, number>();
  for (const e of wado) perSop.set(e.sopInstanceUID!, (perSop.get(e.sopInstanceUID!) ?? 0) + 1);
  const kind = (e: ProxyExchange): string =>
    isWado(e) ? `wado#${e.sopInstanceUID === hangingSop ? 'hanging' : 'other'}` : isRendered(e) ? 'rendered' : isQido(e) ? `qido:${/\/instances(\?|$)/.test(e.path) ? 'instances' : e.path.split('?')[0]!.split('/').slice(-1)[0]}` : e.path.split('?')[0]!;
  return {
    instanceListMs: rel(qido.find((e) => /\/instances(\?|$)/.test(e.path) && !/limit=1\b/.test(e.path))),
    firstLosslessAnswerMs: rel(wado[0]),
    hangingAnswerMs: rel(wado.find((e) => e.sopInstanceUID === hangingSop)),
    lastLosslessAnswerMs: rel(wado.at(-1)),
    firstPreviewAnswerMs: rel(rendered[0]),
    lastPreviewAnswerMs: rel(rendered.at(-1)),
    losslessAnswers: wado.length,
    previewAnswers: rendered.length,
    qidoAnswers: qido.length,
    notOk: list.filter((e) => e.status !== 200).length,
    repeatedInstances: [...perSop.values()].filter((n) => n > 1).length,
    first: list.slice(0, 8).map((e) => `${kind(e)} ${e.status} @${rel(e)}ms`),
  };
}

interface GatewayTimes {
  /** The hanging slice's lossless request sent by the gateway (its answer's headers minus the logged duration), ms after the click. */
  hangingRequestMs: number;
  /** Its answer's headers at the gateway. */
  hangingHeadersMs: number;
  firstLosslessRequestMs: number;
  firstPreviewRequestMs: number;
  /** Instance-list queries (QIDO …/instances) answered in the first 10 s, and when the last one's headers came. */
  instanceQueries: number;
  lastInstanceQueryMs: number;
}

/** From the browser host's log: the gateway logs each request when its answer's headers arrive, with the time it took. */
function gatewayTimes(output: string, t0: number, until: number, hangingSop: string): GatewayTimes {
  const rows: Array<{ start: number; end: number; path: string }> = [];
  for (const text of output.split('\n')) {
    if (!text.startsWith('{') || !text.includes('main:gateway')) continue;
    try {
      const line = JSON.parse(text) as { time: string; scope: string; message: string };
      const m = /^GET \S+ (\S+) (\d+) (\d+)ms$/.exec(line.message);
      if (!m) continue;
      const end = Date.parse(line.time);
      if (end < t0 || end > until) continue;
      rows.push({ start: end - Number(m[3]) - t0, end: end - t0, path: m[1]! });
    } catch {
      // not a log line
    }
  }
  rows.sort((a, b) => a.start - b.start);
  const lossless = (r: { path: string }): boolean => /\/instances\/[^/?]+$/.test(r.path);
  const hanging = rows.find((r) => r.path.endsWith(`/instances/${hangingSop}`));
  const queries = rows.filter((r) => /\/studies\/[^/]+\/instances$/.test(r.path) && r.end < 10_000);
  return {
    hangingRequestMs: hanging ? round(hanging.start) : NaN,
    hangingHeadersMs: hanging ? round(hanging.end) : NaN,
    firstLosslessRequestMs: round(rows.find(lossless)?.start ?? NaN),
    firstPreviewRequestMs: round(rows.find((r) => r.path.endsWith('/rendered'))?.start ?? NaN),
    instanceQueries: queries.length,
    lastInstanceQueryMs: queries.length ? round(Math.max(...queries.map((q) => q.end))) : NaN,
  };
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; hitCount?: number }>;
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Self time per function and per script of a CPU profile (diagnosis only). */
function summarizeProfile(profile: CpuProfile): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + (deltas[i + 1] ?? 0) / 1000);
  const fn = new Map<string, number>();
  const script = new Map<string, number>();
  for (const [id, ms] of self) {
    const f = byId.get(id)!.callFrame;
    const file = f.url ? f.url.replace(/^.*\//, '').replace(/\?.*$/, '') : `(${f.functionName || 'native'})`;
    const key = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}:${f.columnNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + ms);
    script.set(file, (script.get(file) ?? 0) + ms);
  }
  const top = (m: Map<string, number>, n: number): string =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${round(v)} ms ${k}`)
      .join('\n    ');
  console.error(`CPU profile click → hanging lossless (${round((profile.endTime - profile.startTime) / 1000)} ms):\n  by script:\n    ${top(script, 8)}\n  by function (self):\n    ${top(fn, 20)}`);
}

/** The run of lossless slices around `index` in `states` (inclusive bounds), or undefined when `index` is not lossless. */
function losslessRun(states: string, index: number): { from: number; to: number } | undefined {
  if (states[index] !== 'L') return undefined;
  let from = index;
  let to = index;
  while (from > 0 && states[from - 1] === 'L') from--;
  while (to < states.length - 1 && states[to + 1] === 'L') to++;
  return { from, to };
}

async function runMode(mode: 'progressive' | 'baseline', studyUID: string, hangingSop: string, scrollRange?: { from: number; to: number }): Promise<ModeResult> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 1000 } });
  try {
    await context.addInitScript({ content: pageScript });
    const page: Page = await context.newPage();
    page.on('pageerror', (err) => console.error(`page error (${mode}): ${err.message}`));
    if (DEBUG) page.on('console', (msg) => console.error(`[${mode}] ${msg.text()}`));
    const openButton = page.locator(`[data-testid="worklist-row"][data-study-uid="${studyUID}"] [data-testid="open-study"]`).first();
    await page.goto(host!.url);
    // The first load sets the token cookie; the app is let start before the baseline's own URL is loaded.
    await openButton.waitFor({ state: 'visible', timeout: 60_000 });
    if (mode === 'baseline') {
      await page.goto(`${host!.origin}/?open=complete`);
      await openButton.waitFor({ state: 'visible', timeout: 60_000 });
    }
    // Let the worklist's own queries finish before counting.
    await page.waitForTimeout(500);
    faults!.resetCounters();
    throttle!.resetCounters();
    const cdp = PROFILE && mode === 'progressive' ? await context.newCDPSession(page) : undefined;
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 250 });
      await cdp.send('Profiler.start');
    }
    const t0 = await page.evaluate(([uid, n]) => window.__progressiveBench!.open(uid, 512, 512, n), [studyUID, SLICES] as const);
    const waitFor = (name: MilestoneName, timeoutMs: number): Promise<Milestone | undefined> =>
      page.evaluate(([m, ms]) => window.__progressiveBench!.waitFor(m, ms), [name, timeoutMs] as const);
    const snapshot = (): Promise<Snapshot & { states: string }> => page.evaluate(() => window.__progressiveBench!.snapshot());
    const result: Partial<ModeResult> = { mode };

    if (mode === 'progressive') {
      if (!(await waitFor('firstLossless', 60_000))) throw new Error('ours: the hanging slice did not paint lossless within 60 s');
      // BENCH_PROGRESSIVE_PROFILE_UNTIL=navigable: the profile covers the preview pass too.
      if (cdp && process.env.BENCH_PROGRESSIVE_PROFILE_UNTIL === 'navigable') await waitFor('allNavigable', 60_000);
      if (cdp) {
        const { profile } = await cdp.send('Profiler.stop');
        writeFileSync(PROFILE!, JSON.stringify(profile));
        summarizeProfile(profile);
        await cdp.detach();
      }
      if (!(await waitFor('allNavigable', 60_000))) console.error('ours: not every slice had a preview within 60 s');
      // 5: scroll over the lossless run around the slice on screen while the transfer goes on.
      const now = await snapshot();
      const run = losslessRun(now.states, now.index) ?? { from: now.index, to: now.index };
      if (run.to > run.from) {
        result.scroll = await page.evaluate(([a, b, ms]) => window.__progressiveBench!.scroll(a, b, ms), [run.from, run.to, SCROLL_MS] as const);
      } else console.error(`ours: only slice ${now.index} is lossless around the slice on screen (${now.states}): no scroll`);
      // 3: the jump, far from the hanging slice; a slice already lossless would time nothing.
      const before = (await snapshot()).states;
      let target = JUMP_TARGET;
      if (before[target] === 'L') {
        const far = [...before].map((q, i) => ({ q, i })).filter((x) => x.q !== 'L').sort((a, b) => Math.abs(b.i - HANGING) - Math.abs(a.i - HANGING))[0];
        console.error(`ours: slice ${target} was already lossless at the jump; jumping to ${far ? far.i : 'nothing'} instead`);
        target = far ? far.i : -1;
      }
      if (target >= 0) result.jump = await page.evaluate(([i, ms]) => window.__progressiveBench!.jump(i, ms), [target, 30_000] as const);
      // 2 (its check): every slice paints, one after the other.
      result.sweep = await page.evaluate((ms) => window.__progressiveBench!.sweep(ms), 3000);
      if (!(await waitFor('wholeLossless', 180_000))) console.error('ours: the study was not whole lossless within 3 min');
    } else {
      if (!(await waitFor('firstPixels', 180_000))) throw new Error('baseline: nothing painted within 3 min');
      await waitFor('firstLossless', 10_000);
      await waitFor('wholeLossless', 10_000);
      // The same scroll, over the same slices, once nothing streams any more: what the link costs the scroll.
      if (scrollRange) result.scroll = await page.evaluate(([a, b, ms]) => window.__progressiveBench!.scroll(a, b, ms), [scrollRange.from, scrollRange.to, SCROLL_MS] as const);
    }
    result.milestones = await page.evaluate(() => window.__progressiveBench!.milestones());
    result.timeline = await page.evaluate(() => window.__progressiveBench!.timeline());
    // The Transfers panel's word on it.
    try {
      await page.getByTestId('transfers-button').click({ timeout: 5000 });
      const row = page.locator(`[data-testid="transfer-row"][data-study-uid="${studyUID}"]`).first();
      await row.waitFor({ state: 'visible', timeout: 5000 });
      result.transferState = (await row.getAttribute('data-state')) ?? '?';
    } catch {
      result.transferState = 'not shown';
    }
    const list = [...faults!.exchanges];
    result.losslessBytes = faults!.wireBytes(isWado);
    result.previewBytes = faults!.wireBytes(isRendered);
    result.qidoBytes = faults!.wireBytes((e) => isQido(e) && !isRendered(e));
    result.linkBytesDown = throttle!.bytesDown();
    result.exchanges = exchangeTimes(list, t0, hangingSop);
    result.exchangeLog = list;
    result.t0 = t0;
    result.gateway = gatewayTimes(host!.output(), t0, epochNow(), hangingSop);
    return result as ModeResult;
  } finally {
    await context.close();
  }
}

let exitCode = 0;
try {
  orthanc = await startOrthanc();
  const tGen = performance.now();
  const ct = await loadCtStudy(orthanc, { patientName: 'BENCH^PROGRESSIVE', patientId: 'BENCH-P', slices: SLICES, studyDescription: 'CT CHEST' });
  console.log(`generated and stored a ${SLICES}-slice 512×512 CT in ${round((performance.now() - tGen) / 1000, 1)} s`);
  throttle = await startThrottleProxy({ upstreamPort: orthanc.port, bitsPerSecond: BITS_PER_SECOND, rttMs: RTT_MS });
  faults = await startFaultProxy(throttle.url);
  const push = faults.exchanges.push.bind(faults.exchanges);
  faults.exchanges.push = (...items: ProxyExchange[]): number => {
    const now = epochNow();
    for (const e of items) finishedAt.set(e, now);
    return push(...items);
  };
  const sitesFile = path.join(tmp, 'sites.json');
  writeFileSync(sitesFile, JSON.stringify([{ name: 'Bench', url: `${faults.url}/dicom-web`, auth: { type: 'basic', username: orthanc.username, password: orthanc.password } }]));
  host = await startWebHostProcess(['--data-dir', path.join(tmp, 'data'), '--sites', sitesFile]);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const hangingSop = ct.sopInstanceUIDs[HANGING]!;

  const load = [os.loadavg()[0]!];
  const ours = await runMode('progressive', ct.studyInstanceUID, hangingSop);
  load.push(os.loadavg()[0]!);
  const range = ours.scroll ? { from: ours.scroll.from, to: ours.scroll.to } : undefined;
  const base = SKIP_BASELINE ? undefined : await runMode('baseline', ct.studyInstanceUID, hangingSop, range);
  load.push(os.loadavg()[0]!);

  const m = ours.milestones;
  const ms = (x: Milestone | undefined): number => (x ? round(x.t) : NaN);
  const floorMs = (bytes: number): number => round((bytes * 8 * 1000) / BITS_PER_SECOND);
  const fps = (s: ScrollFigures | undefined): number => (s ? round(s.fps, 1) : NaN);
  const figures = {
    slices: SLICES,
    hanging_index: m.firstLossless?.index ?? NaN,
    first_pixels_ms: ms(m.firstPixels),
    first_pixels_quality: m.firstPixels?.quality ?? '',
    first_slice_lossless_ms: ms(m.firstLossless),
    lossless_at_first_slice: m.firstLossless?.lossless ?? NaN,
    previews_at_first_slice: m.firstLossless?.preview ?? NaN,
    all_navigable_ms: ms(m.allNavigable),
    lossless_at_all_navigable: m.allNavigable?.lossless ?? NaN,
    sweep_at_ms: ours.sweep ? round(ours.sweep.atMs) : NaN,
    sweep_ms: ours.sweep ? round(ours.sweep.elapsedMs) : NaN,
    sweep_painted: ours.sweep?.painted ?? NaN,
    sweep_painted_preview: ours.sweep?.paintedPreview ?? NaN,
    sweep_painted_lossless: ours.sweep?.paintedLossless ?? NaN,
    sweep_failed: ours.sweep?.failed.length ?? NaN,
    sweep_per_slice_median_ms: ours.sweep ? round(ours.sweep.perSliceMedianMs, 1) : NaN,
    sweep_per_slice_p95_ms: ours.sweep ? round(ours.sweep.perSliceP95Ms, 1) : NaN,
    sweep_per_slice_max_ms: ours.sweep ? round(ours.sweep.perSliceMaxMs, 1) : NaN,
    jump_target: ours.jump?.target ?? NaN,
    jump_at_ms: ours.jump ? round(ours.jump.atMs) : NaN,
    jump_target_state_before: ours.jump ? (ours.jump.statesAtJump[ours.jump.target] ?? '?') : '',
    jump_first_paint_ms: ours.jump ? round(ours.jump.firstPaintMs) : NaN,
    jump_first_paint_quality: ours.jump?.firstPaintQuality ?? '',
    jump_250_lossless_ms: ours.jump ? round(ours.jump.losslessMs) : NaN,
    jump_lossless_meanwhile: ours.jump?.losslessMeanwhile ?? NaN,
    jump_lossless_meanwhile_indices: ours.jump ? ranges(ours.jump.losslessMeanwhileIndices) : '',
    whole_study_lossless_ms: ms(m.wholeLossless),
    byte_floor_ms: floorMs(ours.losslessBytes),
    whole_vs_floor: round(ms(m.wholeLossless) / floorMs(ours.losslessBytes), 3),
    lossless_bytes: ours.losslessBytes,
    preview_bytes: ours.previewBytes,
    preview_bytes_ratio: round(ours.previewBytes / ours.losslessBytes, 4),
    qido_bytes: ours.qidoBytes,
    link_bytes_down: ours.linkBytesDown,
    scroll_fps_during_transfer: fps(ours.scroll),
    scroll_range: ours.scroll ? `${ours.scroll.from}-${ours.scroll.to}` : '',
    scroll_slices: ours.scroll ? ours.scroll.to - ours.scroll.from + 1 : 0,
    scroll_painted: ours.scroll?.painted ?? NaN,
    scroll_canvas_changed: ours.scroll?.canvasChanged ?? NaN,
    scroll_dropped_frames: ours.scroll?.droppedFrames ?? NaN,
    scroll_not_lossless: ours.scroll?.notLossless ?? NaN,
    scroll_frame_interval_ms: ours.scroll ? round(ours.scroll.frameIntervalMs, 2) : NaN,
    scroll_missed_refreshes: ours.scroll?.missedRefreshes ?? NaN,
    scroll_ask_to_seen_p95_ms: ours.scroll ? round(at(ours.scroll.askToSeenMs, 0.95), 1) : NaN,
    instance_list_answer_ms: ours.exchanges.instanceListMs,
    instance_list_queries: ours.gateway.instanceQueries,
    last_instance_list_headers_ms: ours.gateway.lastInstanceQueryMs,
    first_preview_request_ms: ours.gateway.firstPreviewRequestMs,
    first_lossless_request_ms: ours.gateway.firstLosslessRequestMs,
    hanging_request_ms: ours.gateway.hangingRequestMs,
    hanging_headers_ms: ours.gateway.hangingHeadersMs,
    first_lossless_answer_ms: ours.exchanges.firstLosslessAnswerMs,
    hanging_answer_ms: ours.exchanges.hangingAnswerMs,
    first_preview_answer_ms: ours.exchanges.firstPreviewAnswerMs,
    last_preview_answer_ms: ours.exchanges.lastPreviewAnswerMs,
    last_lossless_answer_ms: ours.exchanges.lastLosslessAnswerMs,
    lossless_answers: ours.exchanges.losslessAnswers,
    preview_answers: ours.exchanges.previewAnswers,
    not_ok_answers: ours.exchanges.notOk,
    instances_fetched_twice: ours.exchanges.repeatedInstances,
    transfer_state: ours.transferState ?? '',
  };
  const bm = base?.milestones ?? {};
  const baseline = base
    ? {
        first_pixels_ms: ms(bm.firstPixels),
        first_pixels_quality: bm.firstPixels?.quality ?? '',
        first_slice_lossless_ms: ms(bm.firstLossless ?? bm.firstPixels),
        // Everything arrives at once: every slice navigable (and lossless) at the first paint.
        all_navigable_ms: ms(bm.firstPixels),
        whole_study_lossless_ms: ms(bm.firstPixels),
        whole_lossless_attribute_ms: ms(bm.wholeLossless),
        byte_floor_ms: floorMs(base.losslessBytes),
        whole_vs_floor: round(ms(bm.firstPixels) / floorMs(base.losslessBytes), 3),
        lossless_bytes: base.losslessBytes,
        preview_bytes: base.previewBytes,
        qido_bytes: base.qidoBytes,
        link_bytes_down: base.linkBytesDown,
        scroll_fps_after_complete: fps(base.scroll),
        scroll_dropped_frames: base.scroll?.droppedFrames ?? NaN,
        scroll_frame_interval_ms: base.scroll ? round(base.scroll.frameIntervalMs, 2) : NaN,
        scroll_missed_refreshes: base.scroll?.missedRefreshes ?? NaN,
        instance_list_answer_ms: base.exchanges.instanceListMs,
        hanging_answer_ms: base.exchanges.hangingAnswerMs,
        instance_list_queries: base.gateway.instanceQueries,
        last_instance_list_headers_ms: base.gateway.lastInstanceQueryMs,
        hanging_request_ms: base.gateway.hangingRequestMs,
        last_lossless_answer_ms: base.exchanges.lastLosslessAnswerMs,
        lossless_answers: base.exchanges.losslessAnswers,
        transfer_state: base.transferState ?? '',
      }
    : undefined;
  const ratio = (a: number, b: number | undefined): number => (b ? round(a / b, 3) : NaN);
  const ratios = baseline
    ? {
        first_slice_lossless: ratio(figures.first_slice_lossless_ms, baseline.first_slice_lossless_ms),
        all_navigable: ratio(figures.all_navigable_ms, baseline.all_navigable_ms),
        whole_study_lossless: ratio(figures.whole_study_lossless_ms, baseline.whole_study_lossless_ms),
        link_bytes: ratio(figures.link_bytes_down, baseline.link_bytes_down),
        lossless_bytes: ratio(figures.lossless_bytes, baseline.lossless_bytes),
        scroll_fps: ratio(figures.scroll_fps_during_transfer, baseline.scroll_fps_after_complete),
      }
    : undefined;

  const s = (x: number): string => (Number.isFinite(x) ? `${(x / 1000).toFixed(2)} s` : '–');
  const mb = (n: number): string => `${(n / 1e6).toFixed(2)} MB`;
  const line = (label: string, o: unknown, b: unknown, r: unknown = ''): string =>
    `  ${label.padEnd(52)}${String(o).padEnd(26)}${String(b).padEnd(26)}${String(r)}`;
  console.log(
    `\n${SLICES}-slice 512×512 CT over ${BITS_PER_SECOND / 1e6} Mbit/s, ${RTT_MS} ms RTT; Chromium headless, the built browser host; ` +
      `times from the click on the worklist row to pixels on the viewport canvas; load average ${load.map((x) => round(x, 2)).join(' → ')} on ${os.cpus().length} cores`,
  );
  console.log(line('', 'ours (progressive)', 'baseline (?open=complete)', 'ratio'));
  console.log(line('first pixels on the canvas', `${s(figures.first_pixels_ms)} (${figures.first_pixels_quality})`, baseline ? s(baseline.first_pixels_ms) : '–'));
  console.log(line(`1. hanging slice ${figures.hanging_index} lossless painted`, s(figures.first_slice_lossless_ms), baseline ? s(baseline.first_slice_lossless_ms) : '–', ratios?.first_slice_lossless ?? ''));
  console.log(line('   lossless / previews stored by then', `${figures.lossless_at_first_slice} / ${figures.previews_at_first_slice}`, baseline ? `${SLICES} / 0` : '–'));
  console.log(line('2. every slice navigable (data-missing = 0)', s(figures.all_navigable_ms), baseline ? s(baseline.all_navigable_ms) : '–', ratios?.all_navigable ?? ''));
  console.log(
    line(
      '   sweep over every slice (after 5 and 3)',
      `${figures.sweep_painted}/${SLICES} painted in ${s(figures.sweep_ms)}`,
      '',
      `${figures.sweep_painted_preview} preview, ${figures.sweep_painted_lossless} lossless, ${figures.sweep_failed} failed; per slice median ${figures.sweep_per_slice_median_ms} ms, p95 ${figures.sweep_per_slice_p95_ms} ms, max ${figures.sweep_per_slice_max_ms} ms; started at ${s(figures.sweep_at_ms)}`,
    ),
  );
  console.log(
    line(
      `3. jump to slice ${figures.jump_target} → its lossless pixels`,
      s(figures.jump_250_lossless_ms),
      '',
      `was '${figures.jump_target_state_before}' at the jump (${s(figures.jump_at_ms)} after the click); first painted ${s(figures.jump_first_paint_ms)} (${figures.jump_first_paint_quality}); ${figures.jump_lossless_meanwhile} other slices stored lossless meanwhile (${figures.jump_lossless_meanwhile_indices})`,
    ),
  );
  console.log(line('4. whole study lossless', s(figures.whole_study_lossless_ms), baseline ? s(baseline.whole_study_lossless_ms) : '–', ratios?.whole_study_lossless ?? ''));
  console.log(line('   byte floor (lossless bytes at 10 Mbit/s)', s(figures.byte_floor_ms), baseline ? s(baseline.byte_floor_ms) : '–'));
  console.log(line('   whole study ÷ byte floor', figures.whole_vs_floor, baseline ? baseline.whole_vs_floor : '–'));
  console.log(line('   lossless answers, bytes', `${mb(figures.lossless_bytes)} (${figures.lossless_answers})`, baseline ? `${mb(baseline.lossless_bytes)} (${baseline.lossless_answers})` : '–', ratios?.lossless_bytes ?? ''));
  console.log(line('   previews, bytes (÷ lossless)', `${mb(figures.preview_bytes)} (${figures.preview_bytes_ratio})`, baseline ? mb(baseline.preview_bytes) : '–'));
  console.log(line('   all bytes down the link (headers, QIDO too)', mb(figures.link_bytes_down), baseline ? mb(baseline.link_bytes_down) : '–', ratios?.link_bytes ?? ''));
  console.log(
    line(
      '5. scroll over stored lossless slices (fps)',
      `${figures.scroll_fps_during_transfer} (during transfer)`,
      baseline ? `${baseline.scroll_fps_after_complete} (after complete)` : '–',
      `slices ${figures.scroll_range} (${figures.scroll_slices}); ${figures.scroll_painted} painted, ${figures.scroll_canvas_changed} changed the canvas, ${figures.scroll_dropped_frames} frames without the slice asked for, ${figures.scroll_missed_refreshes} refreshes with no frame (baseline ${baseline?.scroll_missed_refreshes ?? '–'}), ${figures.scroll_not_lossless} not lossless; frame ${figures.scroll_frame_interval_ms} ms; ask → seen p95 ${figures.scroll_ask_to_seen_p95_ms} ms`,
    ),
  );
  console.log(
    line(
      'answers finished (after the click): instance list',
      s(figures.instance_list_answer_ms),
      baseline ? s(baseline.instance_list_answer_ms) : '–',
    ),
  );
  console.log(
    line(
      '   instance-list queries (last headers)',
      `${figures.instance_list_queries} (${s(figures.last_instance_list_headers_ms)})`,
      baseline ? `${baseline.instance_list_queries} (${s(baseline.last_instance_list_headers_ms)})` : '–',
    ),
  );
  console.log(
    line(
      'requests sent (gateway): first preview / hanging',
      `${s(figures.first_preview_request_ms)} / ${s(figures.hanging_request_ms)}`,
      baseline ? `– / ${s(baseline.hanging_request_ms)}` : '–',
      `ours: first lossless request ${s(figures.first_lossless_request_ms)}; hanging answer's headers ${s(figures.hanging_headers_ms)}`,
    ),
  );
  console.log(line('   first lossless / hanging slice lossless', `${s(figures.first_lossless_answer_ms)} / ${s(figures.hanging_answer_ms)}`, baseline ? `– / ${s(baseline.hanging_answer_ms)}` : '–'));
  console.log(line('   first / last preview', `${s(figures.first_preview_answer_ms)} / ${s(figures.last_preview_answer_ms)}`, '–'));
  console.log(line('   last lossless', s(figures.last_lossless_answer_ms), baseline ? s(baseline.last_lossless_answer_ms) : '–'));
  console.log(`  first answers after the click (ours): ${ours.exchanges.first.join(', ')}`);
  if (base) console.log(`  first answers after the click (baseline): ${base.exchanges.first.join(', ')}`);
  console.log(`  not-200 answers: ${figures.not_ok_answers}; instances fetched more than once: ${figures.instances_fetched_twice}; Transfers panel: ${figures.transfer_state}${baseline ? ` (baseline ${baseline.transfer_state})` : ''}`);
  const progress = ours.timeline.filter((x, i, all) => i === 0 || Math.floor(x.t / 5000) !== Math.floor(all[i - 1]!.t / 5000));
  console.log(`  ours, lossless/preview/missing over time: ${progress.map((x) => `${s(x.t)} ${x.lossless}/${x.preview}/${x.missing}`).join('; ')}`);
  const met = (ok: boolean, what: string): string => `${what}: ${ok ? 'met' : 'MISSED'}`;
  console.log(
    `targets: ${[
      met(figures.first_slice_lossless_ms <= 1000, `first slice lossless ≤ 1000 ms (${figures.first_slice_lossless_ms} ms)`),
      met(figures.all_navigable_ms <= 5000 && figures.sweep_failed === 0, `all navigable ≤ 5000 ms (${figures.all_navigable_ms} ms, sweep ${figures.sweep_painted}/${SLICES})`),
      met(figures.jump_250_lossless_ms <= 1500, `jump → lossless ≤ 1500 ms (${figures.jump_250_lossless_ms} ms)`),
      met(figures.whole_vs_floor <= 1.15, `whole study ≤ 1.15 × byte floor (${figures.whole_vs_floor})`),
      met(figures.preview_bytes_ratio <= 0.1, `preview bytes ≤ 0.10 × lossless (${figures.preview_bytes_ratio})`),
      met(figures.scroll_fps_during_transfer >= 60, `scroll ≥ 60 fps during transfer (${figures.scroll_fps_during_transfer} fps over ${figures.scroll_slices} slices)`),
    ].join('; ')}`,
  );
  if (DEBUG) {
    console.error(host.output());
    const rel = (e: ProxyExchange, t0: number): number => round((finishedAt.get(e) ?? NaN) - t0);
    for (const r of [ours, base]) if (r) console.error(`${r.mode}: first answers: ${r.exchangeLog.slice(0, 30).map((e) => `${e.status} ${e.wireBytes}B @${rel(e, r.t0)}ms ${e.path.replace(/[0-9.]{20,}/g, '…')}`).join('\n  ')}`);
  }
  console.log(JSON.stringify({ bench: 'progressive', figures, baseline: baseline ?? null, ratios: ratios ?? null, loadAverage: load.map((x) => round(x, 2)) }));
} catch (err) {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  if (host && DEBUG) console.error(host.output());
  exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await cleanup();
}
process.exit(exitCode);
