import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { EnsureStudyRequest, EnsureStudyResult } from '../cache/study-retriever';
import { StudyUnavailableError } from '../cache/study-retriever';
import type { StudyUpsert } from '../cache/study-cache';
import type { PrefetchMarkRecord, ReferralPriority, StudyRecord } from '../cache/telerad-db';
import type { SiteFailure } from '../dicomweb/site-error';
import { isOfflineFailure } from '../dicomweb/site-error';
import { TokenBucket, systemClock } from './token-bucket';
import type { PrefetchClock } from './token-bucket';
import { createListeners } from '../../shared/store/listeners';

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

const REASON_ORDER: Record<PrefetchReason, number> = { STAT: 0, urgent: 1, marked: 2, 'keep-offline': 3 };

/**
 * Orders cases by the prefetch rule: STAT, then urgent (from the referral
 * note), then the ones the user marked, then every case of a site kept
 * offline; anything else is not prefetched. Ties keep the worklist's order.
 * Pure, for the rule's tests.
 */
export function orderPrefetch(
  candidates: readonly PrefetchCandidate[],
  marked: ReadonlySet<string>,
  keepOffline: ReadonlySet<string>,
): PrefetchQueueEntry[] {
  const out: PrefetchQueueEntry[] = [];
  const seen = new Set<string>();
  for (const c of candidates) {
    const uid = c.study.studyInstanceUID;
    if (c.availableOffline || seen.has(uid)) continue;
    const reason: PrefetchReason | undefined =
      c.priority === 'STAT' || c.priority === 'urgent'
        ? c.priority
        : marked.has(uid)
          ? 'marked'
          : keepOffline.has(c.siteId)
            ? 'keep-offline'
            : undefined;
    if (!reason) continue;
    seen.add(uid);
    out.push({ candidate: c, reason });
  }
  // Array.prototype.sort is stable: the worklist's order holds within a reason.
  return out.sort((a, b) => REASON_ORDER[a.reason] - REASON_ORDER[b.reason]);
}

/** Why a running case was stopped by the scheduler itself (not a failure). */
class Preempted extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'Preempted';
  }
}

/**
 * The background queue that brings cases into the offline cache before
 * anyone opens them. It owns no download logic: each case is one
 * `ensureStudy` of the shared retriever, which skips what is stored, fetches
 * each series' first image first and never runs two downloads of the same
 * instance. What this adds is the rule (which case next), the bandwidth cap,
 * and standing aside: a case the user opens stops prefetch until it is in
 * (the interrupted case resumes after, without refetching what landed), and a
 * lost network pauses it until the browser says online or a probe of the site
 * answers.
 */
