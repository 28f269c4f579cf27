import type { OpenRequest, SeriesOption } from './study-session-types';
import { stopCine, startCine } from './viewer-cine';
import { createViewerCtx, createViewports, refreshViewer, setOwn, visibleCount } from './viewer-context';
import type { ViewerCtx } from './viewer-context';
import { attachMeasurements, attachViewportElement, detachMeasurements, focusMeasurements } from './viewer-elements';
import { renderThumbnail } from './viewer-thumbnail';
import { MAX_VIEWPORTS, viewportCount } from './viewer-types';
import type { ViewerDeps, ViewerStore } from './viewer-types';

export { integrityNote } from './study-session';
export type { OpenRequest, SeriesOption } from './study-session';
export type { DisplayedInstance } from './viewport-store';
export { CINE_FPS_CHOICES, LAYOUTS, LAYOUT_NAMES, MAX_VIEWPORTS, POINTER_MODES, viewportCount } from './viewer-types';
export type { CineState, LayoutName, PointerMode, Ticker, ViewerDeps, ViewerPhase, ViewerState, ViewerStore } from './viewer-types';

/**
 * The series are in: a series asked for while the study was loading (a photo
 * clicked in the referral panel) wins in the active viewport; the others get
 * the next series, so a 2 × 2 shows four at once.
 */
function hangSeries(ctx: ViewerCtx, series: SeriesOption[]): void {
  ctx.opened = true;
  const pending = ctx.pendingSeries;
  const asked = pending && series.some((o) => o.seriesInstanceUID === pending) ? pending : undefined;
  ctx.pendingSeries = undefined;
  const order = asked ? [asked, ...series.map((s) => s.seriesInstanceUID).filter((u) => u !== asked)] : series.map((s) => s.seriesInstanceUID);
  ctx.viewports.forEach((vp, slot) => {
    const k = (slot - ctx.own.active + MAX_VIEWPORTS) % MAX_VIEWPORTS;
    vp.loadSeries(order[k % order.length]!);
  });
}

/** Opens the study in the viewports; the returned function closes it (and every viewport's stack). */
function openStudy(ctx: ViewerCtx, req: OpenRequest): () => void {
  stopCine(ctx);
  ctx.opened = false;
  for (const vp of ctx.viewports) vp.clear();
  const close = ctx.session.open(req, (series) => hangSeries(ctx, series));
  for (const slot of ctx.elements.keys()) attachMeasurements(ctx, slot);
  return () => {
    stopCine(ctx);
    ctx.opened = false;
    ctx.pendingSeries = undefined;
    for (const slot of [...ctx.measurementDetach.keys()]) detachMeasurements(ctx, slot);
    for (const vp of ctx.viewports) vp.clear();
    close();
  };
}

/**
 * The viewer: one study session shared by up to four viewport stores, the
 * layout, which viewport is active, synchronised scroll and cine. The
 * session owns retrieval and the cache; each viewport owns its stack,
 * slice and view, and fails alone.
 *
 * The concerns live in their own modules, sharing one explicit state object
 * (`ViewerCtx`): the state and the viewports with their synchronised scroll
 * (viewer-context), cine (viewer-cine), the mounted elements and their
 * measurements (viewer-elements), the series thumbnails (viewer-thumbnail).
 */
export function createViewerStore(deps: ViewerDeps): ViewerStore {
  const ctx = createViewerCtx(deps);
  const { session, viewports } = ctx;
  ctx.session.subscribe(() => {
    const reloads = session.getState().reloads;
    if (reloads !== ctx.lastReloads) {
      ctx.lastReloads = reloads;
      for (const vp of viewports) vp.reload();
    }
    refreshViewer(ctx);
  });
  viewports.push(...createViewports(ctx));

  const store: ViewerStore = {
    getState: () => ctx.state,
    subscribe: ctx.listeners.subscribe,
    session,
    viewports,
    open: (req) => openStudy(ctx, req),
    attachViewport: (slot, el) => attachViewportElement(ctx, slot, el),
    activeViewport: () => viewports[ctx.own.active]!,
    setLayout(layout) {
      if (layout === ctx.own.layout) return;
      const count = viewportCount(layout);
      if (ctx.own.cine.slot !== undefined && ctx.own.cine.slot >= count) stopCine(ctx);
      setOwn(ctx, { layout, active: ctx.own.active < count ? ctx.own.active : 0 });
    },
    setActive(slot) {
      if (slot < 0 || slot >= visibleCount(ctx) || slot === ctx.own.active) return;
      setOwn(ctx, { active: slot });
      focusMeasurements(ctx);
    },
    selectSeries(seriesUid) {
      if (!ctx.opened) {
        ctx.pendingSeries = seriesUid; // still loading: shown once it is in
        return;
      }
      store.loadSeries(ctx.own.active, seriesUid);
    },
    loadSeries(slot, seriesUid) {
      const vp = viewports[slot];
      if (!vp || vp.getState().seriesInstanceUID === seriesUid) return;
      if (ctx.own.cine.slot === slot) stopCine(ctx);
      vp.loadSeries(seriesUid);
    },
    setSync(on) {
      setOwn(ctx, { sync: on });
    },
    setMode(mode) {
      // The left button is shared with the measurement tools: picking a navigation mode puts them down.
      if (deps.measurements?.getState().activeTool) deps.measurements.setActiveTool(undefined);
      setOwn(ctx, { mode });
    },
    setCineFps(fps) {
      const slot = ctx.own.cine.slot;
      setOwn(ctx, { cine: { ...ctx.own.cine, fps } });
      if (slot !== undefined) startCine(ctx, slot);
    },
    toggleCine() {
      if (ctx.own.cine.slot !== undefined) stopCine(ctx);
      else startCine(ctx, ctx.own.active);
    },
    stopCine: () => stopCine(ctx),
    setHelpOpen(open) {
      setOwn(ctx, { helpOpen: open });
    },
    refetchDropped() {
      session.refetchDropped();
    },
    renderThumbnail: (seriesUid, canvas) => renderThumbnail(session, deps.imaging, seriesUid, canvas),
    ...(deps.measurements ? { measurements: deps.measurements } : {}),
  };
  return store;
}
