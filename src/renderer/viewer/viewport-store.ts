import type { Image } from 'cornerstone-core';
import type { Logger } from '../../shared/log';
import type { InstanceRecord } from '../cache/telerad-db';
import type { ImagingRuntime } from './cornerstone-setup';
import { createListeners } from '../../shared/store/listeners';
import { presetsFor } from './wl-presets';
import type { WlPreset } from './wl-presets';
import type { StackPreloader, StackPreloaderOptions } from './stack-preloader';
import type { StudySession } from './study-session';
import { describeError } from './study-session';
import { slicePositionMm } from './viewer-geometry';

export interface DisplayedInstance {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  imageId: string;
}

/** One slice of a stack: an instance, or one frame of a multi-frame instance. */
export interface StackEntry {
  inst: InstanceRecord;
  /** 0-based frame (the loader's `?frame=k`) when the stack is one multi-frame instance. */
  frame?: number;
}

export type ViewportPhase = 'empty' | 'loading' | 'ready' | 'error';

export interface ViewportState {
  phase: ViewportPhase;
  seriesInstanceUID?: string;
  seriesDescription: string;
  seriesNumber?: number;
  modality: string;
  count: number;
  /** The slice asked for last. */
  index: number;
  /** The slice on the canvas now; -1 before the first one is painted. */
  displayedIndex: number;
  voi?: { windowWidth: number; windowCenter: number };
  presets: WlPreset[];
  /** Display zoom: image pixels to canvas pixels (1 = one to one). */
  scale?: number;
  rotation: number;
  hflip: boolean;
  vflip: boolean;
  invert: boolean;
  /** This viewport's decode failure, shown in it alone. */
  error?: string;
  displayed?: DisplayedInstance;
  /** Geometry of the slice on the canvas, for the overlay and synchronised scroll. */
  position?: readonly number[];
  orientation?: readonly number[];
  sliceLocationMm?: number;
  sliceThicknessMm?: number;
  frameOfReferenceUID?: string;
  /** A decode for this viewport is under way (cine waits for it rather than piling up). */
  busy: boolean;
}

export interface ViewportDeps {
  /** 0-based position in the layout, for logs and labels. */
  slot: number;
  imaging: ImagingRuntime;
  session: StudySession;
  log: Logger;
  /** The stack preloader (helper module); absent: no read-ahead. */
  createPreloader?: (opts: StackPreloaderOptions) => StackPreloader;
  /** Bytes of Cornerstone's decoded-image cache (with the viewports sharing it, sizes the read-ahead window). */
  decodedCacheBytes?: number;
  /** How many viewports share the decoded-image cache now. */
  visibleViewports?: () => number;
  /** Told after the reader (not a sync) moved this viewport to another slice. */
  onNavigate?: (index: number) => void;
}

export interface ShowOptions {
  /** Moved by another viewport's synchronised scroll: do not sync back. */
  synced?: boolean;
  /** Cine: a wrapped step. */
  direction?: 1 | -1 | 0;
}

export interface ViewportStore {
  readonly slot: number;
  getState(): ViewportState;
  subscribe(listener: () => void): () => void;
  /** Enables Cornerstone on the element and shows the current slice there; the returned function disables it. */
  attach(element: HTMLElement): () => void;
  element(): HTMLElement | undefined;
  /** Shows a series of the open study, its middle slice first. */
  loadSeries(seriesInstanceUID: string): void;
  show(index: number, opts?: ShowOptions): void;
  scroll(delta: number): void;
  /** The slice geometry of every stack entry (for synchronised scroll). */
  planes(): { position?: readonly number[]; orientation?: readonly number[] }[];
  adjustVoi(dx: number, dy: number): void;
  applyPreset(name: string): void;
  /** Multiplies the zoom, about the canvas centre. */
  zoomBy(factor: number): void;
  /** Moves the image by canvas pixels. */
  panBy(dx: number, dy: number): void;
  rotateBy(degrees: number): void;
  flipHorizontal(): void;
  flipVertical(): void;
  toggleInvert(): void;
  /** Back to the image's own window, fit to the viewport, no rotation or flips. */
  reset(): void;
  resize(): void;
  /** The study closed: forget the stack. */
  clear(): void;
  /** The session got back images the integrity check dropped: show this slice again. */
  reload(): void;
}

const EMPTY: ViewportState = {
  phase: 'empty',
  seriesDescription: '',
  modality: '',
  count: 0,
  index: 0,
  displayedIndex: -1,
  presets: [],
  rotation: 0,
  hflip: false,
  vflip: false,
  invert: false,
  busy: false,
};

