import { createListeners } from '../../shared/store/listeners';
import type { Listeners } from '../../shared/store/listeners';
import type { InstanceRecord } from '../cache/telerad-db';
import type { OpenRequest, SessionDeps, SessionState, SliceQuality, StackInstance } from './study-session-types';

export const INITIAL_SESSION: SessionState = { phase: 'loading', series: [], reloads: 0, streaming: false, slicesRev: 0 };

const DEFAULT_RESUME_DELAYS_MS = [2000, 4000, 8000, 15000];

/**
 * The mutable state of one study session, shared explicitly by the modules
 * that make it up (opening and retrieval, cached reads and integrity drops).
 * One object per session: nothing here is a module singleton.
 */
export interface SessionCtx {
  readonly deps: SessionDeps;
  readonly progressive: boolean;
  readonly resumeDelays: readonly number[];
  readonly setTimer: (fn: () => void, ms: number) => unknown;
  readonly clearTimer: (handle: unknown) => void;
  readonly listeners: Listeners;
  readonly sliceListeners: Set<(sop: string, q: SliceQuality) => void>;
  state: SessionState;
  /** One per open: a retrieval that finishes after the study was closed changes nothing. */
  session: number;
  allInstances: StackInstance[];
  bySop: Map<string, StackInstance>;
  readonly stacks: Map<string, StackInstance[]>;
  readonly imageIds: Map<string, Promise<string>>;
  readonly previewIds: Map<string, Promise<string | undefined>>;
  readonly quality: Map<string, 'lossless' | 'preview'>;
  currentReq: OpenRequest | undefined;
  /** Slices the hash check dropped, waiting to be fetched again. */
  readonly dropped: Set<string>;
  refetching: boolean;
  resumeTimer: unknown;
  slicesNotify: unknown;
}

export function createSessionCtx(deps: SessionDeps): SessionCtx {
  return {
    deps,
    progressive: deps.progressive ?? true,
    resumeDelays: deps.resumeDelaysMs ?? DEFAULT_RESUME_DELAYS_MS,
    setTimer: deps.setTimeout ?? ((fn: () => void, ms: number): unknown => setTimeout(fn, ms)),
    clearTimer: deps.clearTimeout ?? ((h: unknown): void => clearTimeout(h as ReturnType<typeof setTimeout>)),
    listeners: createListeners(),
    sliceListeners: new Set(),
    state: INITIAL_SESSION,
    session: 0,
    allInstances: [],
    bySop: new Map(),
    stacks: new Map(),
    imageIds: new Map(),
    previewIds: new Map(),
    quality: new Map(),
    currentReq: undefined,
    dropped: new Set(),
    refetching: false,
    resumeTimer: undefined,
    slicesNotify: undefined,
  };
}

export function setSession(ctx: SessionCtx, patch: Partial<SessionState>): void {
  ctx.state = { ...ctx.state, ...patch };
  ctx.listeners.notify();
}

/** Forgets the slices of the study open until now (its stacks, loader ids and qualities). */
export function clearStudy(ctx: SessionCtx): void {
  ctx.allInstances = [];
  ctx.bySop = new Map();
  ctx.stacks.clear();
  ctx.imageIds.clear();
  ctx.previewIds.clear();
  ctx.quality.clear();
}

/** Slice changes come in bursts (a batch of writes): the stack bars redraw at most every 100 ms. */
function bumpSlices(ctx: SessionCtx): void {
  if (ctx.slicesNotify !== undefined) return;
  ctx.slicesNotify = ctx.setTimer(() => {
    ctx.slicesNotify = undefined;
    setSession(ctx, { slicesRev: ctx.state.slicesRev + 1 });
  }, 100);
}

export function setQuality(ctx: SessionCtx, sop: string, q: SliceQuality, mySession: number): void {
  if (mySession !== ctx.session) return;
  const before = ctx.quality.get(sop) ?? 'missing';
  // A preview never replaces a lossless file (a late preview answer for a slice stored meanwhile).
  if (before === q || (before === 'lossless' && q === 'preview')) return;
  if (q === 'missing') ctx.quality.delete(sop);
  else ctx.quality.set(sop, q);
  if (q === 'lossless') {
    // Its preview is of no use any more: free it (the decoded one too).
    const p = ctx.previewIds.get(sop);
    ctx.previewIds.delete(sop);
    void p?.then((id) => id && ctx.deps.imaging.removePreview?.(id)).catch(() => undefined);
  }
  if (q === 'missing') ctx.imageIds.delete(sop);
  for (const l of ctx.sliceListeners) {
    try {
      l(sop, q);
    } catch (err) {
      ctx.deps.log.error('A slice listener failed', err);
    }
  }
  bumpSlices(ctx);
}

/** What the cache holds, as it was read: stored files are lossless, the other previewed slices previews. */
export function noteCachedQualities(ctx: SessionCtx, records: readonly InstanceRecord[], previews: Iterable<string>): void {
  for (const r of records) ctx.quality.set(r.sopInstanceUID, 'lossless');
  for (const sop of previews) if (!ctx.quality.has(sop)) ctx.quality.set(sop, 'preview');
}

/** Header geometry of a newly stored slice fills what the site's list left out (the order stays: the reader is in it). */
export function completeFromHeader(
  ctx: SessionCtx,
  sop: string,
  header: { transferSyntaxUID?: string; imagePositionPatient?: number[]; imageOrientationPatient?: number[] } | undefined,
): void {
  const entry = ctx.bySop.get(sop);
  if (!entry || !header) return;
  entry.transferSyntaxUID ??= header.transferSyntaxUID;
  if (!entry.imagePositionPatient && header.imagePositionPatient) entry.imagePositionPatient = header.imagePositionPatient;
  if (!entry.imageOrientationPatient && header.imageOrientationPatient) entry.imageOrientationPatient = header.imageOrientationPatient;
}
