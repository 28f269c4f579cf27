import type { SiteSummary } from '../../shared/ipc/contract';
import type { SiteFailure } from '../dicomweb/site-error';
import type { StudyListingRecord } from './telerad-db';
import type { StudyUpsert } from './study-cache';
import type { Part10Header } from './part10-header';

export interface RetrieveProgress {
  /** Instances stored so far, those that were cached before included. */
  done: number;
  total: number;
  /** Bytes received by this retrieval so far (after HTTP decoding). */
  bytes?: number;
  /** Previews stored by this retrieval, of those it asked for (0 of 0: none asked, e.g. the site does not render). */
  previewsDone?: number;
  previewsTotal?: number;
}

/** Anything a retrieval stored, as the retriever tells every listener. */
export interface StoredAnyEvent {
  studyInstanceUID: string;
  sopInstanceUID: string;
  kind: 'lossless' | 'preview';
  /** A lossless file's header (transfer syntax, geometry). */
  header?: Part10Header;
}

/** A preview newly stored in the cache. */
export interface StoredPreviewEvent {
  seriesInstanceUID: string;
  sopInstanceUID: string;
}

/** One instance newly stored in the cache. */
export interface StoredInstanceEvent {
  seriesInstanceUID: string;
  sopInstanceUID: string;
  /** The instance of its series that was fetched first (the one the viewer shows first). */
  firstOfSeries: boolean;
  transferSyntaxUID: string;
  size: number;
  /** From the stored file's header: what the site's instance list may have left out. */
  imagePositionPatient?: number[];
  imageOrientationPatient?: number[];
}

export interface EnsureStudyRequest {
  /** The study's site; undefined when the site is no longer configured (only the cache can help then). */
  site: SiteSummary | undefined;
  /** What the worklist knows of the study; written to the cache so it lists offline. */
  study: StudyUpsert;
  onProgress?: (p: RetrieveProgress) => void;
  /** Told as each instance lands in the cache. */
  onInstanceStored?: (e: StoredInstanceEvent) => void;
  /**
   * Told once the site has listed the study's instances (before any is
   * fetched), with the list in reading order; also, when the site cannot be
   * reached, with the list stored by an earlier retrieval, if any. The viewer
   * opens on it.
   */
  onListed?: (listing: StudyListingRecord) => void;
  /** Told as each preview lands in the cache. */
  onPreviewStored?: (e: StoredPreviewEvent) => void;
  /** Fetch a rendered preview of every slice beside the lossless transfer (default true; never for background work). */
  previews?: boolean;
  /** Stops the retrieval: queued downloads are dropped, running ones aborted (the viewer was closed). */
  signal?: AbortSignal;
  /** Set by prefetch: the retrieval is background work, paced by these hooks and not counted as the user's. */
  background?: BackgroundPacing;
}

/** How a background retrieval is paced (a bandwidth cap): waited on before each instance request, told of every chunk. */
export interface BackgroundPacing {
  beforeRequest: (signal: AbortSignal) => Promise<void>;
  onBytes: (n: number) => void;
}

export interface EnsureStudyResult {
  /** 'cache': no network was used. */
  source: 'cache' | 'network';
  /** Every instance of the study is in the cache. */
  complete: boolean;
  /** Why the study is incomplete, when the network let us down part way. */
  failure?: SiteFailure;
}