export function createPrefetchScheduler(deps: PrefetchDeps): PrefetchScheduler {
  const clock = deps.clock ?? systemClock;
  const concurrency = Math.max(1, deps.concurrency ?? 1);
  const probeIntervalMs = deps.probeIntervalMs ?? 30_000;
  const retryFailedAfterMs = deps.retryFailedAfterMs ?? 10 * 60_000;
  const { log } = deps;

  let cap: number | undefined;
  const bucket = new TokenBucket(() => cap, clock);
  const pacing = {
    beforeRequest: (signal: AbortSignal) => bucket.wait(signal),
    onBytes: (n: number) => bucket.consume(n),
  };

  const running = new Map<string, AbortController>();
  /** Cases found complete this session (the worklist badge lags a little behind). */
  const done = new Set<string>();
  const failedAt = new Map<string, number>();
  const offlineSites = new Set<string>();
  let online = true;
  let yielding = false;
  /** Cases that could run now, waiting for a slot. */
  let queued = 0;
  /** Cases waiting for an unreachable site. */
  let blocked = 0;
  let started = false;
  let planning = false;
  let replan = false;
  let probeTimer: unknown;
  const unsubscribers: Array<() => void> = [];

  let state: PrefetchState = { phase: 'idle', active: [], queued: 0, yielding: false, offlineSites: [], online: true, revision: 0 };
  const listeners = createListeners();

  function publish(): void {
    const active = [...running.keys()];
    const phase: PrefetchPhase = !online
      ? 'paused-offline'
      : yielding
        ? active.length + queued + blocked > 0
          ? 'running'
          : 'idle'
        : active.length + queued > 0
          ? 'running'
          : // Work waiting that cannot run: every site it needs is unreachable.
            blocked > 0
            ? 'paused-offline'
            : 'idle';
    const next = { phase, active, queued: queued + blocked, yielding, offlineSites: [...offlineSites], online };
    const same =
      state.phase === next.phase &&
      state.queued === next.queued &&
      state.yielding === next.yielding &&
      state.online === next.online &&
      state.active.join() === next.active.join() &&
      state.offlineSites.join() === next.offlineSites.join();
    if (same) return;
    state = { ...next, revision: state.revision + 1 };
    listeners.notify();
  }

  async function plan(): Promise<PrefetchQueueEntry[]> {
    const [marks, keepOffline] = await Promise.all([deps.prefs.marks(), deps.prefs.keepOfflineSites()]);
    return orderPrefetch(deps.candidates(), new Set(marks.map((m) => m.studyInstanceUID)), keepOffline);
  }

  function eligible(e: PrefetchQueueEntry): boolean {
    const uid = e.candidate.study.studyInstanceUID;
    if (done.has(uid) || running.has(uid)) return false;
    const failed = failedAt.get(uid);
    return failed === undefined || clock.now() - failed >= retryFailedAfterMs;
  }

  /** Takes cases while there are free slots and nothing stands in the way. */
  async function pump(): Promise<void> {
    if (!started) return;
    if (planning) {
      replan = true;
      return;
    }
    planning = true;
    try {
      do {
        replan = false;
        cap = await deps.prefs.bandwidthCap();
        const entries = (await plan()).filter(eligible);
        const runnable = entries.filter((e) => !offlineSites.has(e.candidate.siteId) && deps.site(e.candidate.siteId));
        queued = runnable.length;
        blocked = entries.filter((e) => offlineSites.has(e.candidate.siteId)).length;
        if (blocked > 0) ensureProbing();
        publish();
        if (!online || yielding) continue;
        for (const e of runnable) {
          if (running.size >= concurrency) break;
          const uid = e.candidate.study.studyInstanceUID;
          // The worklist's badge may lag: the cache has the last word.
          if ((await deps.cache.getStudy(uid))?.complete) {
            done.add(uid);
            replan = true;
            continue;
          }
          if (!started || !online || yielding || running.size >= concurrency || running.has(uid)) break;
          runCase(e);
          queued = Math.max(0, queued - 1);
        }
        publish();
      } while (replan && started);
    } catch (err) {
      log.warn('Prefetch planning failed', err);
    } finally {
      planning = false;
    }
  }

  function runCase(e: PrefetchQueueEntry): void {
    const { candidate } = e;
    const uid = candidate.study.studyInstanceUID;
    const site = deps.site(candidate.siteId);
    if (!site) return;
    const controller = new AbortController();
    running.set(uid, controller);
    log.info(`Prefetching ${uid} (${e.reason}) from ${site.id}`);
    void deps.retriever
      .ensureStudy({ site, study: candidate.study, signal: controller.signal, background: pacing })
      .then(
        async (result) => {
          if (result.complete) {
            done.add(uid);
            failedAt.delete(uid);
            await deps.cache.touchAccessed(uid).catch((err: unknown) => log.warn(`Could not note access to ${uid}`, err));
            deps.onStudyComplete?.(uid);
          } else if (!controller.signal.aborted) {
            noteFailure(uid, site.id, result.failure);
          }
        },
        (err: unknown) => {
          if (controller.signal.aborted) return;
          noteFailure(uid, site.id, err instanceof StudyUnavailableError ? err.failure : undefined);
        },
      )
      .finally(() => {
        if (running.get(uid) === controller) running.delete(uid);
        publish();
        void pump();
      });
  }

  function noteFailure(uid: string, siteId: string, failure: SiteFailure | undefined): void {
    if (failure && isOfflineFailure(failure)) {
      // Not the case's fault: the site is gone for now. It resumes when a probe answers.
      log.info(`Prefetch: ${siteId} unreachable (${failure.message}); paused for that site`);
      offlineSites.add(siteId);
      ensureProbing();
      return;
    }
    log.warn(`Prefetch of ${uid} failed: ${failure?.message ?? 'unknown reason'}`);
    failedAt.set(uid, clock.now());
  }

  function preemptAll(why: string): void {
    for (const c of running.values()) c.abort(new Preempted(why));
  }

  function ensureProbing(): void {
    if (probeTimer !== undefined || !started) return;
    probeTimer = clock.setTimeout(() => void probeRound(), probeIntervalMs);
  }

  async function probeRound(): Promise<void> {
    probeTimer = undefined;
    if (!started) return;
    const ids = new Set(offlineSites);
    // Sites with waiting cases that are not configured any more are not probed: nothing to reach.
    await Promise.all(
      [...ids].map(async (id) => {
        const site = deps.site(id);
        if (!site) return;
        const probeAbort = new AbortController();
        const timer = clock.setTimeout(() => probeAbort.abort(new Error('probe timed out')), 10_000);
        try {
          await deps.probe(site, probeAbort.signal);
          offlineSites.delete(id);
          log.info(`Prefetch: ${id} answers again; resuming`);
        } catch {
          // Still unreachable: probed again next round.
        } finally {
          clock.clearTimeout(timer);
        }
      }),
    );
    publish();
    if (offlineSites.size > 0) ensureProbing();
    void pump();
  }

  function setOnline(next: boolean): void {
    online = next;
    if (!next) {
      preemptAll('offline');
    } else {
      // The browser's word is only a hint, but a fresh start costs one QIDO per site.
      offlineSites.clear();
    }
    publish();
    void pump();
  }

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    start() {
      if (started) return;
      started = true;
      online = deps.network.isOnline();
      yielding = deps.retriever.foregroundActive > 0;
      unsubscribers.push(deps.network.subscribe(setOnline));
      unsubscribers.push(
        deps.retriever.onForegroundChange((n) => {
          const was = yielding;
          yielding = n > 0;
          if (yielding && !was) preemptAll('the user opened a case');
          publish();
          if (!yielding && was) void pump();
        }),
      );
      void pump();
    },
    stop() {
      started = false;
      for (const u of unsubscribers.splice(0)) u();
      if (probeTimer !== undefined) clock.clearTimeout(probeTimer);
      probeTimer = undefined;
      preemptAll('stopped');
    },
    kick() {
      void pump();
    },
    plan,
  };
}
