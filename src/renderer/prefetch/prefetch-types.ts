import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { EnsureStudyRequest, EnsureStudyResult } from '../cache/study-retriever';
import type { StudyUpsert } from '../cache/study-cache';
import type { PrefetchMarkRecord, ReferralPriority, StudyRecord } from '../cache/telerad-db';
import type { PrefetchClock } from './token-bucket';

/** A case prefetch may take: a worklist line, as the worklist knows it. */
export interface PrefetchCandidate {
  siteId: string;
  /** From the referral note; undefined while not known yet (then only marks and keep-offline apply). */
  priority?: ReferralPriority;
  /** Complete in the cache already (the worklist's offline badge). */
  availableOffline: boolean;
  study: StudyUpsert;
}

/** Why a case is in the queue, in the order cases are taken. */
export type PrefetchReason = 'STAT' | 'urgent' | 'marked' | 'keep-offline';

export interface PrefetchQueueEntry {
  candidate: PrefetchCandidate;
  reason: PrefetchReason;
}

export type PrefetchPhase = 'idle' | 'running' | 'paused-offline';

export interface PrefetchState {
  phase: PrefetchPhase;
  /** Cases being downloaded now. */
  active: string[];
  /** Cases waiting (the active ones not included). */
  queued: number;
  /** The user is opening a case: prefetch stands aside until it is in. */
  yielding: boolean;
  /** Sites that failed a retrieval or probe and are probed until they answer. */
  offlineSites: string[];
  /** The browser says there is no network at all. */
  online: boolean;
  revision: number;
}

/** The part of StudyRetriever prefetch uses. */
export interface PrefetchRetriever {
  ensureStudy(req: EnsureStudyRequest): Promise<EnsureStudyResult>;
  readonly foregroundActive: number;
  onForegroundChange(listener: (active: number) => void): () => void;
}

/** The user's prefetch settings (Dexie prefetchMarks, sitePreferences, cacheSettings in the app). */
export interface PrefetchPrefs {
  marks(): Promise<PrefetchMarkRecord[]>;
  keepOfflineSites(): Promise<ReadonlySet<string>>;
  /** Bytes per second; undefined or 0: no cap. */
  bandwidthCap(): Promise<number | undefined>;
}

/** navigator.onLine and its events, injected. */
export interface NetworkStatus {
  isOnline(): boolean;
  subscribe(listener: (online: boolean) => void): () => void;
}

export interface PrefetchDeps {
  retriever: PrefetchRetriever;
  cache: {
    getStudy(uid: string): Promise<StudyRecord | undefined>;
    touchAccessed(uid: string): Promise<void>;
  };
  prefs: PrefetchPrefs;
  /** The cases the worklist lists now. */
  candidates: () => readonly PrefetchCandidate[];
  site: (siteId: string) => SiteSummary | undefined;
  /** A cheap request through the gateway (a QIDO with limit=1); rejects when the site cannot be reached. */
  probe: (site: SiteSummary, signal: AbortSignal) => Promise<void>;
  network: NetworkStatus;
  log: Logger;
  /** Told when a case became complete in the cache (the worklist re-reads its badges). */
  onStudyComplete?: (studyInstanceUID: string) => void;
  clock?: PrefetchClock;
  /** Cases downloaded at once (default 1): each already runs several requests in parallel. */
  concurrency?: number;
  /** How often unreachable sites are probed (default 30 s). */
  probeIntervalMs?: number;
  /** A case that failed for another reason than the network is left alone this long (default 10 min). */
  retryFailedAfterMs?: number;
}

export interface PrefetchScheduler {
  getState(): PrefetchState;
  subscribe(listener: () => void): () => void;
  /** Starts watching the network and the user's retrievals, and takes the first cases. */
  start(): void;
  /** Stops everything under way; stored instances stay. */
  stop(): void;
  /** Plans again: the worklist, the marks, the keep-offline sites or the cap changed. */
  kick(): void;
  /** The queue as it would be taken now (for tests and the panel). */
  plan(): Promise<PrefetchQueueEntry[]>;
}
