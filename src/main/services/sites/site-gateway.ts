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
import { GATEWAY_ANSWER_CONTENT_SECURITY_POLICY } from '../../../shared/csp';
import type { Logger } from '../../../shared/log';
import type { SiteConnection, SiteConnectionSite, SiteDirectory } from './sites-service';
import { isUnencryptedRemoteUrl, plainHttpRefusal } from '../../../shared/sites/plain-http';
import { forwardToSite, gatewayError } from './site-forward';
import type { LockState, LockedGatewayAccess } from '../vault/locked-channel-policy';
import { GATEWAY_LOCKED_STATUS, keepOnlySopInstanceUids, lockedGatewayAccess } from '../vault/locked-channel-policy';

export { gatewayError } from './site-forward';
export { describeNetworkError, isConnectTimeout, isTlsFailure, tlsFailureReason } from './network-errors';

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
  /** The vault: while it is locked only the outbox's STOW-RS passes (locked-channel-policy.ts); without it nothing is refused for the lock. */
  lock?: LockState;
}

export const DEFAULT_GATEWAY_TIMEOUT_MS = 30_000;

/**
 * Set over whatever a site sent, on every answer of the gateway (issue 18):
 * it answers on the app's origin, so a site's answer must never become a
 * page, a script or a style of the app. A sandboxed policy that loads
 * nothing should a browser ever render one, no sniffing of a type into
 * another, and a download instead of a page when one is navigated to. None
 * of them changes a fetch, an XHR or an <img>, which is how the renderer
 * reads every answer.
 */
export const GATEWAY_ANSWER_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': GATEWAY_ANSWER_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'content-disposition': 'attachment',
};

function withAnswerHeaders(response: Response): Response {
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(GATEWAY_ANSWER_HEADERS)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/**
 * The site gateway: `/sites/<id>/dicom-web/<rest>` on the app origin →
 * `<site.url><rest>?<query>` at the site, with the site's credentials and a
 * timeout, for DICOMweb resources only. Response bodies of the types a
 * DICOMweb answer has (site-forward.ts) are streamed through untouched, so a
 * multi-hundred-megabyte WADO-RS retrieve never sits in main's memory, and
 * every answer carries GATEWAY_ANSWER_HEADERS.
 */
export function createSiteGateway(options: SiteGatewayOptions): SiteGateway {
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_GATEWAY_TIMEOUT_MS;
  const defaultIdleTimeoutMs = options.idleTimeoutMs ?? defaultTimeoutMs;
  const log = options.log;

  /** Whether each site rendered the last preview asked of it (the preview batches learn it once). */
  const renders = new Map<string, boolean>();
  const gateway: SiteGateway = async (request) => withAnswerHeaders(await answer(request));
  const answer: SiteGateway = async (request) => {
    const started = Date.now();
    const url = new URL(request.url);
    const method = request.method.toUpperCase();
    const locked: LockedGatewayAccess = options.lock ? lockedGatewayAccess(method, parseGatewayPath(url.pathname)?.rest, url.searchParams, options.lock) : { kind: 'open' };
    if (locked.kind === 'refused') {
      log.info(`${method} ${url.pathname.split('/')[2] ?? '-'} refused while locked`);
      return gatewayError(GATEWAY_LOCKED_STATUS, locked.body);
    }
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
    // The site and its credentials in one read (SiteDirectory.connection): a URL and secret changed together
    // must never give the new secret to the old URL.
    let site: SiteConnectionSite;
    let auth: Record<string, string>;
    let connectionFetch: typeof fetch | undefined;
    try {
      const connection = await readConnection(options.sites, siteId);
      if (!connection) return done(gatewayError(404, { code: 'NOT_FOUND', message: `Unknown site "${siteId}"` }), siteId, rest);
      ({ site, auth, fetch: connectionFetch } = connection);
    } catch (err) {
      log.error(`No usable credentials for ${siteId}`, err);
      const name = (await options.sites.find(siteId).catch(() => undefined))?.name ?? siteId;
      return done(gatewayError(502, { code: 'SITE_AUTH_FAILED', message: `No usable credentials for ${name}` }), siteId, rest);
    }
    // Defence in depth: the service refuses such a site, but sites.json may have been edited by hand.
    if (isUnencryptedRemoteUrl(site.url) && site.allowInsecureHttp !== true) {
      log.warn(`Refused to forward to ${site.id}: plain HTTP to a remote host without the user's allowance`);
      return done(gatewayError(403, { code: 'FORBIDDEN', message: `${site.name}: ${plainHttpRefusal(site.url)}` }), siteId, rest);
    }
    // The site's own Agent: connections kept alive between requests, and its custom CA if it has one.
    const siteFetch = options.fetchImpl ?? connectionFetch ?? fetch;

    const forwarded = await forwardToSite(request, {
      site,
      rest,
      search: url.search,
      method,
      siteFetch,
      auth,
      timeoutMs: site.timeouts?.connectMs ?? defaultTimeoutMs,
      idleTimeoutMs: site.timeouts?.idleMs ?? defaultIdleTimeoutMs,
      log,
      onSiteAuthFailed: options.onSiteAuthFailed,
    });
    // Locked: the outbox's instance check, its answer cut down to the SOP Instance UIDs.
    return done(locked.kind === 'sop-uids-only' ? await keepOnlySopInstanceUids(forwarded, locked.askedUids) : forwarded, siteId, rest);
  };
  return gateway;
}

/** One step where the directory offers it (SitesService); a narrow double is read in two. */
async function readConnection(sites: SiteDirectory, siteId: string): Promise<SiteConnection | undefined> {
  if (sites.connection) return sites.connection(siteId);
  const site = await sites.find(siteId);
  if (!site) return undefined;
  const auth = await sites.authHeaders(site.id);
  const siteFetch = await sites.fetchFor?.(site.id);
  return { site, auth, ...(siteFetch ? { fetch: siteFetch } : {}) };
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
