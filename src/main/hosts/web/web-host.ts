import { createReadStream } from 'node:fs';
import { createServer } from 'node:http';
import { homedir } from 'node:os';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Envelope } from '../../../shared/ipc/envelope';
import { fail } from '../../../shared/ipc/envelope';
import type { GatewayErrorBody } from '../../../shared/gateway';
import { GATEWAY_PREFIX } from '../../../shared/gateway';
import type { Logger } from '../../../shared/log';
import { Redactor } from '../../../shared/log';
import { createAppServices } from '../../services/app-services';
import type { AppServices } from '../../services/app-services';
import { createFileLogSink, mainLogPath } from '../../services/log/file-log-sink';
import { ensurePrivateDataDir } from '../../services/fs/private-json-file';
import { FileSecretStore } from '../../services/secrets/file-secret-store';
import { loadProvisioningFile } from '../../services/sites/provisioning';
import { defaultUnlockAttemptsDir } from '../../services/vault/unlock-attempts';
import { assertAuditTransportAllowed, effectiveAuditRepository, loadAppSettings } from '../../services/settings/app-settings';
import { contentSecurityPolicyFor } from '../../../shared/csp';
import { SECURITY_HEADERS } from '../security-headers';
import { resolveStaticFile } from '../static-files';
import { LAUNCH_TOKEN_FRAGMENT } from '../../../shared/launch-token';
import { createLaunchToken, launchRefusal } from './launch-token';
import { sendWebResponse, streamToResponse, toWebRequest } from './node-fetch-bridge';
import type { PagePresence } from './page-presence';
import { createPagePresence } from './page-presence';
import { SYSTEM_TIMERS } from '../../services/vault/idle-lock';

export const API_PREFIX = '/api/';
/** Largest JSON body accepted on /api: contract requests are small; anything bigger is a mistake or an attack. */
export const API_BODY_LIMIT_BYTES = 1024 * 1024;

export interface WebHostOptions {
  /** Settings, sites, secrets and logs. Created 0700 when missing. */
  dataDir: string;
  /** The built renderer (index.html and assets). */
  rendererDir: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** A provisioning file to apply at start; its secrets go to `<dataDir>/secrets.json`. */
  sitesFile?: string;
  version?: string;
  /** Where log lines are echoed besides `<dataDir>/logs/main.log` (the CLI passes stderr). */
  logEcho?: { write(text: string): unknown };
  fetchImpl?: typeof fetch;
  gatewayTimeoutMs?: number;
  /**
   * The Audit Record Repository from the command line (--audit-repository,
   * --audit-ca); each part given replaces settings.json's `audit` entry.
   */
  auditRepository?: { url?: string | undefined; caCertificate?: string | undefined };
  /** Where wrong passphrases are counted outside the data folder; the user's state folder (`defaultUnlockAttemptsDir`) unless given. */
  unlockAttemptsDir?: string;
  /** No authenticated /api call for this long locks the host: no page is open (default 90 s, DEFAULT_PAGE_GONE_LOCK_MS; tests shorten it). */
  pageGoneLockMs?: number;
}

export interface WebHost {
  /** The URL to open, launch token in the fragment: `http://127.0.0.1:PORT/#token=TOKEN`. */
  url: string;
  origin: string;
  token: string;
  port: number;
  logFile: string;
  services: AppServices;
  close(): Promise<void>;
}

/**
 * The browser host: the same app services as Electron, over HTTP on
 * 127.0.0.1 only. The launch token stands in for what Electron gets from
 * being the only process that can talk to its window. It travels in the
 * `x-telerad-token` header the page adds itself, never in a cookie (a cookie
 * for 127.0.0.1 would also go to every other local port). The Host check stops
 * DNS rebinding, and the Origin/Content-Type checks stop pages served from
 * other local ports from posting to /api.
 */
