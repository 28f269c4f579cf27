import { GATEWAY_ERROR_HEADER } from '../../shared/gateway';
import { errorMessage } from '../../shared/error-message';

/**
 * The two site calls of the outbox, through the gateway: STOW-RS (PS3.18
 * §10.5) of a job's instances, and the QIDO-RS check of which of them the
 * site already holds (asked after an unknown outcome, before sending again).
 */

/** One instance to store: its UIDs and the Part 10 bytes made once, at signing. */
export interface StowInstance {
  sopInstanceUID: string;
  sopClassUID: string;
  bytes: ArrayBuffer;
}

export interface StowInstanceFailure {
  sopInstanceUID: string;
  /** Failure Reason (0008,1197) when the site gave one. */
  reason?: number;
  /** Another try may succeed (out of resources, processing failure); otherwise the site will refuse it again. */
  retryable: boolean;
  /** Readable, for the outbox panel: "refused: the data set does not match its SOP class (0xA900)". */
  message: string;
}

/** What a site said about each instance of one STOW-RS request. */
export interface StowOutcome {
  status: number;
  stored: string[];
  failed: StowInstanceFailure[];
  /** Sent, but named in neither sequence of the answer: the outcome for these is unknown. */
  unaccounted: string[];
}

export type StowErrorKind =
  /** The site (or the gateway for it) refused our credentials. */
  | 'auth'
  /** No complete answer: connection cut, timeout, host gone, gateway could not reach the site. */
  | 'no-answer'
  /** The site answered, but not with a STOW-RS response we can read. */
  | 'malformed'
  /** The site refused the request as a whole (4xx); asking again gets the same answer. */
  | 'rejected'
  /** The site is busy or failing (5xx); it stored nothing it told us about. */
  | 'server';

/**
 * A STOW-RS request that produced no per-instance answer. `uncertain`: the
 * request may have reached the site and been stored (ask before re-sending).
 */
export class StowError extends Error {
  constructor(
    readonly kind: StowErrorKind,
    message: string,
    readonly uncertain: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'StowError';
  }
}

/** PS3.18 §10.5.3 / PS3.4 Annex B failure reasons, said plainly. Out of resources and processing failures may pass later. */
const FAILURE_REASONS: Record<number, { text: string; retryable: boolean }> = {
  0x0110: { text: 'processing failure at the site', retryable: true },
  0x0122: { text: 'the site does not accept this SOP class', retryable: false },
  0x0124: { text: 'not authorised to store this instance', retryable: false },
  0x0211: { text: 'unrecognised operation', retryable: false },
  0x0212: { text: 'mistyped argument', retryable: false },
  0xa700: { text: 'the site is out of resources', retryable: true },
  0xa770: { text: 'the site is out of resources', retryable: true },
  0xa900: { text: 'the data set does not match its SOP class', retryable: false },
  0xc000: { text: 'the site cannot understand the instance', retryable: false },
  0xc122: { text: 'the site does not accept its transfer syntax', retryable: false },
};

export function describeFailureReason(reason: number | undefined): { text: string; retryable: boolean } {
  const hex = reason === undefined ? '' : ` (0x${reason.toString(16).toUpperCase().padStart(4, '0')})`;
  const known = reason === undefined ? undefined : FAILURE_REASONS[reason];
  if (known) return { text: `${known.text}${hex}`, retryable: known.retryable };
  // Unknown codes: the A7xx block is "out of resources", the rest of Axxx/Cxxx are refusals of the data.
  if (reason !== undefined && reason >= 0xa700 && reason <= 0xa7ff) return { text: `the site is out of resources${hex}`, retryable: true };
  return { text: `refused by the site${hex || ' (no reason given)'}`, retryable: reason === undefined };
}

