import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GATEWAY_ERROR_HEADER } from '../../../src/shared/gateway';
import { classifyGatewayAnswer } from '../../../src/shared/gateway-answer';
import { CONTENT_SECURITY_POLICY, GATEWAY_ANSWER_CONTENT_SECURITY_POLICY, contentSecurityPolicyFor } from '../../../src/shared/csp';
import { createLogger, memorySink } from '../../../src/shared/log';
import { createSiteGateway } from '../../../src/main/services/sites/site-gateway';
import type { SiteDirectory } from '../../../src/main/services/sites/sites-service';
import { createAppProtocolHandler } from '../../../src/main/hosts/electron/app-protocol';
import { SECURITY_HEADERS } from '../../../src/main/hosts/security-headers';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import type { WebHost } from '../../../src/main/hosts/web/web-host';
import { hostValue, startTestWebHost } from '../../support/web-host-api';

// Issue 18: a site's answer must never run as the app. The gateway answers on
// the app's own origin, so whatever a site sends — an HTML page with a script,
// a script, a style sheet, an SVG — would otherwise be a document or a script
// of the app, able to call /api with the user's session.

const HOSTILE_HTML = "<!doctype html><script>window.parent.__pwned = 1; window.__pwned = 1; fetch('/api/sites.list', {method:'POST'})</script>";

let site: Server;
let siteUrl: string;
let seen: string[];
let respond: (req: IncomingMessage, res: ServerResponse) => void;