function firstNumber(v: number | number[] | undefined): number | undefined {
  const n = Array.isArray(v) ? v[0] : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function numbersOf(image: Image, tag: string): number[] | undefined {
  const s = image.data?.string(tag);
  if (!s) return undefined;
  const v = s.split('\\').map(Number);
  return v.every(Number.isFinite) ? v : undefined;
}

/**
 * Throws when a decoded image holds fewer pixel values than Rows × Columns:
 * the image loader hands a truncated or wrongly sized Pixel Data over as a
 * short array, which Cornerstone would paint as garbage.
 */
export function assertDecodedSize(image: Pick<Image, 'rows' | 'columns' | 'getPixelData'>): void {
  const have = image.getPixelData().length;
  const need = image.rows * image.columns;
  if (!(need > 0)) throw new Error(`the image has no size (Rows ${image.rows}, Columns ${image.columns})`);
  if (have < need) throw new Error(`the pixel data is truncated: ${have} values where Rows × Columns needs ${need}`);
}

/**
 * One viewport of the viewer: a stack of one series, the slice on its
 * canvas, and how it is windowed and turned. A `display` revision per
 * requested slice keeps a slow decode of slice 3 from painting over slice 9
 * the reader has scrolled to since; a `stackRev` per loaded series keeps a
 * late image of the previous series out. Failures stay in this viewport.
 */
export function createViewportStore(deps: ViewportDeps): ViewportStore {
  const { imaging, session, log, slot } = deps;
  const cs = imaging.cornerstone;
  let state: ViewportState = EMPTY;
  const listeners = createListeners();
  let element: HTMLElement | undefined;
  let stack: StackEntry[] = [];
  let display = 0;
  let stackRev = 0;
  /** The next painted image is the first of its stack: it gets its own default window and zoom. */
  let newStack = false;
  let preloader: StackPreloader | undefined;
  let lastFocus = -1;
  let pending = 0;

  const set = (patch: Partial<ViewportState>): void => {
    state = { ...state, ...patch };
    listeners.notify();
  };

  const imageIdOf = async (entry: StackEntry): Promise<string> => {
    const id = await session.imageIdFor(entry.inst);
    return entry.frame === undefined ? id : `${id}?frame=${entry.frame}`;
  };

  const syncViewportState = (): void => {
    if (!element) return;
    const vp = cs.getViewport(element);
    if (!vp) return;
    set({
      voi: { windowWidth: vp.voi.windowWidth, windowCenter: vp.voi.windowCenter },
      scale: vp.scale,
      rotation: vp.rotation ?? 0,
      hflip: vp.hflip ?? false,
      vflip: vp.vflip ?? false,
      invert: vp.invert ?? false,
    });
  };

  const startPreloader = (image: Image): void => {
    preloader?.stop();
    preloader = undefined;
    if (!deps.createPreloader || stack.length < 2) return;
    const myStack = stackRev;
    const entries = stack;
    const size = image.sizeInBytes ?? image.rows * image.columns * 2;
    const bytes = Number.isFinite(size) && size > 0 ? size : 512 * 512 * 2;
    const windowSize = Math.min(entries.length, Math.floor((deps.decodedCacheBytes ?? 256 * 1024 * 1024) / Math.max(1, deps.visibleViewports?.() ?? 1) / Math.max(1, bytes)));
    preloader = deps.createPreloader({
      count: entries.length,
      concurrency: 2,
      window: Math.max(1, windowSize),
      log,
      load: async (i) => {
        if (myStack !== stackRev) return;
        const id = await imageIdOf(entries[i]!);
        if (myStack === stackRev) await cs.loadAndCacheImage(id);
      },
    });
  };

  /** A single multi-frame instance scrolls by frame; the frame count is only known once it is read. */
  const expandFrames = (image: Image): boolean => {
    if (stack.length !== 1 || stack[0]!.frame !== undefined) return false;
    const frames = image.data?.intString?.('x00280008') ?? 1;
    if (!(frames > 1)) return false;
    const inst = stack[0]!.inst;
    stack = Array.from({ length: frames }, (_, k) => ({ inst, frame: k }));
    set({ count: frames });
    return true;
  };

  const paint = (index: number, direction: 1 | -1 | 0): void => {
    if (!element || stack.length === 0) return;
    const rev = ++display;
    const myStack = stackRev;
    const el = element;
    const entry = stack[index]!;
    pending++;
    set({ index, busy: true });
    void (async () => {
      try {
        const imageId = await imageIdOf(entry);
        const image = await cs.loadAndCacheImage(imageId);
        if (rev !== display || myStack !== stackRev || el !== element) return; // overtaken by a newer slice, series or element
        assertDecodedSize(image);
        if (expandFrames(image)) {
          // The instance was shown as its first frame; from now on it is a stack of frames.
          paint(Math.min(index, stack.length - 1), direction);
          return;
        }
        cs.displayImage(el, image);
        // Cornerstone keeps the element's viewport across images; a DX window (3000/1700) on a
        // colour photo paints it black, so a new series starts from its own image's defaults.
        if (newStack) {
          newStack = false;
          cs.reset(el);
          startPreloader(image);
        }
        const wc = firstNumber(image.windowCenter);
        const ww = firstNumber(image.windowWidth);
        const imageVoi = wc !== undefined && ww !== undefined ? { windowWidth: ww, windowCenter: wc } : undefined;
        const position = entry.frame === undefined ? entry.inst.imagePositionPatient : undefined;
        const orientation = entry.inst.imageOrientationPatient ?? numbersOf(image, 'x00200037');
        const thickness = image.data?.floatString?.('x00180050');
        const frameOfReferenceUID = image.data?.string('x00200052');
        set({
          phase: 'ready',
          error: undefined,
          displayedIndex: index,
          presets: presetsFor(state.modality, imageVoi),
          displayed: {
            studyInstanceUID: entry.inst.studyInstanceUID,
            seriesInstanceUID: entry.inst.seriesInstanceUID,
            sopInstanceUID: entry.inst.sopInstanceUID,
            imageId,
          },
          position,
          orientation,
          sliceLocationMm: position ? slicePositionMm({ position, orientation }) : undefined,
          sliceThicknessMm: thickness !== undefined && Number.isFinite(thickness) && thickness > 0 ? thickness : undefined,
          frameOfReferenceUID: frameOfReferenceUID || undefined,
        });
        syncViewportState();
        if (preloader && index !== lastFocus) {
          lastFocus = index;
          preloader.focus(index, direction);
        }
      } catch (err) {
        if (myStack !== stackRev) return;
        if (session.isIntegrityDrop(err, entry.inst.sopInstanceUID)) return; // the session says so, and re-fetches
        if (rev !== display) return;
        const reason = describeError(err);
        const message = `Image ${index + 1}/${stack.length} could not be decoded: ${reason}`;
        log.error(`Viewport ${slot + 1}: ${message} (SOP ${entry.inst.sopInstanceUID}, transfer syntax ${entry.inst.transferSyntaxUID})`);
        set({ phase: 'error', error: message, displayedIndex: -1, displayed: undefined });
      } finally {
        pending--;
        set({ busy: pending > 0 });
      }
    })();
  };

  const show = (requested: number, opts: ShowOptions = {}): void => {
    if (stack.length === 0) return;
    const index = Math.max(0, Math.min(stack.length - 1, Math.round(requested)));
    const direction = opts.direction ?? (index > state.index ? 1 : index < state.index ? -1 : 0);
    if (!element) {
      set({ index });
      return;
    }
    paint(index, direction);
    if (!opts.synced) deps.onNavigate?.(index);
  };

  const withViewport = (change: (vp: NonNullable<ReturnType<typeof cs.getViewport>>) => void): void => {
    if (!element || state.displayedIndex < 0) return;
    const vp = cs.getViewport(element);
    if (!vp) return;
    change(vp);
    cs.setViewport(element, vp);
    syncViewportState();
  };

  /** Zoom and pan of this viewport when a smaller layout hid it. */
  let keptView: { scale: number; translation: { x: number; y: number } } | undefined;

  return {
    slot,
    getState: () => state,
    subscribe: listeners.subscribe,
    attach(el) {
      element = el;
      cs.enable(el);
      // A viewport shown again (the layout grew back) repaints its slice with the stored view.
      const kept = state.displayedIndex >= 0 ? { ...state } : undefined;
      if (stack.length > 0) {
        if (kept) {
          newStack = false;
          const rev = ++display;
          const myStack = stackRev;
          pending++;
          set({ busy: true });
          void imageIdOf(stack[kept.displayedIndex]!)
            .then((id) => cs.loadAndCacheImage(id))
            .then((image) => {
              if (rev !== display || myStack !== stackRev || el !== element) return;
              cs.displayImage(el, image);
              const vp = cs.getViewport(el);
              if (vp) {
                vp.voi = { ...vp.voi, ...(kept.voi ?? {}) };
                vp.rotation = kept.rotation;
                vp.hflip = kept.hflip;
                vp.vflip = kept.vflip;
                vp.invert = kept.invert;
                if (keptView) {
                  vp.scale = keptView.scale;
                  vp.translation = { ...keptView.translation };
                }
                cs.setViewport(el, vp);
              }
              syncViewportState();
            })
            .catch((err: unknown) => log.warn(`Viewport ${slot + 1}: repaint failed`, err))
            .finally(() => {
              pending--;
              set({ busy: pending > 0 });
            });
        } else {
          newStack = true;
          paint(state.index, 0);
        }
      }
      return () => {
        if (element !== el) return;
        display++;
        // Hidden by a smaller layout: its zoom and pan come back with it (same slot, same size).
        const vp = state.displayedIndex >= 0 ? cs.getViewport(el) : undefined;
        keptView = vp ? { scale: vp.scale, translation: { x: vp.translation.x, y: vp.translation.y } } : undefined;
        element = undefined;
        cs.disable(el);
      };
    },
    element: () => element,
    loadSeries(seriesUid) {
      const instances = session.getState().series.some((s) => s.seriesInstanceUID === seriesUid) ? session.stackOf(seriesUid) : [];
      if (instances.length === 0) return;
      const option = session.getState().series.find((s) => s.seriesInstanceUID === seriesUid);
      stackRev++;
      display++;
      keptView = undefined;
      preloader?.stop();
      preloader = undefined;
      lastFocus = -1;
      stack = instances.map((inst) => ({ inst }));
      newStack = true;
      const index = Math.floor(stack.length / 2);
      state = {
        ...EMPTY,
        phase: 'loading',
        seriesInstanceUID: seriesUid,
        seriesDescription: option?.description ?? '',
        modality: option?.modality ?? '',
        count: stack.length,
        index,
        ...(option?.seriesNumber !== undefined ? { seriesNumber: option.seriesNumber } : {}),
      };
      listeners.notify();
      // The middle slice first: in a CT or MR stack it is the likeliest to show the anatomy of interest.
      if (element) paint(index, 0);
    },
    show,
    scroll(delta) {
      show(state.index + delta);
    },
    planes: () => stack.map((e) => ({ position: e.frame === undefined ? e.inst.imagePositionPatient : undefined, orientation: e.inst.imageOrientationPatient })),
    adjustVoi(dx, dy) {
      withViewport((vp) => {
        vp.voi.windowWidth = Math.max(1, vp.voi.windowWidth + dx * 2);
        vp.voi.windowCenter = vp.voi.windowCenter + dy * 2;
      });
    },
    applyPreset(name) {
      const preset = state.presets.find((p) => p.name === name);
      if (!preset) return;
      withViewport((vp) => {
        vp.voi.windowWidth = preset.windowWidth;
        vp.voi.windowCenter = preset.windowCenter;
      });
    },
    zoomBy(factor) {
      withViewport((vp) => {
        vp.scale = Math.max(0.05, Math.min(40, vp.scale * factor));
      });
    },
    panBy(dx, dy) {
      withViewport((vp) => {
        // Cornerstone applies the translation after its zoom but before rotation and flips, in screen-aligned axes.
        vp.translation = { x: vp.translation.x + dx / vp.scale, y: vp.translation.y + dy / vp.scale };
      });
    },
    rotateBy(degrees) {
      withViewport((vp) => {
        vp.rotation = ((((vp.rotation ?? 0) + degrees) % 360) + 360) % 360;
      });
    },
    flipHorizontal() {
      withViewport((vp) => {
        vp.hflip = !vp.hflip;
      });
    },
    flipVertical() {
      withViewport((vp) => {
        vp.vflip = !vp.vflip;
      });
    },
    toggleInvert() {
      withViewport((vp) => {
        vp.invert = !vp.invert;
      });
    },
    reset() {
      if (!element || state.displayedIndex < 0) return;
      cs.reset(element);
      syncViewportState();
    },
    resize() {
      // Also before the first image: with no image yet, Cornerstone only resizes the canvas.
      if (element) cs.resize(element, true);
      if (state.displayedIndex >= 0) syncViewportState();
    },
    clear() {
      stackRev++;
      display++;
      preloader?.stop();
      preloader = undefined;
      stack = [];
      state = EMPTY;
      listeners.notify();
    },
    reload() {
      if (stack.length > 0 && element) paint(state.index, 0);
    },
  };
}
