// The page side of bench/progressive.bench.ts: bundled with esbuild (iife) and
// injected into the app's page with addInitScript, so every figure is taken in
// the page itself, on the page's clock, from what the reader sees:
// - the click on the worklist row's open button is t0 (performance.now() and
//   the click in the same task);
// - "pixels painted" = a requestAnimationFrame check of the viewport's
//   Cornerstone canvas: the row through the middle of the image is not flat
//   (luminance standard deviation > 5) and the phantom's slice marker (a bright
//   disc in the air above the body whose column encodes the slice index,
//   tests/fixtures/ct-phantom.ts markerPosition) is bright where the slice the
//   viewport reports (data-image-index) has it; together with data-quality;
// - a slice asked for counts as painted only after a cornerstoneimagerendered
//   event on the viewport since it was asked for (Cornerstone drew it), checked
//   on the canvas at the next animation frame.
// Navigation is the viewer's own keyboard shortcuts (keydown events on the
// focused viewport, as a key press delivers them).

export type Quality = 'lossless' | 'preview' | 'missing' | '';

export interface Snapshot {
  /** ms since t0 (the click). */
  t: number;
  index: number;
  count: number;
  quality: Quality;
  lossless: number;
  preview: number;
  missing: number;
}

export interface Milestone extends Snapshot {
  states: string;
}

export type MilestoneName = 'viewport' | 'firstPixels' | 'firstLossless' | 'allNavigable' | 'wholeLossless';

export interface ScrollFigures {
  from: number;
  to: number;
  elapsedMs: number;
  frames: number;
  /** Slices asked for and painted (the asked-for index on the viewport, drawn by Cornerstone, its marker on the canvas). */
  painted: number;
  /** Of those, how many changed the canvas (a hash of the marker band differs from the previous frame's). */
  canvasChanged: number;
  /** Frames in which the slice asked for at the previous frame was not painted yet. */
  droppedFrames: number;
  /** Painted slices whose data-quality was not lossless. */
  notLossless: number;
  fps: number;
  /** Median interval between animation frames. */
  frameIntervalMs: number;
  /** Display refreshes the page produced no frame for: Σ (round(interval / median interval) − 1). */
  missedRefreshes: number;
  /** Per painted slice: asked for (frame start) → seen painted (a later frame start), ms. */
  askToSeenMs: number[];
}

export interface JumpFigures {
  target: number;
  /** ms since t0 at the jump. */
  atMs: number;
  statesAtJump: string;
  /** Jump → the target painted at all (preview or lossless). */
  firstPaintMs: number;
  firstPaintQuality: Quality;
  /** Jump → the target painted from its lossless file. */
  losslessMs: number;
  /** Slices stored lossless between the jump and the target's lossless paint, besides the target. */
  losslessMeanwhile: number;
  /** Which ones (stack indices). */
  losslessMeanwhileIndices: number[];
}

export interface SweepFigures {
  /** ms since t0 at the start. */
  atMs: number;
  statesAtStart: string;
  elapsedMs: number;
  painted: number;
  paintedPreview: number;
  paintedLossless: number;
  /** Slices not painted within the per-slice timeout. */
  failed: number[];
  perSliceMedianMs: number;
  perSliceP95Ms: number;
  perSliceMaxMs: number;
}

export interface ProgressiveBenchApi {
  open(studyUID: string, columns: number, rows: number, slices: number): number;
  waitFor(name: MilestoneName, timeoutMs: number): Promise<Milestone | undefined>;
  milestones(): Partial<Record<MilestoneName, Milestone>>;
  timeline(): Snapshot[];
  snapshot(): Snapshot & { states: string };
  scroll(from: number, to: number, durationMs: number): Promise<ScrollFigures>;
  jump(target: number, timeoutMs: number): Promise<JumpFigures>;
  sweep(perSliceTimeoutMs: number): Promise<SweepFigures>;
  stop(): void;
}

