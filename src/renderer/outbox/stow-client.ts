import { createDicomWebClient } from '../dicomweb/dicomweb-api';
import type { DicomWebStore } from '../dicomweb/dicomweb-api';
import { noAnswerReason } from '../dicomweb/dicomweb-http';
import { StowError, stowErrorFor } from '../dicomweb/stow-answer';
import type { StowInstance, StowOutcome } from '../dicomweb/stow-answer';

/**
 * The outbox's side of its two site calls: STOW-RS of a job's instances, and
 * the check of which of them the site already holds (asked after an unknown
 * outcome, before sending again). Both go through the site's DICOMweb client
 * (dicomweb/stow-store.ts), which sends, reads and words the answer; this
 * adapter only adds the outbox's deadline, after which an outcome is unknown.
 */

export { StowError, buildStowBody, describeFailureReason, parseStowResponse, randomBoundary } from '../dicomweb/stow-answer';
export type { StowErrorKind, StowInstance, StowInstanceFailure, StowOutcome } from '../dicomweb/stow-answer';

export interface SiteTransportOptions {
  fetchImpl: typeof fetch;
  /** The gateway base URL of a site: `origin + /sites/<id>/dicom-web`. */
  siteBaseUrl: (siteId: string) => string;
  /** A STOW-RS request with no complete answer after this long has an unknown outcome (default 5 min). */
  requestTimeoutMs?: number;
  /** UIDs per QIDO-RS check (a comma-separated UID list keeps the URL short enough for any server). */
  uidsPerQuery?: number;
}

/** What the outbox needs from a site. Tests may hand in their own. */
export interface OutboxTransport {
  /** Stores the instances with one STOW-RS request; rejects with StowError when there is no per-instance answer. */
  stow(siteId: string, instances: readonly StowInstance[], signal: AbortSignal): Promise<StowOutcome>;
  /** Which of `sopInstanceUIDs` the site holds in the study. Rejects with StowError when it cannot tell. */
  findStored(siteId: string, studyInstanceUID: string, sopInstanceUIDs: readonly string[], signal: AbortSignal): Promise<Set<string>>;
}

/**
 * Runs `fn` with a signal that also fires after `timeoutMs`. The caller's
 * abort passes through as it came; anything else that is not a StowError
 * (our deadline, a bug) becomes one with no answer, `posted` saying whether
 * the request may have arrived.
 */
async function withDeadline<T>(timeoutMs: number, signal: AbortSignal, posted: boolean, fn: (s: AbortSignal) => Promise<T>): Promise<T> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new StowError('no-answer', `no complete answer within ${Math.round(timeoutMs / 1000)} s`, posted)), timeoutMs);
  const onAbort = (): void => timeout.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn(timeout.signal);
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (err instanceof StowError) throw err;
    if (timeout.signal.aborted && timeout.signal.reason instanceof StowError) throw timeout.signal.reason;
    throw stowErrorFor(0, undefined, posted ? 'STOW-RS' : 'QIDO-RS', posted, noAnswerReason(err));
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * The outbox's site calls through each site's DICOMweb client, to the gateway
 * on the app's own origin (the gateway adds the site's credentials; fetch adds
 * only the app cookie).
 */
export function createSiteTransport(options: SiteTransportOptions): OutboxTransport {
  const { fetchImpl, siteBaseUrl } = options;
  const timeoutMs = options.requestTimeoutMs ?? 5 * 60_000;
  const clients = new Map<string, DicomWebStore>();
  const clientFor = (siteId: string): DicomWebStore => {
    let client = clients.get(siteId);
    if (!client) {
      client = createDicomWebClient({ baseUrl: siteBaseUrl(siteId), fetchImpl });
      clients.set(siteId, client);
    }
    return client;
  };
  return {
    stow: (siteId, instances, signal) => withDeadline(timeoutMs, signal, true, (s) => clientFor(siteId).storeInstances(instances, s)),
    findStored: (siteId, studyUID, uids, signal) =>
      withDeadline(timeoutMs, signal, false, (s) => clientFor(siteId).findStoredInstances(studyUID, uids, s, options.uidsPerQuery)),
  };
}
