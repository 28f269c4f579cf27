import type { Image, Viewport } from 'cornerstone-core';
import type { Logger } from '../../shared/log';
import type { SliceQuality, StackInstance } from './study-session';
import type { ImagingRuntime } from './cornerstone-setup';
import { createListeners } from '../../shared/store/listeners';
import { presetsFor } from './wl-presets';
import type { WlPreset } from './wl-presets';
import type { StackPreloader, StackPreloaderOptions } from './stack-preloader';
import type { StudySession } from './study-session';
import type { VOI } from 'cornerstone-core';
import { describeError } from './study-session';
import { slicePositionMm } from './viewer-geometry';
import { hangingIndex } from '../../shared/dicom/stack-order';

export interface DisplayedInstance {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  imageId: string;
  /** Shown from its rendered preview: nothing is measured or marked on it. */
  preview?: boolean;
}

/** One slice of a stack: an instance, or one frame of a multi-frame instance. */
export interface StackEntry {
  inst: StackInstance;
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
  /**
   * What is shown for the slice asked for: its lossless image, its preview
   * (the site's rendering: "not for diagnosis", no measuring) — both at
   * `displayedIndex` — or nothing yet (`missing`: the slice at `index` has
   * no bytes; the canvas is hidden until they arrive).
   */
  quality?: SliceQuality;
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
  /** What the cache holds of each slice of the stack, in stack order (the slice bar). */
  sliceQualities(): SliceQuality[];
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
  /** The reader's window for lossless slices: a preview shows the site's windowing without changing it. */
  let losslessVoi: VOI | undefined;
  /** Stack index of each SOP instance (a multi-frame instance: its first frame). */
  let indexOfSop = new Map<string, number>();
  const setStack = (entries: StackEntry[]): void => {
    stack = entries;
    indexOfSop = new Map();
    entries.forEach((e, i) => {
      if (!indexOfSop.has(e.inst.sopInstanceUID)) indexOfSop.set(e.inst.sopInstanceUID, i);
    });
  };
  /** Slices either side of the reader whose previews are read ahead. */
  const PREVIEW_READ_AHEAD = 8;
  /** The identity window a preview is painted with: its 8-bit pixels as the site rendered them. */
  const PREVIEW_VOI: VOI = { windowWidth: 256, windowCenter: 128 };

  const imageIdOf = async (entry: StackEntry): Promise<string> => {
    const id = await session.imageIdFor(entry.inst);
    return entry.frame === undefined ? id : `${id}?frame=${entry.frame}`;
  };

