import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { GATEWAY_PREFIX } from '../../../shared/gateway';
import type { Logger } from '../../../shared/log';
import type { SiteGateway } from '../../services/sites/site-gateway';
import { gatewayError } from '../../services/sites/site-gateway';
import { contentSecurityPolicyFor } from '../../../shared/csp';
import { SECURITY_HEADERS } from '../security-headers';
import { resolveStaticFile } from '../static-files';
import { APP_HOST, APP_ORIGIN, APP_SCHEME } from './app-origin';

export interface AppProtocolOptions {
  rendererDir: string;
  gateway: SiteGateway;
  log: Logger;
}

/**
 * The `telerad://app/…` handler for `protocol.handle`: renderer files, and
 * the site gateway under /sites/ — the same gateway function the browser
 * host serves. Pure Node and WHATWG types, so it is tested without Electron.
 */
export function createAppProtocolHandler(options: AppProtocolOptions): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) {
      return withSecurityHeaders(gatewayError(404, { code: 'NOT_FOUND', message: 'Not found' }));
    }
    if (url.pathname.startsWith(GATEWAY_PREFIX)) {
      const response = await options.gateway(request);
      return withSecurityHeaders(response, { 'cache-control': 'no-store' });
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return withSecurityHeaders(gatewayError(405, { code: 'FORBIDDEN', message: 'Method not allowed' }));
    }
    const file = await resolveStaticFile(options.rendererDir, url.pathname);
    if (!file) {
      options.log.warn(`No renderer file for ${url.pathname}`);
      return withSecurityHeaders(gatewayError(404, { code: 'NOT_FOUND', message: 'Not found' }));
    }
    const body = request.method === 'HEAD' ? null : (Readable.toWeb(createReadStream(file.path)) as ReadableStream<Uint8Array>);
    return withSecurityHeaders(
      new Response(body, { status: 200, headers: { 'content-type': file.contentType, 'content-length': String(file.size) } }),
      { 'cache-control': 'no-cache', 'content-security-policy': contentSecurityPolicyFor(url.pathname, APP_ORIGIN) },
    );
  };
}

/** A copy of the response with the app's security headers, which win over anything a site sent. */
function withSecurityHeaders(response: Response, extra: Record<string, string> = {}): Response {
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries({ ...SECURITY_HEADERS, ...extra })) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
