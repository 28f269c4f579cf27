import type { RetrieveProgress } from '../cache/study-retriever';
import type { MeasurementStore } from './annotations/measurement-store';
import type { StackPreloader, StackPreloaderOptions } from './stack-preloader';
import type { OpenRequest, SeriesOption, SessionPhase, SessionSourceDeps, StudySession } from './study-session-types';
import type { ViewportStore } from './viewport-types';

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

/** The session's own dependencies (handed on unchanged), and what the viewports and cine need. */
export interface ViewerDeps extends SessionSourceDeps {
  measurements?: MeasurementStore;
  createPreloader?: (opts: StackPreloaderOptions) => StackPreloader;
  /** Bytes of Cornerstone's decoded-image cache, shared by the viewports' read-ahead. */
  decodedCacheBytes?: number;
  ticker?: Ticker;
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