beforeEach(async () => {
  seen = [];
  respond = (_req, res) => void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(HOSTILE_HTML);
  site = createServer((req, res) => {
    seen.push(req.url ?? '');
    respond(req, res);
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/dicom-web`;
});

afterEach(async () => {
  site.closeAllConnections();
  await new Promise((r) => site.close(r));
});

function gateway(): { call: (path: string, init?: RequestInit) => Promise<Response>; log: ReturnType<typeof memorySink> } {
  const sites: SiteDirectory = {
    find: async (id) => (id === 'hostile' ? { id, name: 'Hostile', url: siteUrl } : undefined),
    authHeaders: async () => ({ authorization: 'Basic eDp5' }),
  };
  const log = memorySink();
  const handler = createSiteGateway({ sites, log: createLogger('gw', log) });
  return { call: (path, init) => handler(new Request(`http://127.0.0.1:1${path}`, init)), log };
}

function expectAnswerHeaders(res: Response): void {
  expect(res.headers.get('content-security-policy')).toBe("sandbox; default-src 'none'");
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(res.headers.get('content-disposition')).toBe('attachment');
}

describe('gateway answers: a content-type allowlist and headers that keep them from running', () => {
  it('refuses a site answering text/html with a script: 502 FORBIDDEN in the JSON error shape, logged, the page never passed on', async () => {
    const gw = gateway();
    const res = await gw.call('/sites/hostile/dicom-web/studies');
    expect(seen).toEqual(['/dicom-web/studies']);
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get(GATEWAY_ERROR_HEADER)).toBe('FORBIDDEN');
    const text = await res.text();
    expect(text).not.toContain('<script');
    const body = JSON.parse(text) as { code: string; message: string };
    expect(body.code).toBe('FORBIDDEN');
    expect(body.message).toContain('text/html');
    expect(body.message).toContain('Hostile');
    expectAnswerHeaders(res);
    // The renderer reads it as the gateway's refusal, not a site failure worth retrying.
    expect(classifyGatewayAnswer(res.status, body.code)).toEqual({ family: 'gateway-refused', retryable: false });
    const lines = gw.log.records.map((r) => `${r.level} ${r.message}`).join('\n');
    expect(lines).toMatch(/warn .*hostile.*text\/html/i);
    expect(lines).toMatch(/GET hostile \/studies 502 \d+ms/);
  });

  it.each([
    'application/javascript',
    'text/javascript; charset=utf-8',
    'text/css',
    'image/svg+xml',
    'text/xml',
    'application/xml',
    'application/dicom+xml',
    'application/xhtml+xml',
    'text/plain',
    'application/pdf',
    'text/html, application/json',
  ])('refuses a successful answer of type %s with 502 FORBIDDEN', async (type) => {
    respond = (_req, res) => void res.writeHead(200, { 'content-type': type }).end("alert('x')");
    const res = await gateway().call('/sites/hostile/dicom-web/studies/1.2/series/3.4/instances/5.6/rendered');
    expect(res.status).toBe(502);
    expect(res.headers.get(GATEWAY_ERROR_HEADER)).toBe('FORBIDDEN');
    expect(await res.text()).not.toContain('alert');
    expectAnswerHeaders(res);
  });

  it('passes an application/dicom+json answer with the three headers, over any the site sent', async () => {
    respond = (_req, res) =>
      void res
        .writeHead(200, {
          'content-type': 'application/dicom+json',
          'content-security-policy': "default-src * 'unsafe-inline'",
          'content-disposition': 'inline',
          'x-content-type-options': 'sniff-away',
        })
        .end('[{"0020000D":{"vr":"UI","Value":["1.2.3"]}}]');
    const res = await gateway().call('/sites/hostile/dicom-web/studies', { headers: { accept: 'application/dicom+json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/dicom+json');
    expectAnswerHeaders(res);
    expect(await res.json()).toHaveLength(1);
  });

  it.each([
    'application/dicom',
    'application/json; charset=utf-8',
    'multipart/related; type="application/dicom"; boundary=abc',
    'multipart/related; type="application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"; boundary=abc',
    'application/octet-stream',
    'image/jpeg',
    'image/png',
    'image/jls',
    'image/jp2',
    'image/gif',
    'image/webp',
    'IMAGE/JPEG',
  ])('passes a %s answer untouched but for the headers', async (type) => {
    respond = (_req, res) => void res.writeHead(200, { 'content-type': type }).end('bytes');
    const res = await gateway().call('/sites/hostile/dicom-web/studies/1.2/series/3.4/instances/5.6/frames/1');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
    expect(await res.text()).toBe('bytes');
    expectAnswerHeaders(res);
  });

  it("keeps a site's error status but drops a body it may not pass on, so the renderer still reads the site's 404", async () => {
    respond = (_req, res) => void res.writeHead(404, { 'content-type': 'text/html' }).end(HOSTILE_HTML);
    const res = await gateway().call('/sites/hostile/dicom-web/studies/1.2.3/metadata');
    expect(res.status).toBe(404);
    expect(res.headers.get(GATEWAY_ERROR_HEADER)).toBeNull();
    expect(res.headers.get('content-type')).toBeNull();
    expect(await res.text()).toBe('');
    expectAnswerHeaders(res);
  });

  it('passes the 200 of a STOW answered with a page as a status without its body: stored, answer unreadable', async () => {
    respond = (_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end(HOSTILE_HTML);
    const res = await gateway().call('/sites/hostile/dicom-web/studies', { method: 'POST', headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=b' }, body: '--b--' });
    expect(res.status).toBe(200);
    expect(res.headers.get(GATEWAY_ERROR_HEADER)).toBeNull();
    expect(res.headers.get('content-type')).toBeNull();
    expect(await res.text()).toBe('');
    expectAnswerHeaders(res);
  });

  it("passes an error body without a type (Orthanc's JSON errors) labelled as bytes, so nothing sniffs it", async () => {
    respond = (_req, res) => void res.writeHead(404).end('{"HttpError":"Not Found","HttpStatus":404}');
    const res = await gateway().call('/sites/hostile/dicom-web/studies/1.2.3/metadata');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(await res.text()).toContain('HttpError');
    expectAnswerHeaders(res);
  });

  it("puts the headers on the gateway's own errors and on preview batches too", async () => {
    const gw = gateway();
    expectAnswerHeaders(await gw.call('/sites/hostile/dicom-web/tools/execute-script'));
    expectAnswerHeaders(await gw.call('/sites/nowhere/dicom-web/studies'));
    const batch = await gw.call('/sites/hostile/previews', {
      method: 'POST',
      body: JSON.stringify({ studyInstanceUID: '1.2', items: [{ seriesInstanceUID: '3.4', sopInstanceUID: '5.6' }], viewport: { width: 64, height: 64 }, quality: 50 }),
    });
    expect(batch.status).toBe(200);
    expectAnswerHeaders(batch);
    const parts = await batch.text();
    expect(parts).not.toContain('<script');
    expect(parts).toContain(`${GATEWAY_ERROR_HEADER}: FORBIDDEN`);
  });
});

describe('gateway answers as the two hosts serve them', () => {
  let tmp: string;
  let host: WebHost;
  let hostile: SiteSummary;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'telerad-answer-headers-'));
    host = await startTestWebHost(tmp);
  });

  afterAll(async () => {
    await host?.services.sites.close();
    await host?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('the browser host keeps the sandbox policy on a gateway answer', async () => {
    hostile = await hostValue<SiteSummary>(host, 'sites.add', { name: 'Hostile', url: siteUrl, auth: { type: 'none' } });
    const res = await fetch(`${host.origin}${hostile.gatewayPath}/studies`, { headers: { 'x-telerad-token': host.token } });
    expect(res.status).toBe(502);
    expect(res.headers.get(GATEWAY_ERROR_HEADER)).toBe('FORBIDDEN');
    expect(res.headers.get('content-security-policy')).toContain("sandbox; default-src 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-disposition')).toBe('attachment');
    expect(await res.text()).not.toContain('<script');
  });

  it('the Electron protocol handler keeps the sandbox policy on a gateway answer', async () => {
    const root = mkdtempSync(join(tmpdir(), 'telerad-answer-proto-'));
    try {
      mkdirSync(join(root, 'renderer'));
      writeFileSync(join(root, 'renderer', 'index.html'), '<!doctype html><title>Telerad</title>');
      const sites: SiteDirectory = {
        find: async (id) => (id === 'hostile' ? { id, name: 'Hostile', url: siteUrl } : undefined),
        authHeaders: async () => ({}),
      };
      const handler = createAppProtocolHandler({
        rendererDir: join(root, 'renderer'),
        gateway: createSiteGateway({ sites, log: createLogger('gw', memorySink()) }),
        log: createLogger('proto', memorySink()),
      });
      const res = await handler(new Request('telerad://app/sites/hostile/dicom-web/studies'));
      expect(res.status).toBe(502);
      expect(res.headers.get('content-security-policy')).toContain("sandbox; default-src 'none'");
      expect(res.headers.get('content-disposition')).toBe('attachment');
      const page = await handler(new Request('telerad://app/index.html'));
      expect(page.headers.get('content-security-policy')).not.toContain('sandbox');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("the page's policy: nothing under /sites/ can be a script, a style or a frame", () => {
  const directive = (policy: string, name: string): string | undefined =>
    policy
      .split(';')
      .map((d) => d.trim())
      .find((d) => d.startsWith(`${name} `));

  it('forbids frames and plugins outright, and keeps images and fetches of /sites/ working', () => {
    expect(directive(CONTENT_SECURITY_POLICY, 'frame-src')).toBe("frame-src 'none'");
    expect(directive(CONTENT_SECURITY_POLICY, 'child-src')).toBe("child-src 'none'");
    expect(directive(CONTENT_SECURITY_POLICY, 'object-src')).toBe("object-src 'none'");
    expect(directive(CONTENT_SECURITY_POLICY, 'img-src')).toBe("img-src 'self' data: blob:");
    expect(directive(CONTENT_SECURITY_POLICY, 'connect-src')).toBe("connect-src 'self'");
  });

  it.each(['http://127.0.0.1:43123', 'http://localhost:43123', 'telerad://app'])(
    'for the origin %s, adds a second policy that allows scripts, styles and workers from its /assets/ only',
    (origin) => {
      const served = contentSecurityPolicyFor('/index.html', origin);
      const [page, assetsOnly] = served.split(',').map((p) => p.trim());
      expect(page).toBe(CONTENT_SECURITY_POLICY);
      expect(directive(assetsOnly!, 'script-src')).toBe(`script-src ${origin}/assets/ 'wasm-unsafe-eval'`);
      expect(directive(assetsOnly!, 'style-src')).toBe(`style-src ${origin}/assets/`);
      expect(directive(assetsOnly!, 'worker-src')).toBe(`worker-src ${origin}/assets/`);
      expect(served).not.toMatch(/\*|'unsafe-inline'|'unsafe-eval'/);
      expect(served).not.toContain('/sites/');
    },
  );

  it('never builds a policy from an origin that is not one', () => {
    expect(contentSecurityPolicyFor('/index.html', "http://x; script-src 'unsafe-inline'")).toBe(CONTENT_SECURITY_POLICY);
    expect(contentSecurityPolicyFor('/index.html', 'null')).toBe(CONTENT_SECURITY_POLICY);
  });

  it("puts the answers' sandbox on every response that is not one of the app's files", () => {
    const policy = SECURITY_HEADERS['content-security-policy'] ?? '';
    expect(policy.split(',')[0]?.trim()).toBe(GATEWAY_ANSWER_CONTENT_SECURITY_POLICY);
    expect(policy).toContain(CONTENT_SECURITY_POLICY);
  });
});
