import type { Logger } from '../../shared/log';
import type { StudyCache } from '../cache/study-cache';
import type { StudyRetriever, RetrieveProgress } from '../cache/study-retriever';
import type { ImagingRuntime } from './cornerstone-setup';
import type { MeasurementStore } from './annotations/measurement-store';
import { createListeners } from '../../shared/store/listeners';
import { createStudySession } from './study-session';
import type { OpenRequest, SeriesOption, SessionPhase, StudySession } from './study-session';
import { assertDecodedSize, createViewportStore } from './viewport-store';
import type { ViewportStore } from './viewport-store';
import type { StackPreloader, StackPreloaderOptions } from './stack-preloader';
import { nearestSliceIndex } from './viewer-geometry';
import { hangingIndex } from '../../shared/dicom/stack-order';

export { integrityNote } from './study-session';
export type { OpenRequest, SeriesOption } from './study-session';
export type { DisplayedInstance } from './viewport-store';

export type LayoutName = '1x1' | '1x2' | '2x2';
export const LAYOUTS: Readonly<Record<LayoutName, { rows: number; columns: number; label: string }>> = {
  '1x1': { rows: 1, columns: 1, label: '1 × 1' },
  '1x2': { rows: 1, columns: 2, label: '1 × 2' },
  '2x2': { rows: 2, columns: 2, label: '2 × 2' },
};
export const LAYOUT_NAMES: readonly LayoutName[] = ['1x1', '1x2', '2x2'];
export const MAX_VIEWPORTS = 4;

export function viewportCount(layout: LayoutName): number {
  return LAYOUTS[layout].rows * LAYOUTS[layout].columns;
}

/** What the left mouse button does on a viewport when no measurement tool is active. */
export type PointerMode = 'wl' | 'pan' | 'zoom' | 'magnify';
export const POINTER_MODES: readonly { mode: PointerMode; label: string }[] = [
  { mode: 'wl', label: 'Window/level' },
  { mode: 'pan', label: 'Pan' },
  { mode: 'zoom', label: 'Zoom' },
  { mode: 'magnify', label: 'Magnify' },
];

export const CINE_FPS_CHOICES: readonly number[] = [5, 10, 15, 20, 30, 60];

export interface CineState {
  /** The slot playing, undefined when stopped. */
  slot?: number;
  fps: number;
}

export type ViewerPhase = SessionPhase;

export interface ViewerState {
  phase: ViewerPhase;
  progress?: RetrieveProgress;
  /** Study-wide message (retrieval failure, integrity note); a viewport's own decode failure is in its state. */
  message?: string;
  series: SeriesOption[];
  /** Slices are still arriving. */
  streaming: boolean;
  /** Bumped when a slice changes quality (stack bars redraw). */
  slicesRev: number;
  layout: LayoutName;
  /** The viewport keys, tool bar and series clicks act on. */
  active: number;
  /** Scroll follows between viewports of one frame of reference. */
  sync: boolean;
  cine: CineState;
  mode: PointerMode;
  helpOpen: boolean;
}

/** A repeating timer (setInterval in the app; a hand-driven one in tests). */
export interface Ticker {
  every(ms: number, tick: () => void): () => void;
}

export interface ViewerDeps {
  cache: StudyCache;
  retriever: StudyRetriever;
  imaging: ImagingRuntime;
  log: Logger;
  onCacheChanged?: () => void;
  isOnline?: () => boolean;
  measurements?: MeasurementStore;
  createPreloader?: (opts: StackPreloaderOptions) => StackPreloader;
  /** Bytes of Cornerstone's decoded-image cache, shared by the viewports' read-ahead. */
  decodedCacheBytes?: number;
  ticker?: Ticker;
  /** Open on the instance list and fill in as slices land (default); false waits for the whole study (bench baseline). */
  progressive?: boolean;
}

export interface ViewerStore {
  getState(): ViewerState;
  subscribe(listener: () => void): () => void;
  readonly session: StudySession;
  /** Four viewport stores; the layout shows the first 1, 2 or 4. */
  readonly viewports: readonly ViewportStore[];
  /** Opens the study; the returned function closes it (and every viewport's stack). */
  open(req: OpenRequest): () => void;
  /** A viewport element mounted (React); the returned function unmounts it. */
  attachViewport(slot: number, element: HTMLElement): () => void;
  activeViewport(): ViewportStore;
  setLayout(layout: LayoutName): void;
  setActive(slot: number): void;
  /** Shows a series in the active viewport (series strip, referral panel's photos). */
  selectSeries(seriesInstanceUID: string): void;
  loadSeries(slot: number, seriesInstanceUID: string): void;
  setSync(on: boolean): void;
  setMode(mode: PointerMode): void;
  setCineFps(fps: number): void;
  /** Starts cine in the active viewport, or stops it. */
  toggleCine(): void;
  stopCine(): void;
  setHelpOpen(open: boolean): void;
  /** Fetches again the images the hash check dropped, if any (called when the network comes back). */
  refetchDropped(): void;
  /** Paints a series' middle image on a small canvas (the thumbnail strip); rejects when it cannot be decoded. */
  renderThumbnail(seriesInstanceUID: string, canvas: HTMLCanvasElement): Promise<void>;
  /** Measurements on the shown instances; absent where the app wires no measurement tools. */
  measurements?: MeasurementStore;
}

