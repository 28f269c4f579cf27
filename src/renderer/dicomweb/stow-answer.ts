import { classifyGatewayAnswer } from '../../shared/gateway-answer';
import type { GatewayAnswerFamily } from '../../shared/gateway-answer';

/**
 * STOW-RS (PS3.18 §10.5) as the DICOMweb client speaks it: the request body,
 * the per-instance answer, and StowError for a request that got none. A store
 * needs its own error type because the sender must know one thing a search
 * never does: whether the request may have reached the site (`uncertain`), so
 * that it asks before sending again instead of storing twice.
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

/** ": <detail>" after a message, when there is a detail (the site's error body, fetch's reason). */
const more = (detail: string): string => (detail ? `: ${detail}` : '');

/**
 * How each failure family reads in the outbox. `what`: the request
 * ("STOW-RS", "QIDO-RS"); `posted`: whether a body may have reached the site,
 * which makes a failure half-way an unknown outcome.
 */
const STOW_WORDING: Record<GatewayAnswerFamily, (what: string, status: number, detail: string, posted: boolean) => StowError> = {
  credentials: (_w, status) => new StowError('auth', 'the site refused our credentials', false, status),
  'gateway-refused': (what, status, detail) => new StowError('rejected', `the gateway refused the ${what} request${more(detail)}`, false, status),
  session: (_w, status) =>
    new StowError('no-answer', 'the app host refused our session — reopen the app from the address the host printed', false, status),
  'unknown-site': (_w, status) => new StowError('rejected', 'the site is no longer configured in this app', false, status),
  // Nothing reached the site: the host holds it back until the workstation is unlocked.
  locked: (what, status) => new StowError('no-answer', `the workstation is locked, so the ${what} request waits for an unlock`, false, status),
  unreachable: (_w, status, _d, posted) => new StowError('no-answer', 'the site could not be reached', posted, status),
  timeout: (_w, status, _d, posted) => new StowError('no-answer', 'the site did not answer in time', posted, status),
  // Status 0: fetch itself failed, `detail` says why. Nothing says the request did not arrive.
  'no-host': (_w, _s, detail, posted) => new StowError('no-answer', `no answer from the app host${detail ? ` (${detail})` : ''}`, posted),
  // 503: the site did not take the request; 429: asked to slow down. Nothing was stored.
  busy: (_w, status, detail) => new StowError('server', `the site is busy (HTTP ${status})${more(detail)}`, false, status),
  // Other 5xx (a proxy's 502, a crash half-way): the site may or may not have stored it.
  server: (_w, status, detail, posted) => new StowError('server', `the site failed (HTTP ${status})${more(detail)}`, posted, status),
  refused: (what, status, detail) => new StowError('rejected', `the site refused the ${what} request (HTTP ${status})${more(detail)}`, false, status),
};

/**
 * Words a failed STOW-RS or QIDO-RS request for the outbox, as
 * classifyGatewayAnswer classes it. `status` 0: no HTTP answer (`detail` is
 * fetch's reason); otherwise `detail` is an excerpt of the error body.
 */
export function stowErrorFor(status: number, code: string | undefined, what: string, posted: boolean, detail = ''): StowError {
  return STOW_WORDING[classifyGatewayAnswer(status, code).family](what, status, detail, posted);
}

/** A short excerpt of an error body, for the reason shown (never a whole HTML page). */
export function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat;
}