/** Builds the multipart/related body; the boundary is random, so it cannot occur in a file by chance. */
export function buildStowBody(instances: readonly StowInstance[], boundary: string): { body: Uint8Array<ArrayBuffer>; contentType: string } {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const i of instances) {
    chunks.push(enc.encode(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), new Uint8Array(i.bytes), enc.encode('\r\n'));
  }
  chunks.push(enc.encode(`--${boundary}--\r\n`));
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return { body, contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

export function randomBoundary(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `telerad-outbox-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

type JsonItem = Record<string, { Value?: unknown[] } | undefined>;

function isItem(v: unknown): v is JsonItem {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sequence(ds: JsonItem, tag: string, what: string): JsonItem[] {
  const attr = ds[tag];
  if (attr === undefined) return [];
  if (!isItem(attr)) throw new StowError('malformed', `the answer's ${what} is not a DICOM JSON attribute`, true);
  const value = attr.Value ?? [];
  if (!Array.isArray(value) || !value.every(isItem)) throw new StowError('malformed', `the answer's ${what} holds something other than items`, true);
  return value;
}

function uidOf(item: JsonItem): string | undefined {
  const v = item['00081155']?.Value?.[0];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/**
 * Reads a STOW-RS response body (PS3.18 §10.5.3: one DICOM JSON dataset with
 * Referenced SOP Sequence (0008,1199) for stored instances and Failed SOP
 * Sequence (0008,1198) with Failure Reason (0008,1197) for refused ones).
 * `sent`: the SOP Instance UIDs in the request. Throws StowError('malformed')
 * with a readable reason when the body is not such a dataset.
 */
export function parseStowResponse(status: number, text: string, sent: readonly string[]): StowOutcome {
  const shown = text.length > 60 ? `${text.slice(0, 60)}…` : text;
  if (text.trim() === '') throw new StowError('malformed', `the site answered HTTP ${status} with an empty body instead of a STOW-RS response`, true, status);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new StowError('malformed', `the site answered HTTP ${status} with a body that is not JSON ("${shown}")`, true, status);
  }
  // Some servers wrap the one response dataset in an array.
  const ds: unknown = Array.isArray(parsed) && parsed.length === 1 ? parsed[0] : parsed;
  if (!isItem(ds)) throw new StowError('malformed', `the site answered HTTP ${status} with JSON that is not a DICOM dataset`, true, status);
  const storedItems = sequence(ds, '00081199', 'Referenced SOP Sequence');
  const failedItems = sequence(ds, '00081198', 'Failed SOP Sequence');
  if (storedItems.length === 0 && failedItems.length === 0) {
    throw new StowError('malformed', `the site answered HTTP ${status} without saying which instances it stored or refused`, true, status);
  }
  const wanted = new Set(sent);
  const stored = storedItems.map(uidOf).filter((u): u is string => u !== undefined && wanted.has(u));
  const failed: StowInstanceFailure[] = [];
  for (const item of failedItems) {
    const uid = uidOf(item);
    if (uid === undefined || !wanted.has(uid) || stored.includes(uid)) continue;
    const raw = item['00081197']?.Value?.[0];
    const reason = typeof raw === 'number' ? raw : undefined;
    const { text: why, retryable } = describeFailureReason(reason);
    failed.push({ sopInstanceUID: uid, ...(reason !== undefined ? { reason } : {}), retryable, message: why });
  }
  const named = new Set([...stored, ...failed.map((f) => f.sopInstanceUID)]);
  return { status, stored, failed, unaccounted: sent.filter((u) => !named.has(u)) };
}

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

/** The gateway's own error code (x-telerad-error), which says "the site refused our password" apart from "the site answered 502". */
function gatewayCode(res: Response): string | undefined {
  return res.headers.get(GATEWAY_ERROR_HEADER) ?? undefined;
}

/** Classes an HTTP error answer to a STOW-RS or QIDO-RS request. `posted`: whether a body may have reached the site. */
export function errorForStatus(res: Response, what: string, posted: boolean, detail = ''): StowError {
  const status = res.status;
  const code = gatewayCode(res);
  const more = detail ? `: ${detail}` : '';
  if (code === 'SITE_AUTH_FAILED' || status === 401 || status === 403) {
    if (code === 'FORBIDDEN') return new StowError('rejected', `the gateway refused the ${what} request${more}`, false, status);
    return new StowError('auth', 'the site refused our credentials', false, status);
  }
  if (code === 'UNAUTHORIZED') return new StowError('no-answer', 'the app host refused our session — reopen the app from the address the host printed', false, status);
  if (code === 'NOT_FOUND') return new StowError('rejected', 'the site is no longer configured in this app', false, status);
  if (code === 'SITE_UNREACHABLE') return new StowError('no-answer', 'the site could not be reached', posted, status);
  if (code === 'SITE_TIMEOUT' || status === 504) return new StowError('no-answer', 'the site did not answer in time', posted, status);
  // 503: the site did not take the request; 429: asked to slow down. Nothing was stored.
  if (status === 503 || status === 429) return new StowError('server', `the site is busy (HTTP ${status})${more}`, false, status);
  // Other 5xx (a proxy's 502, a crash half-way): the site may or may not have stored it.
  if (status >= 500) return new StowError('server', `the site failed (HTTP ${status})${more}`, posted, status);
  return new StowError('rejected', `the site refused the ${what} request (HTTP ${status})${more}`, false, status);
}

async function readText(res: Response): Promise<string> {
  try {
    return await res.text();
  } catch (err) {
    throw new StowError('no-answer', `the connection dropped while the answer was arriving (${errorMessage(err)})`, true, res.status);
  }
}

/** A short excerpt of an error body, for the reason shown (never a whole HTML page). */
function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat;
}