export async function startWebHost(options: WebHostOptions): Promise<WebHost> {
  await ensurePrivateDataDir(options.dataDir);
  const redactor = new Redactor();
  const logFile = mainLogPath(options.dataDir);
  const sink = createFileLogSink(logFile, redactor, options.logEcho ? { echo: options.logEcho } : {});
  let started: AppServices | undefined;
  try {
    // A bad settings.json stops the start with the field named: running without the configured forwarding would hide it.
    const auditRepository = effectiveAuditRepository(await loadAppSettings(options.dataDir), {
      repository: options.auditRepository?.url,
      caCertificate: options.auditRepository?.caCertificate,
    });
    assertAuditTransportAllowed(auditRepository);
    const services = createAppServices({
      dataDir: options.dataDir,
      host: 'web',
      version: options.version ?? '0.0.0',
      secretStore: new FileSecretStore(options.dataDir, redactor),
      logSink: sink,
      redactor,
      ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
      ...(options.gatewayTimeoutMs !== undefined ? { gatewayTimeoutMs: options.gatewayTimeoutMs } : {}),
      ...(auditRepository ? { auditRepository } : {}),
      unlockAttemptsDir: options.unlockAttemptsDir ?? defaultUnlockAttemptsDir(process.env, homedir(), process.platform),
    });
    started = services;
    const log = services.log.child('web');
    if (options.sitesFile) await services.sites.provision(await loadProvisioningFile(options.sitesFile));

    const token = createLaunchToken();
    const server = createServer();
    await listen(server, options.port ?? 0);
    const port = (server.address() as AddressInfo).port;
    const origin = `http://127.0.0.1:${port}`;
    // A closed tab locks the host after a while (issue 18); the idle lock runs in services.
    const presence = createPagePresence({ vault: services.vault, timers: SYSTEM_TIMERS, log: log.child('presence'), ...(options.pageGoneLockMs !== undefined ? { goneAfterMs: options.pageGoneLockMs } : {}) });
    const handler = createRequestHandler({ services, log, token, port, rendererDir: options.rendererDir, presence });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      handler(req, res).catch((err: unknown) => {
        log.error(`Unhandled error serving ${req.method} ${pathOnly(req.url)}`, err);
        if (!res.headersSent) sendJson(res, 500, { code: 'INTERNAL', message: 'Internal error' });
        else res.destroy();
      });
    });
    log.info(`Browser host listening on ${origin}, data in ${options.dataDir}`);

    let closing: Promise<void> | undefined;
    return {
      url: `${origin}/#${LAUNCH_TOKEN_FRAGMENT}=${token}`,
      origin,
      token,
      port,
      logFile,
      services,
      close: () =>
        (closing ??= new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Streaming gateway responses and keep-alive sockets would otherwise hold close() open.
          server.closeAllConnections();
        }).then(async () => {
          presence.stop();
          services.idleLock.stop();
          // Refusals still being counted are written before the process goes.
          await services.audit.close().catch((err: unknown) => log.error('Could not flush the audit trail', err));
          // What is not forwarded yet stays in the log and goes at the next start.
          await services.auditForwarder?.close().catch((err: unknown) => log.error('Could not close audit forwarding', err));
          log.info('Browser host closed');
          sink.close();
        })),
    };
  } catch (err) {
    // A start that failed after the services (provisioning, listen) must not leave their idle interval and forwarding running.
    started?.idleLock.stop();
    await started?.auditForwarder?.close().catch((closeErr: unknown) => started?.log.error('Could not close audit forwarding', closeErr));
    sink.close();
    throw err;
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // 127.0.0.1 only: the host must never be reachable from the network.
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

interface HandlerContext {
  services: AppServices;
  log: Logger;
  token: string;
  port: number;
  rendererDir: string;
  /** Told of every /api call: a page is there (page-presence.ts). */
  presence: PagePresence;
}

function createRequestHandler(ctx: HandlerContext): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const allowedHosts = new Set([`127.0.0.1:${ctx.port}`, `localhost:${ctx.port}`]);
  const allowedOrigins = new Set([...allowedHosts].map((h) => `http://${h}`));

  return async (req, res) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    const method = (req.method ?? 'GET').toUpperCase();

    // DNS rebinding: a hostile name resolving to 127.0.0.1 still carries its own Host.
    const host = req.headers.host ?? '';
    if (!allowedHosts.has(host)) return sendJson(res, 403, { code: 'FORBIDDEN', message: 'Unexpected Host header' });
    const url = new URL(req.url ?? '/', `http://${host}`);

    // The app's own files hold no secret and need none: the page must load before it can read the token from
    // its URL fragment. Everything that reaches data (/api, the site gateway) needs the token in the header.
    const needsToken = url.pathname.startsWith(API_PREFIX) || url.pathname.startsWith(GATEWAY_PREFIX);
    const refusal = needsToken ? launchRefusal(req, ctx.token) : undefined;
    if (refusal !== undefined) return refuseToken(ctx, res, refusal);

    const requestOrigin = req.headers.origin;
    if (method !== 'GET' && method !== 'HEAD' && requestOrigin !== undefined && !allowedOrigins.has(requestOrigin)) {
      return sendJson(res, 403, { code: 'FORBIDDEN', message: 'Cross-origin request refused' });
    }

    if (url.pathname.startsWith(API_PREFIX)) return serveApi(ctx, req, res, url, method);
    if (url.pathname.startsWith(GATEWAY_PREFIX)) return serveGateway(ctx, req, res, url);
    return serveStatic(ctx, req, res, url, method);
  };
}

