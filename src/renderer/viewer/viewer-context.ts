import { createListeners } from '../../shared/store/listeners';
import type { Listeners } from '../../shared/store/listeners';
import { createStudySession } from './study-session';
import type { StudySession } from './study-session-types';
import { nearestSliceIndex } from './viewer-geometry';
import { MAX_VIEWPORTS, viewportCount } from './viewer-types';
import type { ViewerDeps, ViewerState } from './viewer-types';
import { createViewportStore } from './viewport-store';
import type { ViewportStore } from './viewport-types';

/** What the viewer store holds itself; the rest of its state is the session's. */
export type ViewerOwnState = Omit<ViewerState, 'phase' | 'progress' | 'message' | 'series' | 'streaming' | 'slicesRev'>;

/**
 * The mutable state of one viewer store, shared explicitly by the modules
 * that make it up (cine, mounted elements and their measurements,
 * thumbnails). One object per viewer: nothing here is a module singleton.
 */
export interface ViewerCtx {
  readonly deps: ViewerDeps;
  readonly session: StudySession;
  readonly listeners: Listeners;
  own: ViewerOwnState;
  state: ViewerState;
  /** The session's `reloads` last seen: a change reloads every viewport's slice. */
  lastReloads: number;
  /** Filled once, right after the context is made (each viewport's sync needs the others). */
  readonly viewports: ViewportStore[];
  /** The mounted viewport elements, by slot. */
  readonly elements: Map<number, HTMLElement>;
  /** The measurement store's detach, by slot. */
  readonly measurementDetach: Map<number, () => void>;
  cineStop: (() => void) | undefined;
  /** A series asked for while the study was still loading: shown once it is in. */
  pendingSeries: string | undefined;
  /** The study's series are in (the viewports got theirs). */
  opened: boolean;
}

function composeState(session: StudySession, own: ViewerOwnState): ViewerState {
  const s = session.getState();
  return { phase: s.phase, progress: s.progress, message: s.message, series: s.series, streaming: s.streaming, slicesRev: s.slicesRev, ...own };
}

export function createViewerCtx(deps: ViewerDeps): ViewerCtx {
  const session = createStudySession(deps);
  const listeners = createListeners();
  const own: ViewerOwnState = {
    layout: '1x1',
    active: 0,
    sync: true,
    cine: { fps: 10 },
    mode: 'wl',
    helpOpen: false,
  };
  return {
    deps,
    session,
    listeners,
    own,
    state: composeState(session, own),
    lastReloads: 0,
    viewports: [],
    elements: new Map(),
    measurementDetach: new Map(),
    cineStop: undefined,
    pendingSeries: undefined,
    opened: false,
  };
}

export function refreshViewer(ctx: ViewerCtx): void {
  ctx.state = composeState(ctx.session, ctx.own);
  ctx.listeners.notify();
}

export function setOwn(ctx: ViewerCtx, patch: Partial<ViewerOwnState>): void {
  ctx.own = { ...ctx.own, ...patch };
  refreshViewer(ctx);
}

/** How many viewports the layout shows. */
export function visibleCount(ctx: ViewerCtx): number {
  return viewportCount(ctx.own.layout);
}

/** Scroll follows: the other visible viewports of the same frame of reference go to the nearest slice. */
function syncFrom(ctx: ViewerCtx, source: ViewportStore, index: number): void {
  if (!ctx.own.sync) return;
  const src = source.getState();
  const plane = source.planes()[index];
  if (!plane || !src.frameOfReferenceUID) return;
  for (const vp of ctx.viewports.slice(0, visibleCount(ctx))) {
    if (vp === source) continue;
    const t = vp.getState();
    if (!t.frameOfReferenceUID || t.frameOfReferenceUID !== src.frameOfReferenceUID || t.count === 0) continue;
    const j = nearestSliceIndex(plane, vp.planes());
    if (j !== undefined && j !== t.index) vp.show(j, { synced: true });
  }
}

/** The four viewport stores, on the session, each following the others' scroll. */
export function createViewports(ctx: ViewerCtx): ViewportStore[] {
  const { deps, session } = ctx;
  return Array.from({ length: MAX_VIEWPORTS }, (_, slot) => {
    const vp: ViewportStore = createViewportStore({
      slot,
      imaging: deps.imaging,
      session,
      log: deps.log.child(`viewport-${slot + 1}`),
      ...(deps.createPreloader ? { createPreloader: deps.createPreloader } : {}),
      ...(deps.decodedCacheBytes !== undefined ? { decodedCacheBytes: deps.decodedCacheBytes } : {}),
      visibleViewports: () => visibleCount(ctx),
      onNavigate: (index) => syncFrom(ctx, vp, index),
    });
    return vp;
  });
}