/**
 * The outbox's site calls over fetch, to the gateway on the app's own origin
 * (the gateway adds the site's credentials; fetch adds only the app cookie).
 */
export function createSiteTransport(options: SiteTransportOptions): OutboxTransport {
  const { fetchImpl, siteBaseUrl } = options;
  const timeoutMs = options.requestTimeoutMs ?? 5 * 60_000;
  const perQuery = options.uidsPerQuery ?? 40;

  /** Runs `fn` with a signal that also fires after the timeout; a failure with no HTTP answer becomes StowError. */
  const withDeadline = async <T>(signal: AbortSignal, posted: boolean, fn: (s: AbortSignal) => Promise<T>): Promise<T> => {
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
      const why = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw new StowError('no-answer', `no answer from the app host (${why})`, posted);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  };

  return {
    stow: (siteId, instances, signal) =>
      withDeadline(signal, true, async (s) => {
        const { body, contentType } = buildStowBody(instances, randomBoundary());
        const res = await fetchImpl(`${siteBaseUrl(siteId)}/studies`, {
          method: 'POST',
          headers: { 'content-type': contentType, accept: 'application/dicom+json' },
          body,
          credentials: 'same-origin',
          signal: s,
        });
        const text = await readText(res);
        // 200 all stored, 202 some refused, 409 none stored: each with the per-instance answer (PS3.18 §10.5.3).
        if (res.status === 200 || res.status === 202 || res.status === 409) {
          return parseStowResponse(
            res.status,
            text,
            instances.map((i) => i.sopInstanceUID),
          );
        }
        throw errorForStatus(res, 'STOW-RS', true, excerpt(text));
      }),

    findStored: (siteId, studyUID, uids, signal) =>
      withDeadline(signal, false, async (s) => {
        const found = new Set<string>();
        for (let i = 0; i < uids.length; i += perQuery) {
          const chunk = uids.slice(i, i + perQuery);
          // A UID list (PS3.18 §8.3.4.1) with literal commas: Orthanc's DICOMweb plugin splits those,
          // while repeated keys keep only one value and a percent-encoded comma is not split.
          const url = `${siteBaseUrl(siteId)}/studies/${encodeURIComponent(studyUID)}/instances?SOPInstanceUID=${chunk.join(',')}&includefield=00080018`;
          const res = await fetchImpl(url, { headers: { accept: 'application/dicom+json' }, credentials: 'same-origin', signal: s });
          const text = await readText(res);
          // 204 (or 404 for a study the site does not know yet): none of them is there.
          if (res.status === 204 || (res.status === 404 && !gatewayCode(res))) continue;
          if (res.status !== 200) throw errorForStatus(res, 'QIDO-RS', false, excerpt(text));
          let rows: unknown;
          try {
            rows = text.trim() === '' ? [] : JSON.parse(text);
          } catch {
            throw new StowError('malformed', 'the site answered the check for stored instances with a body that is not JSON', false, res.status);
          }
          if (!Array.isArray(rows)) throw new StowError('malformed', 'the site answered the check for stored instances with something other than a list', false, res.status);
          for (const row of rows) {
            const uid = isItem(row) ? row['00080018']?.Value?.[0] : undefined;
            if (typeof uid === 'string' && chunk.includes(uid)) found.add(uid);
          }
        }
        return found;
      }),
  };
}
