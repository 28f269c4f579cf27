import type { GatewayErrorBody } from '../../../shared/gateway';
import { GATEWAY_ERROR_HEADER, isAllowedGatewayMethod, isDicomWebPath, parseGatewayPath } from '../../../shared/gateway';
import type { Logger } from '../../../shared/log';
import type { SiteDirectory } from './sites-service';
import { isUnencryptedRemoteUrl, plainHttpRefusal } from '../../../shared/sites/plain-http';

/** One gateway request: the WHATWG shape, so Node's http bridge and Electron's protocol.handle share it. */
export type SiteGateway = (request: Request) => Promise<Response>;

export interface SiteGatewayOptions {
  sites: SiteDirectory;
  log: Logger;
  /**
   * Stands in for the network for every site (tests point a host name at a
   * local server with it). Without it each site uses its own transport from
   * `sites.fetchFor` (keep-alive Agent, custom CA), or Node's fetch when the
   * directory has none.
   */
  fetchImpl?: typeof fetch;
  /** Time allowed until the site's response headers arrive, for sites without their own timeouts. */
  timeoutMs?: number;
  /** Longest pause allowed between two chunks of the response body, for sites without their own timeouts. */
  idleTimeoutMs?: number;
  /** Told when a site refuses the stored credentials (upstream 401/403), for the audit trail. */
  onSiteAuthFailed?: (failure: { siteId: string; status: number; studyInstanceUID?: string }) => void;
}

export const DEFAULT_GATEWAY_TIMEOUT_MS = 30_000;

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
]);

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

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

class TimeoutError extends Error {
  constructor(readonly phase: 'headers' | 'body') {
    super(`Site timed out waiting for ${phase}`);
    this.name = 'TimeoutError';
  }
}

/**
 * The site gateway: `/sites/<id>/dicom-web/<rest>` on the app origin →
 * `<site.url><rest>?<query>` at the site, with the site's credentials and a
 * timeout, for DICOMweb resources only. Response bodies are streamed through
 * untouched, so a multi-hundred-megabyte WADO-RS retrieve never sits in
 * main's memory.
 */
