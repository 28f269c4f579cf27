import { GATEWAY_ERROR_HEADER } from '../../shared/gateway';
import { errorMessage } from '../../shared/error-message';
import { classifyGatewayAnswer, gatewayCodeInBody } from '../../shared/gateway-answer';
import type { GatewayAnswerFamily } from '../../shared/gateway-answer';

export type SiteFailureKind =
  | 'auth' // the site refused the credentials the gateway holds for it
  | 'timeout' // the site did not answer in time
  | 'unreachable' // no connection to the site
  | 'host' // the app's own host did not answer (status 0) or refused our session
  | 'http' // the site answered with some other HTTP error
  | 'other'; // not an HTTP failure at all (a parse error, a bug)

export interface SiteFailure {
  kind: SiteFailureKind;
  /** Short, for a status line after the site's name: "Hospital B: authentication failed". */
  message: string;
  status?: number;
  /** The gateway's code when it produced the failure itself (x-telerad-error / JSON body). */
  code?: string;
}

/**
 * A non-2xx answer (or status 0: no answer) to a DICOMweb request made with
 * fetch. Shaped like dicomweb-client's rejections (below), so one classifier
 * reads both should a later feature (STOW-RS) use that library.
 */
export class HttpStatusError extends Error {
  readonly request: { getResponseHeader(name: string): string | null };
  constructor(
    readonly status: number,
    message: string,
    headers?: Headers,
    readonly response?: ArrayBuffer,
  ) {
    super(message);
    this.name = 'HttpStatusError';
    this.request = { getResponseHeader: (name) => headers?.get(name) ?? null };
  }
}

/**
 * The site answered 200, but with something that is not what it says it is:
 * a multipart body whose boundary is not the one in its Content-Type, a part
 * cut short, a file that is not DICOM, the wrong instance. Nothing from such
 * an answer is stored. `truncated` answers are worth another try (a proxy or
 * a link that cut the body); the others would only come back the same.
 */
export class BadAnswerError extends Error {
  constructor(
    message: string,
    readonly truncated = false,
  ) {
    super(message);
    this.name = 'BadAnswerError';
  }
}

/**
 * The connection broke while the body was arriving (a cut link, the site or
 * the gateway dropping it). Whatever had arrived is thrown away.
 */
export class TransferInterruptedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransferInterruptedError';
  }
}

/** Our own per-request deadline passed before the answer was complete. */
export class RequestTimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`no complete answer within ${Math.round(ms / 1000)} s`);
    this.name = 'RequestTimeoutError';
  }
}

/**
 * What dicomweb-client rejects with on a non-2xx answer (api.js _httpRequest):
 * an Error with `status`, `request` (the XMLHttpRequest) and `response`
 * (the body in the request's responseType: parsed JSON for QIDO, an
 * ArrayBuffer for WADO-RS, null when JSON parsing failed). A network failure
 * shows up as status 0.
 */
interface DicomWebClientError {
  status?: unknown;
  request?: { getResponseHeader?(name: string): string | null; responseText?: unknown };
  response?: unknown;
}

function headerCode(request: DicomWebClientError['request']): string | undefined {
  try {
    return request?.getResponseHeader?.(GATEWAY_ERROR_HEADER) ?? undefined;
  } catch {
    return undefined;
  }
}

/** The gateway's code of a failed request: its header first, its JSON body second. */
function codeOf(e: DicomWebClientError): string | undefined {
  return headerCode(e.request) ?? gatewayCodeInBody(e.response);
}

/** How each failure family reads after the site's name, for the worklist, the viewer and the logs. */
const FAILURE_WORDING: Record<GatewayAnswerFamily, (status: number | undefined) => Pick<SiteFailure, 'kind' | 'message'>> = {
  credentials: () => ({ kind: 'auth', message: 'authentication failed' }),
  timeout: () => ({ kind: 'timeout', message: 'timed out' }),
  unreachable: () => ({ kind: 'unreachable', message: 'unreachable' }),
  session: () => ({ kind: 'host', message: 'session expired — reopen the app from the address the host printed' }),
  'gateway-refused': () => ({ kind: 'http', message: 'request refused by the gateway' }),
  'no-host': () => ({ kind: 'host', message: 'no connection to the app host' }),
  locked: () => ({ kind: 'host', message: 'not available while the workstation is locked' }),
  'unknown-site': (status) => ({ kind: 'http', message: `failed (HTTP ${status})` }),
  busy: (status) => ({ kind: 'http', message: `failed (HTTP ${status})` }),
  server: (status) => ({ kind: 'http', message: `failed (HTTP ${status})` }),
  refused: (status) => ({ kind: 'http', message: `failed (HTTP ${status})` }),
};

/**
 * Turns whatever a DICOMweb call threw into a failure a clinician can read.
 * Which answer means what is decided by classifyGatewayAnswer (shared, so the
 * outbox's STOW-RS and main's connection test read the same codes the same way).
 */
export function classifySiteError(err: unknown): SiteFailure {
  if (err instanceof BadAnswerError) return { kind: 'other', message: `sent a malformed answer: ${err.message}` };
  if (err instanceof TransferInterruptedError) return { kind: 'unreachable', message: 'dropped the connection mid-transfer' };
  if (err instanceof RequestTimeoutError) return { kind: 'timeout', message: `timed out (${err.message})` };
  if (err instanceof SyntaxError) return { kind: 'other', message: 'sent an answer that is not valid JSON' };
  if (typeof err !== 'object' || err === null || !('status' in err)) {
    const message = errorMessage(err);
    return { kind: 'other', message: `failed: ${message}` };
  }
  const e = err as DicomWebClientError;
  const status = typeof e.status === 'number' ? e.status : undefined;
  const code = codeOf(e);
  const base = { ...(status !== undefined ? { status } : {}), ...(code !== undefined ? { code } : {}) };
  return { ...base, ...FAILURE_WORDING[classifyGatewayAnswer(status, code).family](status) };
}

/** Failures after which waiting on the network is pointless and the cache is all there is. */
export function isOfflineFailure(f: SiteFailure): boolean {
  return f.kind === 'unreachable' || f.kind === 'timeout' || f.kind === 'host';
}

/**
 * Whether a failed DICOMweb request is worth another try after a pause:
 * 5xx, 408/429, timeouts (the gateway's 504 or ours), no answer at all, and a
 * connection dropped mid-body. Never 401/403/404 or other 4xx (asking again
 * gets the same answer), never a malformed answer other than a cut-short one,
 * never a cancel.
 */
export function isRetryableSiteError(err: unknown): boolean {
  if (err instanceof TransferInterruptedError || err instanceof RequestTimeoutError) return true;
  if (err instanceof BadAnswerError) return err.truncated;
  if (typeof err !== 'object' || err === null || !('status' in err)) return false;
  if ((err as { name?: unknown }).name === 'AbortError') return false;
  const e = err as DicomWebClientError;
  return classifyGatewayAnswer(typeof e.status === 'number' ? e.status : undefined, codeOf(e)).retryable;
}
