import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { DicomWebApi } from '../dicomweb/dicomweb-api';
import { RequestTimeoutError, classifySiteError, isRetryableSiteError } from '../dicomweb/site-error';
import type { SiteFailure } from '../dicomweb/site-error';
import type { TransferHandle } from './transfers-store';
import type { LinkSource } from './site-link';

// What every request of a retrieval goes through: its cancellation, its deadline and its
// retries. Kept apart from what is asked, so the listing, the instances and the previews
// fail, time out and back off alike.

/** What one task knows of the retrieval it belongs to. */
export interface StudyRun {
  site: SiteSummary;
  api: DicomWebApi;
  signal: AbortSignal;
  handle: TransferHandle | undefined;
  addBytes: (n: number) => void;
  beforeRequest?: (signal: AbortSignal) => Promise<void>;
  /** Aborts every queued and running download of the retrieval (its site is gone); not a cancel. */
  stop: () => void;
  /** Its place on the site's link, once the instance list is in. */
  source?: LinkSource;
}

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** How the requests of every retrieval are bounded and retried. */
export interface RequestPolicy {
  retry: RetryPolicy;
  /** Deadline of one request, headers and body. */
  requestTimeoutMs: number;
  random: () => number;
  log: Logger;
}

/** Rejects when `signal` aborts; otherwise settles as `p` does. */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return untilAborted(new Promise<void>((r) => setTimeout(r, ms)), signal);
}

export function failureOf(err: unknown, what: string): SiteFailure {
  const f = classifySiteError(err);
  return { ...f, message: `${f.message} while ${what}` };
}

export function cancelledFailure(): SiteFailure {
  return { kind: 'other', message: 'retrieval cancelled' };
}

/**
 * One request under the retrieval's signal and our deadline: a controller per request, its
 * listener removed when it settles (a 300-instance study does not pile them on the study's
 * signal); a deadline passed rejects with RequestTimeoutError, whatever the fetch said.
 */
export async function withDeadline<T>(run: StudyRun, timeoutMs: number, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const request = new AbortController();
  let timedOut = false;
  const onAbort = (): void => request.abort(run.signal.reason);
  run.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    request.abort(new RequestTimeoutError(timeoutMs));
  }, timeoutMs);
  try {
    if (run.signal.aborted) throw run.signal.reason;
    return await send(request.signal);
  } catch (err) {
    if (timedOut && !run.signal.aborted) throw new RequestTimeoutError(timeoutMs);
    throw err;
  } finally {
    clearTimeout(timer);
    run.signal.removeEventListener('abort', onAbort);
  }
}

/** Runs `fn`, again after a growing pause with jitter while it fails in a way that may pass. */
export async function withRetry<T>(run: StudyRun, policy: RequestPolicy, what: string, fn: () => Promise<T>): Promise<T> {
  const { attempts, baseDelayMs, maxDelayMs } = policy.retry;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (run.signal.aborted || attempt >= attempts || !isRetryableSiteError(err)) throw err;
      const failure = classifySiteError(err);
      // "Equal jitter": half the backoff fixed, half random, so parallel downloads do not retry in step.
      const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      const delay = Math.round(backoff / 2 + (policy.random() * backoff) / 2);
      run.handle?.noteError(`${run.site.name}: ${failure.message} while ${what}; try ${attempt + 1} of ${attempts} in ${(delay / 1000).toFixed(1)} s`);
      policy.log.info(`${run.site.id}: ${failure.message} while ${what}; retrying in ${delay} ms`);
      await sleep(delay, run.signal);
    }
  }
}