declare global {
  interface Window {
    __progressiveBench?: ProgressiveBenchApi;
  }
}

const nextFrame = (): Promise<number> => new Promise((r) => requestAnimationFrame(r));
const at = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};

let t0 = NaN;
let image = { columns: 512, rows: 512, slices: 1 };
let monitoring = false;
const reached: Partial<Record<MilestoneName, Milestone>> = {};
const samples: Snapshot[] = [];
let renders = 0;
let renderListenerOn: Element | null = null;

const viewportEl = (): HTMLElement | null => document.querySelector<HTMLElement>('[data-testid="viewport"]');
const barEl = (): Element | null => document.querySelector('[data-testid="slice-availability"]');
const canvasEl = (): HTMLCanvasElement | null => document.querySelector<HTMLCanvasElement>('[data-testid="viewport"] canvas');
const num = (el: Element | null, attr: string, fallback = -1): number => {
  const v = el?.getAttribute(attr);
  return v === null || v === undefined || v === '' ? fallback : Number(v);
};

/** Counts Cornerstone's draws on the (current) viewport element. */
function watchRenders(): void {
  const el = viewportEl();
  if (!el || el === renderListenerOn) return;
  renderListenerOn = el;
  el.addEventListener('cornerstoneimagerendered', () => renders++);
}

function snapshot(): Snapshot & { states: string } {
  const vp = viewportEl();
  const bar = barEl();
  const count = num(vp, 'data-image-count', 0);
  // No bar (a one-image stack, or the viewer not open yet): what the viewport says.
  const quality = (vp?.getAttribute('data-quality') ?? '') as Quality;
  const states = bar?.getAttribute('data-states') ?? '';
  return {
    t: performance.now() - t0,
    index: num(vp, 'data-image-index'),
    count,
    quality,
    lossless: num(bar, 'data-lossless', bar ? 0 : quality === 'lossless' && count === 1 ? 1 : 0),
    preview: num(bar, 'data-preview', 0),
    missing: num(bar, 'data-missing', count),
    states,
  };
}

/** Cornerstone's default placement: the image scaled to fit the canvas and centred. */
function toCanvas(canvas: HTMLCanvasElement, x: number, y: number): { x: number; y: number; scale: number } {
  const scale = Math.min(canvas.width / image.columns, canvas.height / image.rows);
  const offX = (canvas.width - image.columns * scale) / 2;
  const offY = (canvas.height - image.rows * scale) / 2;
  return { x: Math.round(offX + (x + 0.5) * scale), y: Math.round(offY + (y + 0.5) * scale), scale };
}

const lum = (d: Uint8ClampedArray, i: number): number => 0.299 * d[i]! + 0.587 * d[i + 1]! + 0.114 * d[i + 2]!;

/** Whether the canvas shows an image: the row through the image's middle has a luminance spread (stdDev > 5). */
function nonFlat(canvas: HTMLCanvasElement, ctx: CanvasRenderingContext2D): boolean {
  const p = toCanvas(canvas, 0, image.rows / 2);
  if (canvas.width === 0 || p.y < 0 || p.y >= canvas.height) return false;
  const d = ctx.getImageData(0, p.y, canvas.width, 1).data;
  let s = 0;
  let s2 = 0;
  const n = d.length / 4;
  for (let i = 0; i < d.length; i += 4) {
    const l = lum(d, i);
    s += l;
    s2 += l * l;
  }
  const mean = s / n;
  return Math.sqrt(Math.max(0, s2 / n - mean * mean)) > 5;
}

