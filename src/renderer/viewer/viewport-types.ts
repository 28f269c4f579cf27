import type { Logger } from '../../shared/log';
import type { SliceQuality, StackInstance, StudySession } from './study-session';
import type { ImagingRuntime } from './cornerstone-setup';
import type { WlPreset } from './wl-presets';
import type { StackPreloader, StackPreloaderOptions } from './stack-preloader';

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

export const EMPTY: ViewportState = {
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
