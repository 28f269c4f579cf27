import type { Logger } from '../../shared/log';
import type { OutboxJobRecord } from '../cache/telerad-db';
import { StowError } from '../dicomweb/stow-answer';
import type { StowInstanceFailure } from '../dicomweb/stow-answer';
import { errorMessage } from '../../shared/error-message';
import { backoffDelay } from './outbox-backoff';
import type { BackoffPolicy } from './outbox-backoff';
import { ONLY_BY_USER } from './outbox-repo';
import type { OutboxRepo } from './outbox-repo';
import type { OutboxStore } from './outbox-store';

/** An attempt a site answered with an error, for the audit trail. */
export interface FailedAttempt {
  jobId: string;
  siteId: string;
  kind: OutboxJobRecord['kind'];
  label: string;
  studyInstanceUID: string;
  reportId?: string;
  /** What the outbox panel shows as the job's last error. */
  error: string;
  /** The instances the job carries. */
  sopInstanceUIDs: string[];
  /** The site refused for good: the job waits for the user ("Retry now") instead of retrying. */
  permanent: boolean;
  attempts: number;
}

export interface OutboxFailureDeps {
  repo: OutboxRepo;
  store: Pick<OutboxStore, 'put'>;
  now: () => number;
  random: () => number;
  policy: BackoffPolicy;
  log: Logger;
  /** Per site, until when its jobs wait (shared with the scheduler, which skips held sites). */
  siteHold: Map<string, number>;
}

export interface OutboxFailures {
  /**
   * A failed attempt of a job: when it is tried again (backoff, half an hour
   * after refused credentials, only by the user after a refusal), and whether
   * its site is held. `bump`: count the attempt; `wasUncertain`: a request
   * earlier had no answer.
   */
  fail(jobId: string, err: unknown, bump: boolean, wasUncertain: boolean): Promise<void>;
  /** A batch answer in which the site refused some instances or left some unaccounted. */
  partlyRefused(after: OutboxJobRecord, refused: readonly StowInstanceFailure[], unaccounted: number): Promise<void>;
  /** The job was delivered: its next failure is news again. */
  forget(jobId: string): void;
  onFailed(listener: (failure: FailedAttempt) => void): () => void;
}

/**
 * What the outbox records and tells when a site says no (or nothing): the
 * job's next try, the site's hold, and one audit event per job and distinct
 * error. Apart from the scheduler so the retry policy reads in one place.
 */
export function createOutboxFailures(deps: OutboxFailureDeps): OutboxFailures {
  const { repo, store, log, siteHold } = deps;
  const clock = { now: deps.now };
  const failedListeners = new Set<(failure: FailedAttempt) => void>();
  /** Per job, the errors already told: a site answering 503 for an hour is one event, not one per retry. */
  const failuresTold = new Map<string, Set<string>>();
  const tellFailed = (job: OutboxJobRecord): void => {
    const error = job.lastError ?? 'failed';
    const told = failuresTold.get(job.id) ?? new Set<string>();
    if (told.has(error)) return;
    told.add(error);
    failuresTold.set(job.id, told);
    const failure: FailedAttempt = {
      jobId: job.id,
      siteId: job.siteId,
      kind: job.kind,
      label: job.label,
      studyInstanceUID: job.studyInstanceUID,
      ...(job.reportId ? { reportId: job.reportId } : {}),
      error,
      sopInstanceUIDs: job.instances.map((i) => i.sopInstanceUID),
      permanent: job.nextAttemptAt === ONLY_BY_USER,
      attempts: job.attempts,
    };
    for (const l of [...failedListeners]) {
      try {
        l(failure);
      } catch (err) {
        log.error('A failed-delivery listener failed', err);
      }
    }
  };

  const fail = async (jobId: string, err: unknown, bump: boolean, wasUncertain: boolean): Promise<void> => {
    const now = clock.now();
    const job = await repo.get(jobId);
    if (!job) return;
    const attempts = bump ? job.attempts + 1 : job.attempts;
    let error: string;
    let nextAttemptAt: number;
    let uncertain = wasUncertain;
    if (err instanceof StowError) {
      error = err.message;
      uncertain = wasUncertain || err.uncertain;
      if (err.kind === 'auth') nextAttemptAt = now + deps.policy.authMs;
      else if (err.kind === 'rejected') nextAttemptAt = ONLY_BY_USER;
      else nextAttemptAt = now + backoffDelay(Math.max(1, attempts), deps.random, deps.policy);
      // The site is down or failing: its other jobs wait as long, instead of each finding out on its own.
      if (err.kind === 'no-answer' || err.kind === 'server') siteHold.set(job.siteId, nextAttemptAt);
    } else {
      error = `failed: ${errorMessage(err)}`;
      nextAttemptAt = now + backoffDelay(Math.max(1, attempts), deps.random, deps.policy);
    }
    const failed = await repo.markFailed(jobId, { error, nextAttemptAt, uncertain, now, countAttempt: bump });
    if (failed) store.put(failed);
    // No answer at all (offline, site down, cut link) is not the site saying no; the job just waits.
    const siteAnswered = !(err instanceof StowError) || err.kind !== 'no-answer';
    if (failed && siteAnswered) tellFailed(failed);
    log.warn(`Outbox: ${job.label} to ${job.siteId} failed (attempt ${attempts})${uncertain ? ', outcome unknown' : ''}: ${error}`);
  };

  const partlyRefused = async (after: OutboxJobRecord, refused: readonly StowInstanceFailure[], unaccounted: number): Promise<void> => {
    const uncertain = unaccounted > 0;
    const retryable = uncertain || refused.some((f) => f.retryable);
    const parts = [
      ...refused.map((f) => {
        const inst = after.instances.find((i) => i.sopInstanceUID === f.sopInstanceUID);
        return `${describeSopClass(inst?.sopClassUID)} ${f.message}`;
      }),
      ...(uncertain ? [`the site did not say what became of ${unaccounted} instance(s)`] : []),
    ];
    const stored = after.instances.filter((i) => i.state === 'stored').length;
    const error = `${stored} of ${after.instances.length} stored; ${parts.join('; ')}${retryable ? '' : ' — will not be retried automatically'}`;
    const at = clock.now();
    const failed = await repo.markFailed(after.id, {
      error,
      nextAttemptAt: retryable ? at + backoffDelay(after.attempts, deps.random, deps.policy) : ONLY_BY_USER,
      uncertain,
      now: at,
    });
    if (failed) store.put(failed);
    if (failed && refused.length > 0) tellFailed(failed);
    log.warn(`Outbox: ${after.label} partly refused by ${after.siteId}: ${error}`);
  };

  return {
    fail,
    partlyRefused,
    forget: (jobId) => {
      failuresTold.delete(jobId);
    },
    onFailed(listener) {
      failedListeners.add(listener);
      return () => {
        failedListeners.delete(listener);
      };
    },
  };
}

/** "SR" / "PDF" for the reasons shown; the class UID otherwise. */
export function describeSopClass(uid: string | undefined): string {
  switch (uid) {
    case '1.2.840.10008.5.1.4.1.1.104.1':
      return 'the PDF:';
    case '1.2.840.10008.5.1.4.1.1.88.11':
    case '1.2.840.10008.5.1.4.1.1.88.22':
    case '1.2.840.10008.5.1.4.1.1.88.33':
      return 'the SR:';
    default:
      return uid ? `instance of class ${uid}:` : 'an instance:';
  }
}