/** Mean luminance of 3×3 canvas pixels at slice `index`'s marker (tests/fixtures/ct-phantom.ts markerPosition). */
function markerLum(canvas: HTMLCanvasElement, ctx: CanvasRenderingContext2D, index: number): number {
  const mx = image.slices > 1 ? Math.round(60 + (index * (image.columns - 120)) / (image.slices - 1)) : 60;
  const p = toCanvas(canvas, mx, 30);
  if (p.x < 1 || p.y < 1 || p.x >= canvas.width - 1 || p.y >= canvas.height - 1) return 0;
  const d = ctx.getImageData(p.x - 1, p.y - 1, 3, 3).data;
  let s = 0;
  for (let i = 0; i < d.length; i += 4) s += lum(d, i);
  return s / 9;
}

/** FNV-1a over the marker band (4 canvas rows through the markers' centres): changes when another slice is drawn. */
function bandHash(canvas: HTMLCanvasElement, ctx: CanvasRenderingContext2D): number {
  const p = toCanvas(canvas, 0, 30);
  const y = Math.max(0, Math.min(canvas.height - 4, p.y - 2));
  if (canvas.width === 0 || canvas.height < 4) return 0;
  const d = ctx.getImageData(0, y, canvas.width, 4).data;
  let h = 0x811c9dc5;
  for (let i = 0; i < d.length; i += 4) {
    h ^= d[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

interface CanvasLook {
  nonFlat: boolean;
  marker: number;
  hash: number;
}

function look(index: number): CanvasLook | undefined {
  const canvas = canvasEl();
  if (!canvas || canvas.width === 0 || canvas.height === 0) return undefined;
  // A hidden canvas (the slice asked for has not arrived) shows nothing.
  if (getComputedStyle(canvas).visibility === 'hidden' || canvas.offsetParent === null) return undefined;
  const ctx = canvas.getContext('2d');
  if (!ctx) return undefined;
  return { nonFlat: nonFlat(canvas, ctx), marker: index >= 0 ? markerLum(canvas, ctx, index) : 0, hash: bandHash(canvas, ctx) };
}

/** Slice `index` is on the canvas: the viewport reports it (in one of `qualities`), the canvas has an image and that slice's marker. */
function isPainted(s: Snapshot, index: number, qualities: readonly Quality[]): CanvasLook | undefined {
  if (s.index !== index || !qualities.includes(s.quality)) return undefined;
  const l = look(index);
  return l && l.nonFlat && l.marker > 150 ? l : undefined;
}

function mark(name: MilestoneName, s: Snapshot & { states: string }): void {
  if (!reached[name]) reached[name] = { ...s };
}

function monitor(): void {
  if (!monitoring) return;
  watchRenders();
  const s = snapshot();
  const last = samples.at(-1);
  if (!last || s.t - last.t >= 250 || s.lossless !== last.lossless || s.missing !== last.missing) {
    const { states: _states, ...sample } = s;
    samples.push(sample);
  }
  if (s.count > 0) mark('viewport', s);
  if (!reached.firstPixels || !reached.firstLossless) {
    if (s.quality === 'lossless' || s.quality === 'preview') {
      const l = look(s.index);
      if (l && l.nonFlat && l.marker > 150) {
        mark('firstPixels', s);
        if (s.quality === 'lossless') mark('firstLossless', s);
      }
    }
  }
  // Every slice shown at least from its preview: none left that has nothing.
  if (s.count > 0 && s.states.length === s.count && s.missing === 0) mark('allNavigable', s);
  else if (s.count === 1 && s.quality === 'lossless') mark('allNavigable', s);
  if (s.count > 0 && s.lossless === s.count) mark('wholeLossless', s);
  if (reached.wholeLossless && reached.firstLossless) {
    monitoring = false;
    return;
  }
  requestAnimationFrame(monitor);
}

/** Delivers `key` as a key press does: a keydown on the focused viewport, bubbling to the viewer's window listener. */
function press(key: string, times = 1): void {
  const el = viewportEl();
  if (!el) throw new Error('no viewport');
  if (document.activeElement !== el) el.focus();
  for (let i = 0; i < times; i++) el.dispatchEvent(new KeyboardEvent('keydown', { key, code: key, bubbles: true, cancelable: true }));
}

/** Keys from slice `from` to slice `to`, as few as the shortcuts allow (PageUp/PageDown ±5, then arrows). */
function pressTowards(from: number, to: number): void {
  const d = to - from;
  const pages = Math.trunc(d / 5);
  if (pages) press(pages > 0 ? 'PageDown' : 'PageUp', Math.abs(pages));
  const rest = d - pages * 5;
  if (rest) press(rest > 0 ? 'ArrowDown' : 'ArrowUp', Math.abs(rest));
}

/** Waits (frame by frame) until slice `index` is painted in one of `qualities` after at least one draw since `rendersAtAsk`. */
async function waitPainted(index: number, qualities: readonly Quality[], rendersAtAsk: number, timeoutMs: number): Promise<{ t: number; s: Snapshot; look: CanvasLook } | undefined> {
  const start = performance.now();
  for (;;) {
    const t = await nextFrame();
    const s = snapshot();
    if (renders > rendersAtAsk) {
      const l = isPainted(s, index, qualities);
      if (l) return { t, s, look: l };
    }
    if (performance.now() - start > timeoutMs) return undefined;
  }
}

const api: ProgressiveBenchApi = {
  open(studyUID, columns, rows, slices) {
    image = { columns, rows, slices };
    const row = document.querySelector(`[data-testid="worklist-row"][data-study-uid="${studyUID}"]`);
    const button = row?.querySelector<HTMLElement>('[data-testid="open-study"]');
    if (!button) throw new Error(`no open button on the worklist row of ${studyUID}`);
    t0 = performance.now();
    button.click();
    monitoring = true;
    requestAnimationFrame(monitor);
    return performance.timeOrigin + t0;
  },

  async waitFor(name, timeoutMs) {
    const start = performance.now();
    while (!reached[name]) {
      if (performance.now() - start > timeoutMs) return undefined;
      await new Promise((r) => setTimeout(r, 20));
    }
    return reached[name];
  },

  milestones: () => ({ ...reached }),
  timeline: () => [...samples],
  snapshot,

  async scroll(from, to, durationMs) {
    watchRenders();
    // Onto the range's first slice, painted.
    const s0 = snapshot();
    let r = renders;
    pressTowards(s0.index, from);
    if (!(await waitPainted(from, ['lossless', 'preview'], s0.index === from ? -1 : r, 5000))) throw new Error(`slice ${from} did not paint before the scroll`);
    let asked = from;
    let dir: 1 | -1 = from < to ? 1 : -1;
    let askedAt = await nextFrame();
    let lastHash = look(asked)?.hash ?? 0;
    const next = (): number => {
      if (asked + dir > Math.max(from, to) || asked + dir < Math.min(from, to)) dir = dir === 1 ? -1 : 1;
      return asked + dir;
    };
    const figures: ScrollFigures = { from, to, elapsedMs: 0, frames: 0, painted: 0, canvasChanged: 0, droppedFrames: 0, notLossless: 0, fps: 0, frameIntervalMs: 0, missedRefreshes: 0, askToSeenMs: [] };
    // Asked at the start of a frame (where a key event lands): the next slice, once the one asked for before is painted.
    asked = next();
    r = renders;
    press(dir === 1 ? 'ArrowDown' : 'ArrowUp');
    const start = askedAt;
    let prevFrame = askedAt;
    const intervals: number[] = [];
    for (;;) {
      const t = await nextFrame();
      intervals.push(t - prevFrame);
      prevFrame = t;
      figures.frames++;
      const s = snapshot();
      const l = renders > r ? isPainted(s, asked, ['lossless', 'preview']) : undefined;
      if (!l) {
        figures.droppedFrames++;
      } else {
        figures.painted++;
        figures.askToSeenMs.push(t - askedAt);
        if (l.hash !== lastHash) figures.canvasChanged++;
        if (s.quality !== 'lossless') figures.notLossless++;
        lastHash = l.hash;
        if (t - start >= durationMs) {
          figures.elapsedMs = t - start;
          break;
        }
        asked = next();
        r = renders;
        askedAt = t;
        press(dir === 1 ? 'ArrowDown' : 'ArrowUp');
      }
      if (t - start > durationMs + 5000) {
        figures.elapsedMs = t - start;
        break;
      }
    }
    figures.fps = figures.painted / (figures.elapsedMs / 1000);
    figures.frameIntervalMs = at(intervals, 0.5);
    figures.missedRefreshes = intervals.reduce((n, dt) => n + Math.max(0, Math.round(dt / figures.frameIntervalMs) - 1), 0);
    return figures;
  },

  async jump(target, timeoutMs) {
    watchRenders();
    const s0 = snapshot();
    const losslessBefore = new Set([...s0.states].flatMap((q, i) => (q === 'L' ? [i] : [])));
    await nextFrame();
    const r = renders;
    const jumpAt = performance.now();
    // End, then back up to the target: one task, as fast as keys can be pressed.
    press('End');
    pressTowards(s0.count - 1, target);
    const figures: JumpFigures = {
      target,
      atMs: jumpAt - t0,
      statesAtJump: s0.states,
      firstPaintMs: NaN,
      firstPaintQuality: '',
      losslessMs: NaN,
      losslessMeanwhile: NaN,
      losslessMeanwhileIndices: [],
    };
    let previewHash: number | undefined;
    for (;;) {
      const t = await nextFrame();
      const s = snapshot();
      if (renders > r) {
        const l = isPainted(s, target, ['lossless', 'preview']);
        if (l && Number.isNaN(figures.firstPaintMs)) {
          figures.firstPaintMs = t - jumpAt;
          figures.firstPaintQuality = s.quality;
        }
        if (l && s.quality === 'preview') previewHash = l.hash;
        // The lossless image on the canvas: reported lossless, and (when a preview was shown first) the canvas redrawn since.
        if (l && s.quality === 'lossless' && (previewHash === undefined || l.hash !== previewHash)) {
          figures.losslessMs = t - jumpAt;
          const st = snapshot().states;
          figures.losslessMeanwhileIndices = [...st].flatMap((q, i) => (q === 'L' && !losslessBefore.has(i) && i !== target ? [i] : []));
          figures.losslessMeanwhile = figures.losslessMeanwhileIndices.length;
          return figures;
        }
      }
      if (t - jumpAt > timeoutMs) return figures;
    }
  },

  async sweep(perSliceTimeoutMs) {
    watchRenders();
    const s0 = snapshot();
    const startAt = performance.now();
    const figures: SweepFigures = {
      atMs: startAt - t0,
      statesAtStart: s0.states,
      elapsedMs: 0,
      painted: 0,
      paintedPreview: 0,
      paintedLossless: 0,
      failed: [],
      perSliceMedianMs: NaN,
      perSliceP95Ms: NaN,
      perSliceMaxMs: NaN,
    };
    const per: number[] = [];
    for (let i = 0; i < s0.count; i++) {
      const askedAt = await nextFrame();
      const r = renders;
      if (i === 0) press('Home');
      else press('ArrowDown');
      const got = await waitPainted(i, ['lossless', 'preview'], s0.index === 0 && i === 0 ? -1 : r, perSliceTimeoutMs);
      if (!got) {
        figures.failed.push(i);
        continue;
      }
      figures.painted++;
      if (got.s.quality === 'lossless') figures.paintedLossless++;
      else figures.paintedPreview++;
      per.push(got.t - askedAt);
    }
    figures.elapsedMs = performance.now() - startAt;
    figures.perSliceMedianMs = at(per, 0.5);
    figures.perSliceP95Ms = at(per, 0.95);
    figures.perSliceMaxMs = per.length ? Math.max(...per) : NaN;
    return figures;
  },

  stop() {
    monitoring = false;
  },
};

window.__progressiveBench = api;