async function serveApi(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, url: URL, method: string): Promise<void> {
  res.setHeader('cache-control', 'no-store');
  if (method !== 'POST') {
    res.setHeader('allow', 'POST');
    return sendJson(res, 405, fail('BAD_REQUEST', 'Contract calls are POST requests'));
  }
  // Only a same-origin script can send application/json without a CORS preflight we never answer.
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (contentType !== 'application/json') {
    return sendJson(res, 415, fail('BAD_REQUEST', 'Contract calls must be sent as application/json'));
  }
  const body = await readBody(req, API_BODY_LIMIT_BYTES);
  if (body === 'too-large') {
    res.setHeader('connection', 'close');
    return sendJson(res, 413, fail('BAD_REQUEST', `Request body exceeds ${API_BODY_LIMIT_BYTES} bytes`));
  }
  let payload: unknown;
  try {
    payload = body.length === 0 ? {} : (JSON.parse(body.toString('utf8')) as unknown);
  } catch {
    return sendJson(res, 400, fail('BAD_REQUEST', 'Request body is not valid JSON'));
  }
  let channel: string;
  try {
    channel = decodeURIComponent(url.pathname.slice(API_PREFIX.length));
  } catch {
    return sendJson(res, 400, fail('BAD_REQUEST', 'Malformed channel name'));
  }
  ctx.presence.seen();
  const envelope: Envelope<unknown> = await ctx.services.dispatch(channel, payload);
  sendJson(res, 200, envelope);
}

async function serveGateway(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const browserGone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) browserGone.abort(new Error('Browser closed the connection'));
  });
  const response = await ctx.services.gateway(toWebRequest(req, url, browserGone.signal));
  try {
    await sendWebResponse(res, response, { ...SECURITY_HEADERS, 'cache-control': 'no-store' });
  } catch (err) {
    // The site stalled mid-body or the browser left: the response is already partly sent, so just end it.
    ctx.log.warn(`Gateway response for ${url.pathname} ended early`, err);
    res.destroy();
  }
}

async function serveStatic(ctx: HandlerContext, _req: IncomingMessage, res: ServerResponse, url: URL, method: string): Promise<void> {
  if (method !== 'GET' && method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return sendJson(res, 405, { code: 'FORBIDDEN', message: 'Method not allowed' });
  }
  const file = await resolveStaticFile(ctx.rendererDir, url.pathname);
  if (!file) return sendJson(res, 404, { code: 'NOT_FOUND', message: 'Not found' });
  res.writeHead(200, {
    // The origin lets the policy name the app's own asset paths, so nothing under /sites/ can be a script or style.
    'content-security-policy': contentSecurityPolicyFor(url.pathname, url.origin),
    'content-type': file.contentType,
    'content-length': String(file.size),
    // The renderer is rebuilt in place during development; always revalidate.
    'cache-control': 'no-cache',
  });
  if (method === 'HEAD') {
    res.end();
    return;
  }
  await streamToResponse(createReadStream(file.path), res);
}

/**
 * A 401 is a failed login at the browser host: it goes into the audit trail (never the token tried),
 * throttled per reason so a local process scanning the port cannot flood it.
 */
function refuseToken(ctx: HandlerContext, res: ServerResponse, reason: string): void {
  ctx.services.audit.recordSystemThrottled({ action: 'login.failed', outcome: 'failure', reason });
  unauthorized(res);
}

function unauthorized(res: ServerResponse): void {
  sendJson(res, 401, { code: 'UNAUTHORIZED', message: 'Open the URL the browser host printed at start (it carries the launch token)' });
}

function sendJson(res: ServerResponse, status: number, body: GatewayErrorBody | Envelope<unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Reads at most `limit` bytes; past that it stops reading and says so rather than buffering an attacker's upload. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      resolve('too-large');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** For log lines: the path without the query, whose values may identify a patient. */
function pathOnly(rawUrl: string | undefined): string {
  return (rawUrl ?? '').split('?')[0] ?? '';
}
