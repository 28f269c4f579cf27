import type { GatewayErrorBody } from '../../../shared/gateway';
import {
  GATEWAY_ERROR_HEADER,
  PREVIEW_PART_STATUS_HEADER,
  PreviewBatchRequestSchema,
  gatewayPathForSite,
  isAllowedGatewayMethod,
  isDicomWebPath,
  parseGatewayPath,
  parsePreviewBatchPath,
} from '../../../shared/gateway';
import type { PreviewBatchRequest } from '../../../shared/gateway';
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

  /** Whether each site rendered the last preview asked of it (the preview batches learn it once). */
  const renders = new Map<string, boolean>();
  const gateway: SiteGateway = async (request) => {
    const started = Date.now();
    const url = new URL(request.url);
    const method = request.method.toUpperCase();
    const batchSite = parsePreviewBatchPath(url.pathname);
    if (batchSite !== undefined) {
      const response = await previewBatch(request, batchSite, gateway, options, renders);
      log.info(`${method} ${batchSite} /previews ${response.status} ${Date.now() - started}ms`);
      return response;
    }
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
  return gateway;
}

/** Statuses by which a site says it does not render (PS3.18 §8.3.5: 400/404/406/501 and a method it lacks). */
const RENDERING_REFUSED = new Set([400, 404, 405, 406, 501]);
/** Requests to the site at once for one preview batch (two batches in flight make sixteen). */
const PREVIEW_BATCH_CONCURRENCY = 8;
/** The largest batch request body read (a full batch of UIDs is ≈ 6 kB). */
const PREVIEW_BATCH_MAX_BODY = 64 * 1024;
/** The largest preview passed on; a 256-pixel JPEG is a few kB. */
const PREVIEW_MAX_BYTES = 4 * 1024 * 1024;

/**
 * `POST /sites/<id>/previews` (shared/gateway.ts): each item is asked of the
 * site through this very gateway — `/dicom-web/studies/…/rendered`, so the
 * allowlist, credentials, timeouts and error codes are those of any other
 * request — eight at a time, and each answer goes out as one part of a
 * multipart/related body as soon as it is in. Nothing but /rendered is ever
 * asked, and nothing is kept.
 */
async function previewBatch(
  request: Request,
  siteId: string,
  gateway: SiteGateway,
  options: SiteGatewayOptions,
  renders: Map<string, boolean>,
): Promise<Response> {
  if (request.method.toUpperCase() !== 'POST') return gatewayError(403, { code: 'FORBIDDEN', message: 'Previews are asked with POST' });
  let parsed: PreviewBatchRequest;
  try {
    const text = await request.text();
    if (text.length > PREVIEW_BATCH_MAX_BODY) throw new Error('the request is too large');
    parsed = PreviewBatchRequestSchema.parse(JSON.parse(text));
  } catch (err) {
    return gatewayError(400, { code: 'BAD_REQUEST', message: `Not a preview batch: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}` });
  }
  if (!(await options.sites.find(siteId))) return gatewayError(404, { code: 'NOT_FOUND', message: `Unknown site "${siteId}"` });
  const origin = new URL(request.url).origin;
  const base = `${origin}${gatewayPathForSite(siteId)}/studies/${parsed.studyInstanceUID}`;
  const query = `viewport=${parsed.viewport.width},${parsed.viewport.height}&quality=${parsed.quality}`;
  const boundary = `telerad-previews-${crypto.randomUUID()}`;
  const encoder = new TextEncoder();
  const items = [...parsed.items];
  const stream = new ReadableStream<Uint8Array>({
    async start(ctrl) {
      const part = (headers: Record<string, string>, body: Uint8Array): void => {
        const head = Object.entries(headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('');
        ctrl.enqueue(encoder.encode(`--${boundary}\r\n${head}\r\n`));
        ctrl.enqueue(body);
        ctrl.enqueue(encoder.encode('\r\n'));
      };
      // The site's own refusal of /rendered (it has no such resource, or not for this object) answers
      // the rest of the batch without asking again: a site without rendering is not asked 32 times.
      // So does a refused login: a wrong password is not tried 32 times (a PACS may lock the account).
      let refusedWith: { status: number; code: string | null } | undefined;
      const one = async (item: PreviewBatchRequest['items'][number]): Promise<void> => {
        let status = 0;
        let code: string | null = null;
        let type = 'application/octet-stream';
        let body = new Uint8Array(0);
        if (refusedWith !== undefined) {
          ({ status, code } = refusedWith);
          type = 'text/plain';
        } else try {
          const res = await gateway(
            new Request(`${base}/series/${item.seriesInstanceUID}/instances/${item.sopInstanceUID}/rendered?${query}`, {
              headers: { accept: 'image/jpeg' },
              signal: request.signal,
            }),
          );
          status = res.status;
          code = res.headers.get(GATEWAY_ERROR_HEADER);
          if (status === 200) renders.set(siteId, true);
          else if (code === 'SITE_AUTH_FAILED') refusedWith = { status, code };
          else if (code === null && RENDERING_REFUSED.has(status) && renders.get(siteId) !== true) {
            // Not known to render, and refused: the site does not render (a site that does answers a single
            // missing instance 404, and only that one).
            renders.set(siteId, false);
            refusedWith = { status, code: null };
          }
          type = res.headers.get('content-type') ?? type;
          const bytes = new Uint8Array(await res.arrayBuffer());
          if (bytes.byteLength > PREVIEW_MAX_BYTES) {
            status = 502;
            code = 'SITE_UNREACHABLE';
            type = 'text/plain';
          } else body = bytes;
        } catch {
          if (request.signal.aborted) return;
          status = 502;
          code = 'SITE_UNREACHABLE';
        }
        part(
          {
            'Content-Type': type,
            'Content-Location': item.sopInstanceUID,
            [PREVIEW_PART_STATUS_HEADER]: String(status),
            ...(code ? { [GATEWAY_ERROR_HEADER]: code } : {}),
          },
          body,
        );
      };
      // A site not known to render is asked one preview first: one that does not is then asked once, not eight times.
      if (renders.get(siteId) !== true) {
        const first = items.shift();
        if (first) await one(first);
      }
      const workers = Array.from({ length: Math.min(PREVIEW_BATCH_CONCURRENCY, items.length) }, async () => {
        for (let item = items.shift(); item; item = items.shift()) {
          if (request.signal.aborted) return;
          await one(item);
        }
      });
      await Promise.all(workers);
      if (!request.signal.aborted) {
        ctrl.enqueue(encoder.encode(`--${boundary}--\r\n`));
        ctrl.close();
      }
    },
  });
  return new Response(stream, {
    status: 200,
    headers: { 'content-type': `multipart/related; type="image/jpeg"; boundary=${boundary}`, 'cache-control': 'no-store' },
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