  const syncViewportState = (): void => {
    if (!element) return;
    const vp = cs.getViewport(element);
    if (!vp) return;
    if (state.quality === 'lossless') losslessVoi = { windowWidth: vp.voi.windowWidth, windowCenter: vp.voi.windowCenter };
    set({
      voi: state.quality === 'lossless' || !losslessVoi ? { windowWidth: vp.voi.windowWidth, windowCenter: vp.voi.windowCenter } : losslessVoi,
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
        const entry = entries[i]!;
        const q = session.quality(entry.inst.sopInstanceUID);
        if (q === 'missing') return 'unavailable';
        if (q === 'preview') {
          // Previews are read ahead only near the reader: each is decoded on the main thread, and while a
          // study streams hundreds arrive (and are replaced) far from where anyone looks.
          if (Math.abs(i - lastFocus) > PREVIEW_READ_AHEAD) return 'unavailable';
          const id = await session.previewImageIdFor(entry.inst);
          if (!id) return 'unavailable';
          if (myStack === stackRev) await cs.loadAndCacheImage(id);
          return undefined;
        }
        const id = await imageIdOf(entry);
        if (myStack === stackRev) await cs.loadAndCacheImage(id);
        return undefined;
      },
    });
  };

  /** A single multi-frame instance scrolls by frame; the frame count is only known once it is read. */
  const expandFrames = (image: Image): boolean => {
    if (stack.length !== 1 || stack[0]!.frame !== undefined) return false;
    const frames = image.data?.intString?.('x00280008') ?? 1;
    if (!(frames > 1)) return false;
    const inst = stack[0]!.inst;
    setStack(Array.from({ length: frames }, (_, k) => ({ inst, frame: k })));
    set({ count: frames });
    return true;
  };

  /** Marks slice `index` as not received yet: the canvas is hidden and the viewport says it is on its way. */
  const showMissing = (index: number): void => {
    display++;
    // `displayedIndex` stays the last slice painted (the canvas keeps it, hidden): zoom and pan carry over to this one.
    set({ phase: 'ready', index, quality: 'missing', displayed: undefined, error: undefined });
  };

  /** Converts the view when the next image has another size (a preview shown at its own size): the same area stays on screen. */
  const keepViewAcross = (el: HTMLElement, image: Image): Partial<Viewport> => {
    const before = cs.getImage(el);
    const vp = cs.getViewport(el);
    if (!before || !vp || before.columns === image.columns || before.columns <= 0 || image.columns <= 0) return {};
    const k = before.columns / image.columns;
    return { scale: vp.scale * k, translation: { x: vp.translation.x / k, y: vp.translation.y / k } };
  };

  const paint = (index: number, direction: 1 | -1 | 0): void => {
    if (!element || stack.length === 0) return;
    const entry = stack[index]!;
    const sop = entry.inst.sopInstanceUID;
    const quality = session.quality(sop);
    if (quality === 'missing') return showMissing(index);
    const rev = ++display;
    const myStack = stackRev;
    const el = element;
    pending++;
    set({ index, busy: true });
    void (async () => {
      try {
        let imageId: string;
        if (quality === 'preview') {
          const id = await session.previewImageIdFor(entry.inst);
          if (rev !== display || myStack !== stackRev || el !== element) return;
          if (!id) {
            // Its lossless file landed meanwhile (the preview was deleted then), or the preview failed its check.
            if (session.quality(sop) === 'lossless') paint(index, direction);
            else showMissing(index);
            return;
          }
          imageId = id;
        } else {
          imageId = await imageIdOf(entry);
        }
        const image = await cs.loadAndCacheImage(imageId);
        if (rev !== display || myStack !== stackRev || el !== element) return; // overtaken by a newer slice, series or element
        const isPreview = quality === 'preview';
        if (!isPreview) {
          assertDecodedSize(image);
          if (expandFrames(image)) {
            // The instance was shown as its first frame; from now on it is a stack of frames.
            paint(Math.min(index, stack.length - 1), direction);
            return;
          }
        }
        // The lossless image replaces a preview in place: same zoom and pan; the reader's window comes back.
        const patch: Partial<Viewport> = newStack ? {} : keepViewAcross(el, image);
        if (isPreview) patch.voi = { ...PREVIEW_VOI };
        else if (!newStack && state.quality !== 'lossless') patch.voi = losslessVoi ? { ...losslessVoi } : cs.getDefaultViewportForImage(el, image).voi;
        cs.displayImage(el, image, patch);
        // Cornerstone keeps the element's viewport across images; a DX window (3000/1700) on a
        // colour photo paints it black, so a new series starts from its own image's defaults.
        if (newStack) {
          newStack = false;
          cs.reset(el);
          losslessVoi = undefined;
          startPreloader(image);
        }
        const wc = firstNumber(image.windowCenter);
        const ww = firstNumber(image.windowWidth);
        const imageVoi = !isPreview && wc !== undefined && ww !== undefined ? { windowWidth: ww, windowCenter: wc } : undefined;
        const position = entry.frame === undefined ? entry.inst.imagePositionPatient : undefined;
        const orientation = entry.inst.imageOrientationPatient ?? (isPreview ? undefined : numbersOf(image, 'x00200037'));
        const thickness = isPreview ? undefined : image.data?.floatString?.('x00180050');
        const frameOfReferenceUID = isPreview ? state.frameOfReferenceUID : image.data?.string('x00200052');
        set({
          phase: 'ready',
          error: undefined,
          displayedIndex: index,
          quality: isPreview ? 'preview' : 'lossless',
          // A preview keeps the presets of the series' lossless images (they apply once it is replaced).
          presets: isPreview ? state.presets : presetsFor(state.modality, imageVoi),
          displayed: {
            studyInstanceUID: entry.inst.studyInstanceUID,
            seriesInstanceUID: entry.inst.seriesInstanceUID,
            sopInstanceUID: sop,
            imageId,
            ...(isPreview ? { preview: true } : {}),
          },
          position,
          orientation,
          sliceLocationMm: position ? slicePositionMm({ position, orientation }) : undefined,
          sliceThicknessMm: thickness !== undefined && Number.isFinite(thickness) && thickness > 0 ? thickness : isPreview ? state.sliceThicknessMm : undefined,
          frameOfReferenceUID: frameOfReferenceUID || undefined,
        });
        syncViewportState();
        if (preloader && index !== lastFocus) {
          lastFocus = index;
          preloader.focus(index, direction);
        }
      } catch (err) {
        if (myStack !== stackRev) return;
        if (session.isIntegrityDrop(err, sop)) return; // the session says so, and re-fetches
        if (rev !== display) return;
        const reason = describeError(err);
        const message = `Image ${index + 1}/${stack.length} could not be decoded: ${reason}`;
        log.error(`Viewport ${slot + 1}: ${message} (SOP ${sop}, ${quality === 'preview' ? 'preview' : `transfer syntax ${entry.inst.transferSyntaxUID ?? 'unknown'}`})`);
        set({ phase: 'error', error: message, displayedIndex: -1, displayed: undefined });
      } finally {
        pending--;
        set({ busy: pending > 0 });
      }
    })();
  };

  // A slice of the open study got better bytes: the one on screen is replaced in place, the read-ahead refreshed.
  session.onSliceChange((sop, quality) => {
    const at = indexOfSop.get(sop);
    if (at === undefined || stack.length === 0) return;
    if (quality !== 'missing') preloader?.invalidate(at);
    const here = stack[state.index];
    if (!element || here?.inst.sopInstanceUID !== sop || quality === 'missing') return;
    if (state.quality === 'lossless' || (state.quality === 'preview' && quality === 'preview')) return;
    if (state.phase === 'error') return;
    paint(state.index, 0);
  });

  const show = (requested: number, opts: ShowOptions = {}): void => {
    if (stack.length === 0) return;
    const index = Math.max(0, Math.min(stack.length - 1, Math.round(requested)));
    const direction = opts.direction ?? (index > state.index ? 1 : index < state.index ? -1 : 0);
    // The retrieval follows the reader: this slice (then its neighbours) goes first.
    const entry = stack[index];
    if (entry) session.focus(entry.inst.sopInstanceUID, direction);
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
      const kept = state.displayedIndex >= 0 && state.quality === 'lossless' ? { ...state } : undefined;
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
      setStack(instances.map((inst) => ({ inst })));
      newStack = true;
      losslessVoi = undefined;
      const index = hangingIndex(stack.length);
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
      const hanging = stack[index];
      if (hanging) session.focus(hanging.inst.sopInstanceUID, 0);
      if (element) paint(index, 0);
    },
    show,
    scroll(delta) {
      show(state.index + delta);
    },
    sliceQualities: () => stack.map((e) => session.quality(e.inst.sopInstanceUID)),
    planes: () => stack.map((e) => ({ position: e.frame === undefined ? e.inst.imagePositionPatient : undefined, orientation: e.inst.imageOrientationPatient })),
    adjustVoi(dx, dy) {
      // A preview is the site's rendering in 8 bits: there is no window to change on it.
      if (state.quality === 'preview') return;
      withViewport((vp) => {
        vp.voi.windowWidth = Math.max(1, vp.voi.windowWidth + dx * 2);
        vp.voi.windowCenter = vp.voi.windowCenter + dy * 2;
      });
    },
    applyPreset(name) {
      const preset = state.presets.find((p) => p.name === name);
      if (!preset) return;
      if (state.quality === 'preview') {
        // Kept for the lossless image that replaces the preview.
        losslessVoi = { windowWidth: preset.windowWidth, windowCenter: preset.windowCenter };
        set({ voi: { ...losslessVoi } });
        return;
      }
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
      // Back to the image's own window: on a preview, that of the lossless image once it is in.
      losslessVoi = undefined;
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
      setStack([]);
      losslessVoi = undefined;
      state = EMPTY;
      listeners.notify();
    },
    reload() {
      if (stack.length > 0 && element) paint(state.index, 0);
    },
  };
}
