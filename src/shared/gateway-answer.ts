/**
 * What a failed DICOMweb answer means, decided once for every caller: the
 * renderer's DICOMweb client (search, retrieve, store, all through the site
 * gateway) and main's connection test (straight to the site, so without
 * gateway codes). Each caller words the family for its own reader — the
 * worklist says "authentication failed", the outbox "the site refused our
 * credentials" — but which answers count as which failure lives only here.
 *
 * The gateway's own code (x-telerad-error header or the `code` of its JSON
 * body, shared/gateway.ts) wins over the status: a 502 may mean "wrong
 * password" or "no route", and only the code tells which.
 */
export type GatewayAnswerFamily =
  /** The site refused the credentials the gateway holds for it (SITE_AUTH_FAILED, or a plain 401/403). */
  | 'credentials'
  /** The app host refused the page's own session (UNAUTHORIZED): the page must be reopened. */
  | 'session'
  /** The gateway will not forward this request (FORBIDDEN: not DICOMweb, or plain HTTP without consent). */
  | 'gateway-refused'
  /** The app host is locked (LOCKED, 423): no site was asked; after an unlock the same request passes. */
  | 'locked'
  /** The gateway knows no such site (NOT_FOUND with its code). */
  | 'unknown-site'
  /** The gateway could not connect to the site (SITE_UNREACHABLE). */
  | 'unreachable'
  /** The site did not answer in time (SITE_TIMEOUT, or a 504). */
  | 'timeout'
  /** No HTTP answer at all (status 0): the app host itself is gone. */
  | 'no-host'
  /** The site did not take the request and asks us to come back (503, 429): nothing was done. */
  | 'busy'
  /** Any other 5xx: the site failed, maybe half-way through. */
  | 'server'
  /** Any other 4xx (a plain 404, 409, 413, …): asking again the same way gets the same answer. */
  | 'refused';

export interface GatewayAnswer {
  family: GatewayAnswerFamily;
  /** Another try after a pause may succeed (never for credentials, refusals, or a session to reopen). */
  retryable: boolean;
}

/** Gateway codes that a second try cannot change, whatever the status they came with. */
const FINAL_CODES = new Set(['SITE_AUTH_FAILED', 'FORBIDDEN', 'NOT_FOUND', 'UNAUTHORIZED', 'BAD_REQUEST']);

function familyOf(status: number | undefined, code: string | undefined): GatewayAnswerFamily {
  switch (code) {
    case 'SITE_AUTH_FAILED':
      return 'credentials';
    case 'SITE_TIMEOUT':
      return 'timeout';
    case 'SITE_UNREACHABLE':
      return 'unreachable';
    case 'UNAUTHORIZED':
      return 'session';
    case 'FORBIDDEN':
      return 'gateway-refused';
    case 'LOCKED':
      return 'locked';
    default:
      break;
  }
  if (status === undefined || status === 0) return 'no-host';
  if (code === 'NOT_FOUND') return 'unknown-site';
  if (status === 401 || status === 403) return 'credentials';
  if (status === 504) return 'timeout';
  if (status === 503 || status === 429) return 'busy';
  if (status >= 500) return 'server';
  return 'refused';
}

/**
 * Classifies one failed answer by its status (0 or undefined: none came) and
 * the gateway's code when there is one. Retryable: 5xx, 408/429, timeouts and
 * no answer at all; never a final gateway code or any other 4xx.
 */
export function classifyGatewayAnswer(status: number | undefined, code?: string): GatewayAnswer {
  const family = familyOf(status, code);
  if (code !== undefined && FINAL_CODES.has(code)) return { family, retryable: false };
  const retryable = family === 'locked' || family === 'no-host' || family === 'timeout' || family === 'unreachable' || family === 'busy' || family === 'server' || status === 408;
  return { family, retryable };
}

/** The gateway's code in a JSON error body `{code, message}` (an ArrayBuffer, a string, or already parsed). */
export function gatewayCodeInBody(response: unknown): string | undefined {
  let body: unknown = response;
  try {
    if (response instanceof ArrayBuffer) body = JSON.parse(new TextDecoder().decode(response));
    else if (typeof response === 'string') body = JSON.parse(response);
  } catch {
    return undefined;
  }
  if (typeof body === 'object' && body !== null && typeof (body as { code?: unknown }).code === 'string') {
    return (body as { code: string }).code;
  }
  return undefined;
}