const defaultTicker: Ticker = {
  every(ms, tick) {
    const id = setInterval(tick, ms);
    return () => clearInterval(id);
  },
};

/**
 * The viewer: one study session shared by up to four viewport stores, the
 * layout, which viewport is active, synchronised scroll and cine. The
 * session owns retrieval and the cache; each viewport owns its stack,
 * slice and view, and fails alone.
 */
export function createViewerStore(deps: ViewerDeps): ViewerStore {
  const { log } = deps;
  const session = createStudySession(deps);
  const listeners = createListeners();
  let own: Omit<ViewerState, 'phase' | 'progress' | 'message' | 'series' | 'streaming' | 'slicesRev'> = {
    layout: '1x1',
    active: 0,
    sync: true,
    cine: { fps: 10 },
    mode: 'wl',
    helpOpen: false,
  };
  const compose = (): ViewerState => {
    const s = session.getState();
    return { phase: s.phase, progress: s.progress, message: s.message, series: s.series, streaming: s.streaming, slicesRev: s.slicesRev, ...own };
  };
  let state = compose();
  let lastReloads = 0;
  const refresh = (): void => {
    state = compose();
    listeners.notify();
  };
  session.subscribe(() => {
    const reloads = session.getState().reloads;
    if (reloads !== lastReloads) {
      lastReloads = reloads;
      for (const vp of viewports) vp.reload();
    }
    refresh();
  });
  const setOwn = (patch: Partial<typeof own>): void => {
    own = { ...own, ...patch };
    refresh();
  };

  const visible = (): number => viewportCount(own.layout);

  const syncFrom = (source: ViewportStore, index: number): void => {
    if (!own.sync) return;
    const src = source.getState();
    const plane = source.planes()[index];
    if (!plane || !src.frameOfReferenceUID) return;
    for (const vp of viewports.slice(0, visible())) {
      if (vp === source) continue;
      const t = vp.getState();
      if (!t.frameOfReferenceUID || t.frameOfReferenceUID !== src.frameOfReferenceUID || t.count === 0) continue;
      const j = nearestSliceIndex(plane, vp.planes());
      if (j !== undefined && j !== t.index) vp.show(j, { synced: true });
    }
  };

  const viewports: ViewportStore[] = Array.from({ length: MAX_VIEWPORTS }, (_, slot) => {
    const vp: ViewportStore = createViewportStore({
      slot,
      imaging: deps.imaging,
      session,
      log: log.child(`viewport-${slot + 1}`),
      ...(deps.createPreloader ? { createPreloader: deps.createPreloader } : {}),
      ...(deps.decodedCacheBytes !== undefined ? { decodedCacheBytes: deps.decodedCacheBytes } : {}),
      visibleViewports: visible,
      onNavigate: (index) => syncFrom(vp, index),
    });
    return vp;
  });

  // Measurements follow every mounted viewport of the open study.
  const elements = new Map<number, HTMLElement>();
  const measurementDetach = new Map<number, () => void>();
  const measurementsAttach = (slot: number): void => {
    const m = deps.measurements;
    const el = elements.get(slot);
    const req = session.request();
    if (!m || !el || !req || measurementDetach.has(slot)) return;
    const vp = viewports[slot]!;
    measurementDetach.set(slot, m.attach(el, req.study.studyInstanceUID, { displayed: () => vp.getState().displayed, subscribe: vp.subscribe }));
    if (slot === own.active) focusMeasurements();
  };
  const measurementsDetach = (slot: number): void => {
    measurementDetach.get(slot)?.();
    measurementDetach.delete(slot);
  };
  /** The measurement store's multi-viewport `focus`, where it has one. */
  const focusMeasurements = (): void => {
    const m = deps.measurements as (MeasurementStore & { focus?: (el: HTMLElement) => void }) | undefined;
    const el = elements.get(own.active);
    if (el) m?.focus?.(el);
  };

  let cineStop: (() => void) | undefined;
  const stopCine = (): void => {
    cineStop?.();
    cineStop = undefined;
    if (own.cine.slot !== undefined) setOwn({ cine: { fps: own.cine.fps } });
  };
  const startCine = (slot: number): void => {
    cineStop?.();
    const vp = viewports[slot]!;
    if (vp.getState().count < 2) return;
    const ticker = deps.ticker ?? defaultTicker;
    // A tick while the last slice is still decoding is skipped: cine never piles up decodes.
    cineStop = ticker.every(1000 / own.cine.fps, () => {
      const s = vp.getState();
      if (s.busy || s.count < 2) return;
      vp.show((s.index + 1) % s.count, { direction: 1 });
    });
    setOwn({ cine: { fps: own.cine.fps, slot } });
  };

  /** Resolves once the slice has a preview or its lossless file; rejects when the retrieval ended without it. */
  const whenAvailable = (sop: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (session.quality(sop) !== 'missing') return resolve();
      const done = (): void => {
        offSlice();
        offState();
      };
      const offSlice = session.onSliceChange((s, q) => {
        if (s !== sop || q === 'missing') return;
        done();
        resolve();
      });
      const offState = session.subscribe(() => {
        const st = session.getState();
        if ((st.streaming || st.phase === 'loading') && session.request()) return;
        if (session.quality(sop) !== 'missing') return;
        done();
        reject(new Error('its middle image has not arrived'));
      });
    });

  let pendingSeries: string | undefined;
  let opened = false;

  const store: ViewerStore = {
    getState: () => state,
    subscribe: listeners.subscribe,
    session,
    viewports,
    open(req) {
      stopCine();
      opened = false;
      for (const vp of viewports) vp.clear();
      const close = session.open(req, (series) => {
        opened = true;
        // A series asked for while the study was loading (a photo clicked in the referral panel) wins
        // in the active viewport; the others get the next series, so a 2 × 2 shows four at once.
        const asked = pendingSeries && series.some((o) => o.seriesInstanceUID === pendingSeries) ? pendingSeries : undefined;
        pendingSeries = undefined;
        const order = asked ? [asked, ...series.map((s) => s.seriesInstanceUID).filter((u) => u !== asked)] : series.map((s) => s.seriesInstanceUID);
        viewports.forEach((vp, slot) => {
          const k = (slot - own.active + MAX_VIEWPORTS) % MAX_VIEWPORTS;
          vp.loadSeries(order[k % order.length]!);
        });
      });
      for (const slot of elements.keys()) measurementsAttach(slot);
      return () => {
        stopCine();
        opened = false;
        pendingSeries = undefined;
        for (const slot of [...measurementDetach.keys()]) measurementsDetach(slot);
        for (const vp of viewports) vp.clear();
        close();
      };
    },
    attachViewport(slot, el) {
      const vp = viewports[slot]!;
      elements.set(slot, el);
      const detach = vp.attach(el);
      measurementsAttach(slot);
      return () => {
        if (own.cine.slot === slot) stopCine();
        measurementsDetach(slot);
        if (elements.get(slot) === el) elements.delete(slot);
        detach();
      };
    },
    activeViewport: () => viewports[own.active]!,
    setLayout(layout) {
      if (layout === own.layout) return;
      const count = viewportCount(layout);
      if (own.cine.slot !== undefined && own.cine.slot >= count) stopCine();
      setOwn({ layout, active: own.active < count ? own.active : 0 });
    },
    setActive(slot) {
      if (slot < 0 || slot >= visible() || slot === own.active) return;
      setOwn({ active: slot });
      focusMeasurements();
    },
    selectSeries(seriesUid) {
      if (!opened) {
        pendingSeries = seriesUid; // still loading: shown once it is in
        return;
      }
      store.loadSeries(own.active, seriesUid);
    },
    loadSeries(slot, seriesUid) {
      const vp = viewports[slot];
      if (!vp || vp.getState().seriesInstanceUID === seriesUid) return;
      if (own.cine.slot === slot) stopCine();
      vp.loadSeries(seriesUid);
    },
    setSync(on) {
      setOwn({ sync: on });
    },
    setMode(mode) {
      // The left button is shared with the measurement tools: picking a navigation mode puts them down.
      if (deps.measurements?.getState().activeTool) deps.measurements.setActiveTool(undefined);
      setOwn({ mode });
    },
    setCineFps(fps) {
      const slot = own.cine.slot;
      setOwn({ cine: { ...own.cine, fps } });
      if (slot !== undefined) startCine(slot);
    },
    toggleCine() {
      if (own.cine.slot !== undefined) stopCine();
      else startCine(own.active);
    },
    stopCine,
    setHelpOpen(open) {
      setOwn({ helpOpen: open });
    },
    refetchDropped() {
      session.refetchDropped();
    },
    async renderThumbnail(seriesUid, canvas) {
      const stack = session.stackOf(seriesUid);
      const inst = stack[hangingIndex(stack.length)];
      if (!inst) throw new Error('The series has no images in the local cache');
      // Streaming: the middle image (fetched first) or its preview is there soon.
      await whenAvailable(inst.sopInstanceUID);
      const previewId = session.quality(inst.sopInstanceUID) === 'preview' ? await session.previewImageIdFor(inst) : undefined;
      const image = await deps.imaging.cornerstone.loadAndCacheImage(previewId ?? (await session.imageIdFor(inst)));
      if (!previewId) assertDecodedSize(image);
      deps.imaging.cornerstone.renderToCanvas(canvas, image);
    },
    ...(deps.measurements ? { measurements: deps.measurements } : {}),
  };
  return store;
}
