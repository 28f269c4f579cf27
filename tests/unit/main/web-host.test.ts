import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest, createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startWebHost } from '../../../src/main/hosts/web/web-host';
import type { WebHost } from '../../../src/main/hosts/web/web-host';
import { unlockTestHost } from '../../support/web-host-api';

let root: string;
let host: WebHost;
let upstream: Server;
let upstreamSaw: IncomingMessage['headers'][] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'telerad-webhost-'));
  const renderer = join(root, 'renderer');
  mkdirSync(join(renderer, 'assets'), { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>Telerad</title>');
  writeFileSync(join(renderer, 'assets', 'app.mjs'), 'export {};');
  writeFileSync(join(renderer, 'assets', 'codec.wasm'), Buffer.from([0, 97, 115, 109]));
  writeFileSync(join(root, 'private.txt'), 'not for the browser');

  upstream = createServer((req, res) => {
    upstreamSaw.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[{"0020000D":{"vr":"UI","Value":["1.2.3"]}}]');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const sitesFile = join(root, 'sites.json');
  writeFileSync(
    sitesFile,
    JSON.stringify([
      { name: 'Hospital A', url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/dicom-web`, auth: { type: 'basic', username: 'reader', password: 'pw-for-unit-test' } },
    ]),
  );
  host = await startWebHost({ dataDir: join(root, 'data'), rendererDir: renderer, sitesFile, version: '9.9.9' });
  // The host answers no data channel while locked (issue 18): past the lock screen first.
  await unlockTestHost(host);
});

afterAll(async () => {
  await host.close();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
  rmSync(root, { recursive: true, force: true });
});

const withToken = (extra: Record<string, string> = {}): Record<string, string> => ({ 'x-telerad-token': host.token, ...extra });
const api = (channel: string, body: string, headers: Record<string, string> = withToken({ 'content-type': 'application/json' })): Promise<Response> =>
  fetch(`${host.origin}/api/${channel}`, { method: 'POST', headers, body });

/** Raw request, so the Host header can be anything. */
function rawGet(path: string, headers: Record<string, string>): Promise<number> {
  return rawGetWithLocation(path, headers).then((r) => r.status);
}

function rawGetWithLocation(path: string, headers: Record<string, string>): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: host.port, path, headers }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('browser host', () => {
  it('prints a URL of the form http://127.0.0.1:PORT/#token=<64 hex>: the token in the fragment, never sent in a request', () => {
    expect(host.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]{64}$/);
    expect(host.url).toBe(`${host.origin}/#token=${host.token}`);
  });

  it('serves the app\'s own files without a secret, and /api and /sites only with the token header', async () => {
    const page = await fetch(`${host.origin}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain(host.token);
    const res = await api('sites.list', '{}', { 'content-type': 'application/json' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    expect((await fetch(`${host.origin}/sites/hospital-a/dicom-web/studies`)).status).toBe(401);
  });

  it('rejects a wrong token in the header, and a right one in a cookie or the query', async () => {
    expect((await api('app.info', '{}', { 'content-type': 'application/json', 'x-telerad-token': 'x'.repeat(64) })).status).toBe(401);
    expect((await api('app.info', '{}', { 'content-type': 'application/json', cookie: `telerad_token=${host.token}` })).status).toBe(401);
    const viaQuery = await fetch(`${host.origin}/api/app.info?token=${host.token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(viaQuery.status).toBe(401);
    expect((await fetch(`${host.origin}/sites/hospital-a/dicom-web/studies`, { headers: { cookie: `telerad_token=${host.token}` } })).status).toBe(401);
  });

  it('sets no cookie, not even for a URL that carries the token in its query', async () => {
    const res = await fetch(`${host.origin}/viewer?study=1.2&token=${host.token}`, { redirect: 'manual' });
    expect(res.headers.get('set-cookie')).toBeNull();
    expect((await api('app.info', '{}')).headers.get('set-cookie')).toBeNull();
  });

  it('refuses a Host header other than 127.0.0.1:PORT or localhost:PORT (DNS rebinding)', async () => {
    expect(await rawGet('/', withToken({ host: `127.0.0.1:${host.port}` }))).toBe(200);
    expect(await rawGet('/', withToken({ host: `localhost:${host.port}` }))).toBe(200);
    expect(await rawGet('/', withToken({ host: `evil.example:${host.port}` }))).toBe(403);
    expect(await rawGet('/', withToken({ host: '127.0.0.1' }))).toBe(403);
  });

  it('serves the renderer with security headers and the right MIME types', async () => {
    const index = await fetch(`${host.origin}/`, { headers: withToken() });
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    expect(index.headers.get('referrer-policy')).toBe('no-referrer');
    expect(index.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect((await fetch(`${host.origin}/assets/codec.wasm`, { headers: withToken() })).headers.get('content-type')).toBe('application/wasm');
    expect((await fetch(`${host.origin}/assets/app.mjs`, { headers: withToken() })).headers.get('content-type')).toMatch(/^text\/javascript/);
  });

  it('does not serve files outside the renderer directory', async () => {
    for (const path of ['/%2e%2e/private.txt', '/..%2fprivate.txt', '/assets/..%2f..%2fprivate.txt']) {
      const res = await fetch(`${host.origin}${path}`, { headers: withToken() });
      expect(await res.text()).not.toContain('not for the browser');
    }
    expect((await fetch(`${host.origin}/missing.js`, { headers: withToken() })).status).toBe(404);
  });

  it('carries the contract on POST /api/<channel> as JSON envelopes, never with a secret', async () => {
    const info = await api('app.info', '{}');
    expect(info.status).toBe(200);
    expect(info.headers.get('cache-control')).toBe('no-store');
    expect(await info.json()).toEqual({ ok: true, value: { name: 'Telerad Workstation', version: '9.9.9', host: 'web' } });
    const sites = await (await api('sites.list', '{}')).text();
    expect(JSON.parse(sites)).toMatchObject({ ok: true, value: [{ id: 'hospital-a', gatewayPath: '/sites/hospital-a/dicom-web' }] });
    expect(sites).not.toContain('pw-for-unit-test');
  });

  it('answers malformed JSON with 400 BAD_REQUEST, an unknown channel with an UNKNOWN_CHANNEL envelope', async () => {
    const bad = await api('app.info', '{nope');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await (await api('fs.read', '{}')).json()).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHANNEL' } });
  });

  it('refuses API bodies over 1 MiB, non-JSON content types and cross-origin posts', async () => {
    const big = await api('log.write', JSON.stringify({ level: 'info', scope: 'x', message: 'a'.repeat(1024 * 1024 + 1) }));
    expect(big.status).toBe(413);
    expect((await api('app.info', '{}', withToken({ 'content-type': 'text/plain' }))).status).toBe(415);
    expect((await api('app.info', '{}', withToken({ 'content-type': 'application/json', origin: 'http://127.0.0.1:1' }))).status).toBe(403);
    expect((await api('app.info', '{}', withToken({ 'content-type': 'application/json', origin: host.origin }))).status).toBe(200);
  });

  it('writes renderer log lines into the main log under a renderer: scope, file mode 0600', async () => {
    await api('log.write', JSON.stringify({ level: 'warn', scope: 'viewer', message: 'decode slow; pw-for-unit-test' }));
    const lines = readFileSync(host.logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { scope: string; message: string });
    const line = lines.find((l) => l.scope === 'renderer:viewer');
    expect(line?.message).toBe('decode slow; ***');
    expect(statSync(host.logFile).mode & 0o777).toBe(0o600);
  });

  it('proxies /sites/ to the gateway without the browser\'s cookie or the launch token, with no-store', async () => {
    upstreamSaw = [];
    const res = await fetch(`${host.origin}/sites/hospital-a/dicom-web/studies`, {
      headers: withToken({ cookie: 'other=1', accept: 'application/dicom+json' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await res.json()).toHaveLength(1);
    expect(upstreamSaw[0]?.cookie).toBeUndefined();
    expect(upstreamSaw[0]?.['x-telerad-token']).toBeUndefined();
    expect(upstreamSaw[0]?.authorization).toMatch(/^Basic /);
    const forbidden = await fetch(`${host.origin}/sites/hospital-a/dicom-web/tools/execute-script`, { method: 'POST', headers: withToken(), body: 'x' });
    expect(forbidden.status).toBe(403);
  });
});

describe('browser host start that fails after the services exist', () => {
  it('stops the idle interval again when listening fails', async () => {
    const dataDir = join(root, 'data-failed-start');
    const made: unknown[] = [];
    const cleared: unknown[] = [];
    const realSet = globalThis.setInterval;
    const realClear = globalThis.clearInterval;
    const setSpy = vi.spyOn(globalThis, 'setInterval').mockImplementation(((fn: () => void, ms?: number) => {
      const handle = realSet(fn, ms);
      made.push(handle);
      return handle;
    }) as typeof setInterval);
    const clearSpy = vi.spyOn(globalThis, 'clearInterval').mockImplementation(((handle?: Parameters<typeof clearInterval>[0]) => {
      cleared.push(handle);
      realClear(handle);
    }) as typeof clearInterval);
    try {
      // The port the first host listens on is taken.
      await expect(startWebHost({ dataDir, rendererDir: join(root, 'renderer'), port: host.port, unlockAttemptsDir: join(root, 'state') })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    }
    expect(made.length).toBeGreaterThan(0);
    expect(made.filter((h) => !cleared.includes(h))).toEqual([]);
  });
});
