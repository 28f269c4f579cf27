import type { BackgroundPacing } from '../cache/study-retriever';
import { StudyUnavailableError } from '../cache/study-retriever';
import type { SiteFailure } from '../dicomweb/site-error';
import { isOfflineFailure } from '../dicomweb/site-error';
import type { OfflineSites } from './offline-sites';
import type { PrefetchDeps, PrefetchQueueEntry } from './prefetch-types';
import type { PrefetchClock, TokenBucket } from './token-bucket';

export interface PrefetchCasesDeps {
  clock: PrefetchClock;
  /** A case that failed for another reason than the network is left alone this long. */
  retryFailedAfterMs: number;
  /** The bandwidth cap every prefetch retrieval is paced by. */
  bucket: TokenBucket;
  offline: OfflineSites;
  /** A case ended, whatever its outcome: a slot is free. */
  onSettled: () => void;
}

export interface PrefetchCases {
  /** Cases being downloaded now, each with what stops it. */
  readonly running: ReadonlyMap<string, AbortController>;
  /** Cases found complete this session (the worklist badge lags a little behind). */
  readonly done: Set<string>;
  /** Neither running, done, nor failed too recently. */
  eligible(e: PrefetchQueueEntry): boolean;
  run(e: PrefetchQueueEntry): void;
  /** Stops every running case; what landed stays, and the case resumes from there when taken again. */
  preemptAll(why: string): void;
}

/** Why a running case was stopped by the scheduler itself (not a failure). */
class Preempted extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'Preempted';
  }
}

/**
 * Prefetch's cases, one `ensureStudy` each, and what became of them. A case stopped by the
 * scheduler (its signal) is neither done nor failed; one whose site went away waits for
 * that site, not for the retry delay.
 */
export function createPrefetchCases(
  scheduler: Pick<PrefetchDeps, 'retriever' | 'cache' | 'site' | 'log' | 'onStudyComplete'>,
  deps: PrefetchCasesDeps,
): PrefetchCases {
  const { clock } = deps;
  const { log } = scheduler;
  const running = new Map<string, AbortController>();
  const done = new Set<string>();
  const failedAt = new Map<string, number>();
  const { bucket } = deps;
  const pacing: BackgroundPacing = {
    beforeRequest: (signal: AbortSignal) => bucket.wait(signal),
    onBytes: (n: number) => bucket.consume(n),
  };

  function noteFailure(uid: string, siteId: string, failure: SiteFailure | undefined): void {
    if (failure && isOfflineFailure(failure)) {
      // Not the case's fault: the site is gone for now. It resumes when a probe answers.
      log.info(`Prefetch: ${siteId} unreachable (${failure.message}); paused for that site`);
      deps.offline.add(siteId);
      deps.offline.ensureProbing();
      return;
    }
    log.warn(`Prefetch of ${uid} failed: ${failure?.message ?? 'unknown reason'}`);
    failedAt.set(uid, clock.now());
  }

  function run(e: PrefetchQueueEntry): void {
    const { candidate } = e;
    const uid = candidate.study.studyInstanceUID;
    const site = scheduler.site(candidate.siteId);
    if (!site) return;
    const controller = new AbortController();
    running.set(uid, controller);
    log.info(`Prefetching ${uid} (${e.reason}) from ${site.id}`);
    void scheduler.retriever
      .ensureStudy({ site, study: candidate.study, signal: controller.signal, background: pacing })
      .then(
        async (result) => {
          if (result.complete) {
            done.add(uid);
            failedAt.delete(uid);
            await scheduler.cache.touchAccessed(uid).catch((err: unknown) => log.warn(`Could not note access to ${uid}`, err));
            scheduler.onStudyComplete?.(uid);
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
        deps.onSettled();
      });
  }

  return {
    running,
    done,
    eligible(e) {
      const uid = e.candidate.study.studyInstanceUID;
      if (done.has(uid) || running.has(uid)) return false;
      const failed = failedAt.get(uid);
      return failed === undefined || clock.now() - failed >= deps.retryFailedAfterMs;
    },
    run,
    preemptAll(why) {
      for (const c of running.values()) c.abort(new Preempted(why));
    },
  };
}
