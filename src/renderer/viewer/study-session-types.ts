import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { StudyCache, StudyUpsert } from '../cache/study-cache';
import type { StudyRetriever, RetrieveProgress } from '../cache/study-retriever';
import type { ListedInstance } from '../cache/telerad-db';
import type { ImagingRuntime } from './cornerstone-setup';

export type SessionPhase = 'loading' | 'ready' | 'error';

/** What the cache holds of one slice: its lossless file, only a rendered preview, or nothing yet. */
export type SliceQuality = 'lossless' | 'preview' | 'missing';

export interface SeriesOption {
  seriesInstanceUID: string;
  /** "#2 CT Chest (24)": the series select's text. */
  label: string;
  count: number;
  seriesNumber?: number;
  modality: string;
  description: string;
}

export interface OpenRequest {
  study: StudyUpsert;
  site: SiteSummary | undefined;
}

export interface SessionState {
  phase: SessionPhase;
  /** While the study is being brought into the cache. */
  progress?: RetrieveProgress;
  /** Study-wide: why it failed, or why it shows only part of the study, or an integrity note. */
  message?: string;
  series: SeriesOption[];
  /** Bumped when the cache gained back dropped images: viewports show their slice again. */
  reloads: number;
  /** Slices are still arriving (the study opened on its instance list). */
  streaming: boolean;
  /** Bumped whenever a slice of the study changed quality (the stack bars redraw). */
  slicesRev: number;
}

/** One slice as the viewer knows it: listed by the site (geometry from QIDO), its file's header once stored. */
export interface StackInstance extends ListedInstance {
  transferSyntaxUID?: string;
}

/** What a study session reads the study through; the viewer store hands its own on unchanged. */
export interface SessionSourceDeps {
  cache: StudyCache;
  retriever: StudyRetriever;
  imaging: ImagingRuntime;
  log: Logger;
  onCacheChanged?: () => void;
  isOnline?: () => boolean;
  /**
   * Open on the instance list and fill in as bytes land (default). `false` is
   * the path before issue 15 — wait for the whole study, then open — kept as
   * bench/progressive's baseline.
   */
  progressive?: boolean;
}

export interface SessionDeps extends SessionSourceDeps {
  /** Pauses before asking a site that failed mid-stream again, while the study stays open (ms; the last repeats). */
  resumeDelaysMs?: readonly number[];
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
}

/** The images of one study in the cache, for the viewports to read from. */
export interface StudySession {
  getState(): SessionState;
  subscribe(listener: () => void): () => void;
  /**
   * Opens the study: at once from the cache when it is complete there, else
   * on its instance list (`onReady` then, with the slices still arriving).
   * The returned function closes it; its retrieval goes on behind the studies
   * the user opens next.
   */
  open(req: OpenRequest, onReady: (series: SeriesOption[]) => void): () => void;
  /** The series' slices in reading order; empty when unknown. */
  stackOf(seriesInstanceUID: string): StackInstance[];
  /** What the cache holds of a slice now. */
  quality(sopInstanceUID: string): SliceQuality;
  /** Told when a slice of the open study changes quality (stored lossless, previewed, dropped); returns the unsubscribe. */
  onSliceChange(listener: (sopInstanceUID: string, quality: SliceQuality) => void): () => void;
  /** Reads the cached file (hash-checked) and registers it with the loader, once per open. */
  imageIdFor(inst: StackInstance): Promise<string>;
  /** Reads the cached preview and registers it with the preview loader; undefined when there is none (any more). */
  previewImageIdFor(inst: StackInstance): Promise<string | undefined>;
  /** Whether `err` from `imageIdFor` was a hash-check drop (the session already says so). */
  isIntegrityDrop(err: unknown, sopInstanceUID: string): boolean;
  /** The reader is on this slice: its retrieval goes first (then its neighbours). */
  focus(sopInstanceUID: string, direction: 1 | -1 | 0): void;
  refetchDropped(): void;
  /** The study open now (undefined when closed). */
  request(): OpenRequest | undefined;
}
