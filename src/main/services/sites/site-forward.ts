import type { GatewayErrorBody } from '../../../shared/gateway';
import { GATEWAY_ERROR_HEADER } from '../../../shared/gateway';
import type { Logger } from '../../../shared/log';
import { describeNetworkError, isConnectTimeout, isTlsFailure, tlsFailureReason } from './network-errors';

/**
 * One request forwarded to a site, after the gateway has decided it may go:
 * the allowed request headers plus the site's credentials, a deadline for the
 * response headers and an idle deadline for the body, and the site's answer
 * streamed back (a multi-hundred-megabyte WADO-RS retrieve never sits in
 * main's memory). Failures main produces itself carry the gateway's codes.
 */

/** Request headers the renderer may pass to a site. Authorization and Cookie are never among them. */
const FORWARDED_REQUEST_HEADERS = ['accept', 'content-type', 'accept-language', 'if-none-match', 'if-modified-since', 'range'];

/** RFC 9110 §7.6.1 hop-by-hop headers, plus cookies and auth challenges that belong to the site, not to the app origin. */
const DROPPED_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'set-cookie',
  'set-cookie2',
  'www-authenticate',
  // A page refresh is a redirect by another name.
  'refresh',
]);

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * The media types a site's answer may have to pass (issue 18). The gateway
 * answers on the app's own origin, so a page, a script, a style sheet or an
 * SVG from a site would be the app's. DICOMweb answers none of those:
 * QIDO-RS, metadata and STOW-RS answer JSON; WADO-RS instances, frames and
 * bulk data multipart/related (Orthanc's frames: type="application/octet-stream");
 * /rendered and thumbnails an image; and some servers a single frame or bulk
 * item as bare application/dicom or application/octet-stream. XML (the
 * application/dicom+xml of PS3.18) is left out: the renderer never asks for
 * it, and an XML document can carry script.
 */
const PASSABLE_ANSWER_TYPES = new Set([
  'application/dicom',
  'application/dicom+json',
  'application/json',
  'multipart/related',
  'application/octet-stream',
  'image/jpeg',
  'image/png',
  'image/jls',
  'image/jp2',
  'image/gif',
  'image/webp',
]);

/** The media type of a Content-Type value without its parameters, lowercased; undefined when there is none. */
function mediaTypeOf(contentType: string | null): string | undefined {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type ? type : undefined;
}

export function gatewayError(status: number, body: GatewayErrorBody): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      [GATEWAY_ERROR_HEADER]: body.code,
    },
  });
}

export interface ForwardTarget {
  site: { id: string; name: string; url: string };
  /** The DICOMweb path after the site's base, and the query string as it came. */
  rest: string;
  search: string;
  method: string;
  siteFetch: typeof fetch;
  auth: Record<string, string>;
  timeoutMs: number;
  idleTimeoutMs: number;
  log: Logger;
  /** Told when the site refuses the stored credentials (upstream 401/403), for the audit trail. */
  onSiteAuthFailed?: ((failure: { siteId: string; status: number; studyInstanceUID?: string }) => void) | undefined;
}

type Phase = 'headers' | 'body';

class TimeoutError extends Error {
  constructor(readonly phase: Phase) {
    super(`Site timed out waiting for ${phase}`);
    this.name = 'TimeoutError';
  }
}

/**
 * One controller for the whole exchange: the timers and the renderer going
 * away all end it. `timedOut` says which deadline passed, if one did.
 */
function openExchange(clientSignal: AbortSignal): {
  signal: AbortSignal;
  arm(phase: Phase, ms: number): void;
  cleanup(): void;
  timedOut(): Phase | undefined;
  /** From now on an abort (a stalled or cancelled body) releases the timer too. */
  cleanupOnAbort(): void;
} {
  const controller = new AbortController();
  let timedOut: Phase | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onClientAbort = (): void => controller.abort(clientSignal.reason);
  if (clientSignal.aborted) onClientAbort();
  else clientSignal.addEventListener('abort', onClientAbort, { once: true });
  const cleanup = (): void => {
    clearTimeout(timer);
    clientSignal.removeEventListener('abort', onClientAbort);
  };
  return {
    signal: controller.signal,
    arm(phase, ms) {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = phase;
        controller.abort(new TimeoutError(phase));
      }, ms);
    },
    cleanup,
    timedOut: () => timedOut,
    cleanupOnAbort: () => controller.signal.addEventListener('abort', cleanup, { once: true }),
  };
}

/** The gateway's answer when the site gave none: timed out (ours or undici's), a TLS failure, or unreachable. */
function noUpstreamAnswer(err: unknown, timedOut: boolean, t: ForwardTarget): Response {
  const { site } = t;
  if (timedOut) {
    return gatewayError(504, { code: 'SITE_TIMEOUT', message: `${site.name} did not answer within ${Math.round(t.timeoutMs / 1000)} s` });
  }
  const cause = describeNetworkError(err);
  t.log.warn(`${site.id} unreachable`, cause);
  if (isConnectTimeout(cause)) return gatewayError(504, { code: 'SITE_TIMEOUT', message: `${site.name} did not accept a connection in time` });
  const tls = isTlsFailure(cause);
  return gatewayError(502, {
    code: 'SITE_UNREACHABLE',
    message: tls ? `${site.name}: TLS certificate error: ${tlsFailureReason(cause)}` : `${site.name} could not be reached`,
  });
}

