import type { VOI } from 'cornerstone-core';
import { createListeners } from '../../shared/store/listeners';
import type { Listeners } from '../../shared/store/listeners';
import type { ImagingRuntime } from './cornerstone-setup';
import type { StackPreloader } from './stack-preloader';
import { EMPTY } from './viewport-types';
import type { StackEntry, ViewportDeps, ViewportState } from './viewport-types';

export type Cornerstone = ImagingRuntime['cornerstone'];
export type CsViewport = NonNullable<ReturnType<Cornerstone['getViewport']>>;

/**
 * The mutable state of one viewport store, shared explicitly by the modules
 * that make it up (navigation, loading, preview replacement, display). One
 * object per viewport: nothing here is a module singleton.
 */
export interface ViewportCtx {
  readonly deps: ViewportDeps;
  readonly cs: Cornerstone;
  readonly listeners: Listeners;
  state: ViewportState;
  element: HTMLElement | undefined;
  stack: StackEntry[];
  /** Stack index of each SOP instance (a multi-frame instance: its first frame). */
  indexOfSop: Map<string, number>;
  /** Revision per requested slice: a late decode of an older request does not paint. */
  display: number;
  /** Revision per loaded series: a late image of the previous series stays out. */
  stackRev: number;
  /** The next painted image is the first of its stack: it gets its own default window and zoom. */
  newStack: boolean;
  preloader: StackPreloader | undefined;
  lastFocus: number;
  /** Decodes under way. */
  pending: number;
  /** The reader's window for lossless slices: a preview shows the site's windowing without changing it. */
  losslessVoi: VOI | undefined;
  /** Zoom and pan of this viewport when a smaller layout hid it. */
  keptView: { scale: number; translation: { x: number; y: number } } | undefined;
}

export function createViewportCtx(deps: ViewportDeps): ViewportCtx {
  return {
    deps,
    cs: deps.imaging.cornerstone,
    listeners: createListeners(),
    state: EMPTY,
    element: undefined,
    stack: [],
    indexOfSop: new Map(),
    display: 0,
    stackRev: 0,
    newStack: false,
    preloader: undefined,
    lastFocus: -1,
    pending: 0,
    losslessVoi: undefined,
    keptView: undefined,
  };
}

export function setState(ctx: ViewportCtx, patch: Partial<ViewportState>): void {
  ctx.state = { ...ctx.state, ...patch };
  ctx.listeners.notify();
}

/** Replaces the whole state (a new series, or none). */
export function replaceState(ctx: ViewportCtx, state: ViewportState): void {
  ctx.state = state;
  ctx.listeners.notify();
}

export function setStack(ctx: ViewportCtx, entries: StackEntry[]): void {
  ctx.stack = entries;
  ctx.indexOfSop = new Map();
  entries.forEach((e, i) => {
    if (!ctx.indexOfSop.has(e.inst.sopInstanceUID)) ctx.indexOfSop.set(e.inst.sopInstanceUID, i);
  });
}

/** Stops the read-ahead of the current stack. */
export function stopPreloader(ctx: ViewportCtx): void {
  ctx.preloader?.stop();
  ctx.preloader = undefined;
}

/**
 * Whether an answer that started at revision `rev` of stack `myStack` on
 * element `el` may still change the viewport: no newer slice, series or
 * element has been asked for since.
 */
export function isCurrent(ctx: ViewportCtx, rev: number, myStack: number, el: HTMLElement): boolean {
  return rev === ctx.display && myStack === ctx.stackRev && el === ctx.element;
}

export async function imageIdOf(ctx: ViewportCtx, entry: StackEntry): Promise<string> {
  const id = await ctx.deps.session.imageIdFor(entry.inst);
  return entry.frame === undefined ? id : `${id}?frame=${entry.frame}`;
}

/** Copies Cornerstone's viewport (window, zoom, turns) into the state. */
export function syncViewportState(ctx: ViewportCtx): void {
  if (!ctx.element) return;
  const vp = ctx.cs.getViewport(ctx.element);
  if (!vp) return;
  const { state } = ctx;
  if (state.quality === 'lossless') ctx.losslessVoi = { windowWidth: vp.voi.windowWidth, windowCenter: vp.voi.windowCenter };
  setState(ctx, {
    voi: state.quality === 'lossless' || !ctx.losslessVoi ? { windowWidth: vp.voi.windowWidth, windowCenter: vp.voi.windowCenter } : ctx.losslessVoi,
    scale: vp.scale,
    rotation: vp.rotation ?? 0,
    hflip: vp.hflip ?? false,
    vflip: vp.vflip ?? false,
    invert: vp.invert ?? false,
  });
}

/** Counts a decode in (`busy` until every one has settled). */
export function beginDecode(ctx: ViewportCtx, patch: Partial<ViewportState> = {}): void {
  ctx.pending++;
  setState(ctx, { ...patch, busy: true });
}

export function endDecode(ctx: ViewportCtx): void {
  ctx.pending--;
  setState(ctx, { busy: ctx.pending > 0 });
}
