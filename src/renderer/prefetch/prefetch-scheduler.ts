import { createOfflineSites } from './offline-sites';
import { createPrefetchCases } from './prefetch-cases';
import { TokenBucket, systemClock } from './token-bucket';
import { createListeners } from '../../shared/store/listeners';
import type { PrefetchCandidate, PrefetchReason, PrefetchQueueEntry, PrefetchPhase, PrefetchState, PrefetchDeps, PrefetchScheduler } from './prefetch-types';
export type { PrefetchCandidate, PrefetchReason, PrefetchQueueEntry, PrefetchPhase, PrefetchState, PrefetchRetriever, PrefetchPrefs, NetworkStatus, PrefetchDeps, PrefetchScheduler } from './prefetch-types';


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

/** What the panel shows of the scheduler now. */
interface PrefetchCounts {
  online: boolean;
  yielding: boolean;
  active: string[];
  /** Cases that could run now, waiting for a slot. */
  queued: number;
  /** Cases waiting for an unreachable site. */
  blocked: number;
  offlineSites: string[];
}

/** The state after `state` for these counts, or `state` itself when nothing the panel shows changed (no new revision). */
function nextPrefetchState(state: PrefetchState, c: PrefetchCounts): PrefetchState {
  const { active, queued, blocked, yielding, online } = c;
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
  const next = { phase, active, queued: queued + blocked, yielding, offlineSites: c.offlineSites, online };
  const same =
    state.phase === next.phase &&
    state.queued === next.queued &&
    state.yielding === next.yielding &&
    state.online === next.online &&
    state.active.join() === next.active.join() &&
    state.offlineSites.join() === next.offlineSites.join();
  return same ? state : { ...next, revision: state.revision + 1 };
}

/** The queue as the rule orders it now, from the worklist and the user's marks and keep-offline sites. */
async function planQueue(deps: Pick<PrefetchDeps, 'prefs' | 'candidates'>): Promise<PrefetchQueueEntry[]> {
  const [marks, keepOffline] = await Promise.all([deps.prefs.marks(), deps.prefs.keepOfflineSites()]);
  return orderPrefetch(deps.candidates(), new Set(marks.map((m) => m.studyInstanceUID)), keepOffline);
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
  const { log } = deps;

  let cap: number | undefined;
  const bucket = new TokenBucket(() => cap, clock);

  let online = true;
  let yielding = false;
  let queued = 0;
  let blocked = 0;
  let started = false;
  let planning = false;
  let replan = false;
  const unsubscribers: Array<() => void> = [];
  const offlineSites = createOfflineSites(deps, { clock, intervalMs: deps.probeIntervalMs ?? 30_000, started: () => started, publish: () => publish(), pump: () => void pump() });
  const onSettled = (): void => {
    publish();
    void pump();
  };
  const retryFailedAfterMs = deps.retryFailedAfterMs ?? 10 * 60_000;
  const cases = createPrefetchCases(deps, { clock, retryFailedAfterMs, bucket, offline: offlineSites, onSettled });
  const { running, done } = cases;

  let state: PrefetchState = { phase: 'idle', active: [], queued: 0, yielding: false, offlineSites: [], online: true, revision: 0 };
  const listeners = createListeners();

  function publish(): void {
    const next = nextPrefetchState(state, { online, yielding, active: [...running.keys()], queued, blocked, offlineSites: offlineSites.list() });
    if (next === state) return;
    state = next;
    listeners.notify();
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
        const entries = (await planQueue(deps)).filter(cases.eligible);
        const runnable = entries.filter((e) => !offlineSites.has(e.candidate.siteId) && deps.site(e.candidate.siteId));
        queued = runnable.length;
        blocked = entries.filter((e) => offlineSites.has(e.candidate.siteId)).length;
        if (blocked > 0) offlineSites.ensureProbing();
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
          cases.run(e);
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

  function setOnline(next: boolean): void {
    online = next;
    if (!next) {
      cases.preemptAll('offline');
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
          if (yielding && !was) cases.preemptAll('the user opened a case');
          publish();
          if (!yielding && was) void pump();
        }),
      );
      void pump();
    },
    stop() {
      started = false;
      for (const u of unsubscribers.splice(0)) u();
      offlineSites.stop();
      cases.preemptAll('stopped');
    },
    kick() {
      void pump();
    },
    plan: () => planQueue(deps),
  };
}