function copyResponseHeaders(source: Headers): Headers {
  const out = new Headers();
  const connectionListed = new Set(
    (source.get('connection') ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  // fetch has already decoded a compressed body, so its encoding and length no longer describe what we send.
  const decoded = source.has('content-encoding');
  source.forEach((value, name) => {
    if (DROPPED_RESPONSE_HEADERS.has(name) || connectionListed.has(name)) return;
    if (decoded && (name === 'content-encoding' || name === 'content-length')) return;
    out.set(name, value);
  });
  return out;
}

/** Where a redirect pointed, as scheme://host:port only: its path and query may name a patient. */
function redirectTarget(location: string | null, base: string): string | undefined {
  if (!location) return undefined;
  try {
    return new URL(location, base).origin;
  } catch {
    return undefined;
  }
}

/** Forwards `request` to the site and answers with what the site said, or with the gateway's own error. */
export async function forwardToSite(request: Request, t: ForwardTarget): Promise<Response> {
  const headers = new Headers();
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  for (const [name, value] of Object.entries(t.auth)) headers.set(name, value);

  const exchange = openExchange(request.signal);
  const hasBody = t.method !== 'GET' && t.method !== 'HEAD' && request.body !== null;
  let upstream: Response;
  exchange.arm('headers', t.timeoutMs);
  try {
    upstream = await t.siteFetch(`${t.site.url}${t.rest}${t.search}`, {
      method: t.method,
      headers,
      body: hasBody ? request.body : null,
      signal: exchange.signal,
      redirect: 'manual',
      // Node's fetch needs this to send a streamed STOW-RS body.
      ...(hasBody ? { duplex: 'half' } : {}),
    } as RequestInit);
  } catch (err) {
    exchange.cleanup();
    return noUpstreamAnswer(err, exchange.timedOut() !== undefined, t);
  }

  if (upstream.status === 401 || upstream.status === 403) {
    exchange.cleanup();
    await upstream.body?.cancel().catch(() => undefined);
    const studyInstanceUID = /^\/studies\/([0-9.]+)(?:\/|$)/.exec(t.rest)?.[1];
    t.onSiteAuthFailed?.({ siteId: t.site.id, status: upstream.status, ...(studyInstanceUID ? { studyInstanceUID } : {}) });
    return gatewayError(502, { code: 'SITE_AUTH_FAILED', message: `Authentication failed at ${t.site.name}` });
  }

  // A redirect is not followed (redirect: 'manual') and not passed on: its Location would send the
  // renderer's fetch wherever the site says — to another host, or back to this app's own /api with the
  // launch token it adds to same-origin requests. A DICOMweb root that moved is a setting to fix.
  if (upstream.status >= 300 && upstream.status < 400 && upstream.status !== 304) {
    exchange.cleanup();
    await upstream.body?.cancel().catch(() => undefined);
    const where = redirectTarget(upstream.headers.get('location'), t.site.url);
    t.log.warn(`Refused the redirect of ${t.site.id} to ${t.method} ${t.rest}: ${upstream.status}${where ? ` to ${where}` : ''}`);
    return gatewayError(502, {
      code: 'SITE_ERROR',
      message: `${t.site.name} answered with a redirect (HTTP ${upstream.status}${where ? ` to ${where}` : ''}), which the gateway does not follow; check the site's DICOMweb URL`,
    });
  }

  const responseHeaders = copyResponseHeaders(upstream.headers);
  if (NULL_BODY_STATUSES.has(upstream.status) || t.method === 'HEAD' || upstream.body === null) {
    exchange.cleanup();
    await upstream.body?.cancel().catch(() => undefined);
    return new Response(null, { status: upstream.status, headers: responseHeaders });
  }

  const type = mediaTypeOf(upstream.headers.get('content-type'));
  if (type !== undefined && !PASSABLE_ANSWER_TYPES.has(type)) {
    exchange.cleanup();
    await upstream.body.cancel().catch(() => undefined);
    const shown = type.slice(0, 100);
    t.log.warn(`Refused the answer of ${t.site.id} to ${t.method} ${t.rest}: ${upstream.status} ${shown} is not a type the gateway passes on`);
    // A store the site answered 2xx has been acted on: its status is passed on without the body, so the
    // outbox reads "answered, unreadable" (outcome uncertain) and asks the site what it holds before sending
    // again, rather than taking a refusal as final for a report that is stored.
    if (upstream.status < 300 && t.method !== 'POST') {
      return gatewayError(502, {
        code: 'FORBIDDEN',
        message: `${t.site.name} answered with ${shown}, which the gateway does not pass on (only DICOM, DICOM JSON and images)`,
      });
    }
    // The site's own failure (an error page of a proxy in front of it, say), or a STOW it answered 2xx: its
    // status is what the renderer and the outbox go by — a 404 is final, a 503 worth another try — so it
    // is kept, and only the body that may not pass is dropped.
    responseHeaders.delete('content-type');
    responseHeaders.delete('content-length');
    return new Response(null, { status: upstream.status, statusText: upstream.statusText, headers: responseHeaders });
  }
  // Orthanc sends its JSON error bodies without a type; labelled as bytes, no browser sniffs one into a page.
  if (type === undefined) responseHeaders.set('content-type', 'application/octet-stream');

  // From here on the idle timer guards the body: it restarts on every chunk.
  exchange.arm('body', t.idleTimeoutMs);
  const body = upstream.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctrl) {
        exchange.arm('body', t.idleTimeoutMs);
        ctrl.enqueue(chunk);
      },
      flush() {
        exchange.cleanup();
      },
    }),
  );
  exchange.cleanupOnAbort();
  return new Response(body, { status: upstream.status, statusText: upstream.statusText, headers: responseHeaders });
}