export function createSiteGateway(options: SiteGatewayOptions): SiteGateway {
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_GATEWAY_TIMEOUT_MS;
  const defaultIdleTimeoutMs = options.idleTimeoutMs ?? defaultTimeoutMs;
  const log = options.log;

  return async (request) => {
    const started = Date.now();
    const url = new URL(request.url);
    const method = request.method.toUpperCase();
    const target = parseGatewayPath(url.pathname);
    const done = (response: Response, siteId = '-', path = url.pathname): Response => {
      log.info(`${method} ${siteId} ${path} ${response.status} ${Date.now() - started}ms`);
      return response;
    };

    if (!target) return done(gatewayError(404, { code: 'NOT_FOUND', message: 'Not a site gateway path' }));
    const { siteId, rest } = target;
    if (!isDicomWebPath(rest) || !isAllowedGatewayMethod(method, rest)) {
      return done(
        gatewayError(403, { code: 'FORBIDDEN', message: `${method} ${rest} is not a DICOMweb resource the gateway forwards` }),
        siteId,
        rest,
      );
    }
    const site = await options.sites.find(siteId);
    if (!site) return done(gatewayError(404, { code: 'NOT_FOUND', message: `Unknown site "${siteId}"` }), siteId, rest);
    // Defence in depth: the service refuses such a site, but sites.json may have been edited by hand.
    if (isUnencryptedRemoteUrl(site.url) && site.allowInsecureHttp !== true) {
      log.warn(`Refused to forward to ${site.id}: plain HTTP to a remote host without the user's allowance`);
      return done(gatewayError(403, { code: 'FORBIDDEN', message: `${site.name}: ${plainHttpRefusal(site.url)}` }), siteId, rest);
    }
    const timeoutMs = site.timeouts?.connectMs ?? defaultTimeoutMs;
    const idleTimeoutMs = site.timeouts?.idleMs ?? defaultIdleTimeoutMs;
    // The site's own Agent: connections kept alive between requests, and its custom CA if it has one.
    const siteFetch = options.fetchImpl ?? (await options.sites.fetchFor?.(site.id)) ?? fetch;

    let auth: Record<string, string>;
    try {
      auth = await options.sites.authHeaders(site.id);
    } catch (err) {
      log.error(`No usable credentials for ${site.id}`, err);
      return done(
        gatewayError(502, { code: 'SITE_AUTH_FAILED', message: `No usable credentials for ${site.name}` }),
        siteId,
        rest,
      );
    }

    const headers = new Headers();
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    for (const [name, value] of Object.entries(auth)) headers.set(name, value);

    // One controller for the whole exchange: the timers and the renderer going away all end it.
    const controller = new AbortController();
    let timedOut: TimeoutError | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (phase: 'headers' | 'body', ms: number): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = new TimeoutError(phase);
        controller.abort(timedOut);
      }, ms);
    };
    const disarm = (): void => clearTimeout(timer);
    const onClientAbort = (): void => controller.abort(request.signal.reason);
    if (request.signal.aborted) onClientAbort();
    else request.signal.addEventListener('abort', onClientAbort, { once: true });
    const cleanup = (): void => {
      disarm();
      request.signal.removeEventListener('abort', onClientAbort);
    };

    const hasBody = method !== 'GET' && method !== 'HEAD' && request.body !== null;
    const upstreamUrl = `${site.url}${rest}${url.search}`;
    let upstream: Response;
    arm('headers', timeoutMs);
    try {
      upstream = await siteFetch(upstreamUrl, {
        method,
        headers,
        body: hasBody ? request.body : null,
        signal: controller.signal,
        redirect: 'manual',
        // Node's fetch needs this to send a streamed STOW-RS body.
        ...(hasBody ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      cleanup();
      if (timedOut) {
        return done(
          gatewayError(504, {
            code: 'SITE_TIMEOUT',
            message: `${site.name} did not answer within ${Math.round(timeoutMs / 1000)} s`,
          }),
          siteId,
          rest,
        );
      }
      const cause = describeNetworkError(err);
      log.warn(`${site.id} unreachable`, cause);
      if (isConnectTimeout(cause)) {
        return done(
          gatewayError(504, { code: 'SITE_TIMEOUT', message: `${site.name} did not accept a connection in time` }),
          siteId,
          rest,
        );
      }
      const tls = isTlsFailure(cause);
      return done(
        gatewayError(502, {
          code: 'SITE_UNREACHABLE',
          message: tls ? `${site.name}: TLS certificate error: ${tlsFailureReason(cause)}` : `${site.name} could not be reached`,
        }),
        siteId,
        rest,
      );
    }

    if (upstream.status === 401 || upstream.status === 403) {
      cleanup();
      await upstream.body?.cancel().catch(() => undefined);
      const studyInstanceUID = /^\/studies\/([0-9.]+)(?:\/|$)/.exec(rest)?.[1];
      options.onSiteAuthFailed?.({ siteId: site.id, status: upstream.status, ...(studyInstanceUID ? { studyInstanceUID } : {}) });
      return done(
        gatewayError(502, { code: 'SITE_AUTH_FAILED', message: `Authentication failed at ${site.name}` }),
        siteId,
        rest,
      );
    }

    const responseHeaders = copyResponseHeaders(upstream.headers);
    if (NULL_BODY_STATUSES.has(upstream.status) || method === 'HEAD' || upstream.body === null) {
      cleanup();
      await upstream.body?.cancel().catch(() => undefined);
      return done(new Response(null, { status: upstream.status, headers: responseHeaders }), siteId, rest);
    }

    // From here on the idle timer guards the body: it restarts on every chunk.
    arm('body', idleTimeoutMs);
    const body = upstream.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, ctrl) {
          arm('body', idleTimeoutMs);
          ctrl.enqueue(chunk);
        },
        flush() {
          cleanup();
        },
      }),
    );
    // A stalled or cancelled body ends with an error on the stream; release the timer then too.
    controller.signal.addEventListener('abort', cleanup, { once: true });
    return done(new Response(body, { status: upstream.status, statusText: upstream.statusText, headers: responseHeaders }), siteId, rest);
  };
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

/** The most specific code in a fetch failure: `ECONNREFUSED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, … */
export function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}

/** undici's own connect timer (10 s in Node's fetch) fired before ours. */
export function isConnectTimeout(code: string): boolean {
  return code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT';
}

/**
 * A TLS failure code in plain words, code kept: "Test connection" and the
 * gateway say the same thing, and neither ever retries without verification.
 */
export function tlsFailureReason(code: string): string {
  if (/SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) return `the site's certificate is not signed by a trusted CA (${code}); add the site's CA certificate`;
  if (/EXPIRED|NOT_YET_VALID/.test(code)) return `the site's certificate is outside its validity period (${code})`;
  if (/ALTNAME|HOSTNAME/.test(code)) return `the site's certificate is for another host name (${code})`;
  return code;
}

/** OpenSSL / Node codes for a certificate the client does not trust, or a failed handshake. */
export function isTlsFailure(code: string): boolean {
  return (
    /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME_MISMATCH/.test(code) ||
    code === 'ERR_TLS_CERT_ALTNAME_INVALID'
  );
}
