import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { startWebHostProcess } from '../support/e2e/web-host-process';
import type { WebHostProcess } from '../support/e2e/web-host-process';

// Issue 18: the launch token was traded for a cookie, and cookies are not port-scoped, so every other
// server on 127.0.0.1 received it. Now the page keeps the token itself and sends it as a header to its
// own /api and /sites only; the link's fragment leaves the address bar as soon as the page runs.
test.describe.configure({ mode: 'serial' });

let host: WebHostProcess;
let tmp: string;
let listener: Server;
let listenerOrigin: string;
/** Everything the other local server was sent: URL and headers of every request. */
const listenerSaw: Array<{ url: string; headers: IncomingHttpHeaders }> = [];

test.beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-e2e-token-'));
  host = await startWebHostProcess(['--data-dir', path.join(tmp, 'data')]);
  // Another local server, as any program on this machine could run: it serves a page that reports what it
  // can see of the app (its storage, its name, the referrer) back to itself.
  listener = createServer((req, res) => {
    listenerSaw.push({ url: req.url ?? '', headers: req.headers });
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(
        `<!doctype html><script>
          const seen = JSON.stringify({ name: window.name, storage: Object.entries(sessionStorage), referrer: document.referrer, cookie: document.cookie });
          fetch('/report', { method: 'POST', body: seen }).then(() => { document.title = 'reported'; });
          new Image().src = '/pixel.gif';
        </script>`,
      );
      return;
    }
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      listenerSaw.push({ url: `${req.url ?? ''} ${body}`, headers: {} });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  listenerOrigin = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
});

test.afterAll(async () => {
  await host?.stop();
  listener?.closeAllConnections();
  await new Promise((resolve) => listener?.close(resolve));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('the token leaves the address bar at once, travels only as a header to /api and /sites, and no cookie is set', async ({ page, context }) => {
  const toHost: Array<{ path: string; token: string | undefined }> = [];
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.origin === host.origin) toHost.push({ path: url.pathname, token: req.headers()['x-telerad-token'] });
  });
  await page.goto(host.url);
  await expect(page.locator('.app-header')).toBeVisible({ timeout: 30_000 });

  expect(page.url()).toBe(`${host.origin}/`);
  expect(await page.evaluate(() => location.href)).not.toContain(host.token);
  expect(await context.cookies()).toEqual([]);
  expect(await page.evaluate(() => document.cookie)).toBe('');
  // The app talked to its host with the token in the header; its own files were fetched without it.
  expect(toHost.some((r) => r.path.startsWith('/api/') && r.token === host.token)).toBe(true);
  expect(toHost.filter((r) => r.path.startsWith('/assets/')).every((r) => r.token === undefined)).toBe(true);
  expect(toHost.filter((r) => r.path.startsWith('/api/')).every((r) => r.token === host.token)).toBe(true);
});

test('a local listener on another port receives no token, whether the app tab goes there or another tab does', async ({ page, context }) => {
  await page.goto(host.url);
  await expect(page.locator('.app-header')).toBeVisible({ timeout: 30_000 });
  // The app's tab navigates to the other server (same site for cookies: only the port differs)…
  await page.goto(`${listenerOrigin}/`);
  await expect(page).toHaveTitle('reported');
  // …and a second tab of the same browser opens it too.
  const other = await context.newPage();
  await other.goto(`${listenerOrigin}/`);
  await expect(other).toHaveTitle('reported');

  expect(listenerSaw.length).toBeGreaterThanOrEqual(4);
  const everything = JSON.stringify(listenerSaw);
  expect(everything).not.toContain(host.token);
  expect(listenerSaw.some((r) => r.headers.cookie !== undefined)).toBe(false);
  expect(listenerSaw.some((r) => r.headers['x-telerad-token'] !== undefined)).toBe(false);
});

test('a reload keeps the session in its tab; a new tab without the link gets no data and says to open the link', async ({ page, context }) => {
  await page.goto(host.url);
  await expect(page.locator('.app-header')).toBeVisible({ timeout: 30_000 });
  await page.reload();
  await expect(page.locator('.app-header')).toBeVisible({ timeout: 30_000 });

  const fresh = await context.newPage();
  const answers: number[] = [];
  fresh.on('response', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/')) answers.push(r.status());
  });
  await fresh.goto(`${host.origin}/`);
  await expect(fresh.getByTestId('no-launch-token')).toContainText('Open the link the browser host printed');
  expect(answers).toEqual([]);
  // Whatever a page without the token tries on the API is refused.
  const status = await fresh.evaluate(async () => (await fetch('/api/vault.keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status);
  expect(status).toBe(401);
});
