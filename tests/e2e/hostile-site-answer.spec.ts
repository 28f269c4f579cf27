import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { startWebHostProcess } from '../support/e2e/web-host-process';
import type { WebHostProcess } from '../support/e2e/web-host-process';
import { writeSitesFile } from '../support/e2e/sites-file';
import { contentSecurityPolicyFor } from '../../src/shared/csp';
import { resolveStaticFile } from '../../src/main/hosts/static-files';

// Issue 18, in Chromium against the built browser host: a site whose every
// answer is a page or a script meant to run as the app. The gateway serves
// sites on the app's own origin, so if any of it ran it could call /api with
// the user's session. Whichever way the app's origin is made to load it — a
// navigation, an iframe, a script tag, a worker — none of it may run.
test.describe.configure({ mode: 'serial' });

let host: WebHostProcess;
let tmp: string;
let page: Page;
let hostile: Server;
/** Every path the hostile site was asked for, through the gateway. */
const siteSaw: string[] = [];
/** Every call to the app's API not made by the app itself (the app's own calls are JSON). */
const apiCalls: string[] = [];
let gatewayBase: string;

/**
 * The hostile payload: it marks the page (and its parent) and calls the API,
 * and it tells the site it ran by asking it for /pwned through the gateway.
 */
function payload(): string {
  return [
    'try { window.parent.__pwned = 1; } catch (e) {}',
    'try { window.__pwned = 1; } catch (e) {}',
    'self.__pwned = 1;',
    "fetch('/api/sites.list', { method: 'POST' });",
    `fetch('${gatewayBase}/studies/pwned');`,
  ].join(' ');
}

test.beforeAll(async ({ browser }) => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-e2e-hostile-'));
  hostile = createServer((req, res) => {
    siteSaw.push(req.url ?? '');
    // A script where a script is asked for (so a script tag or a worker would run it if it got through)…
    if (req.url?.endsWith('.js')) return void res.writeHead(200, { 'content-type': 'application/javascript' }).end(payload());
    // …and an HTML page everywhere else, with the script inline and included from the gateway.
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end(`<!doctype html><script>${payload()}</script><script src="${gatewayBase}/studies/evil.js"></script>`);
  });
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  const siteUrl = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}/dicom-web`;
  const sitesFile = writeSitesFile(tmp, { dicomWebUrl: siteUrl, username: 'reader', password: 'hostile-site-password' }, 'Hostile');
  host = await startWebHostProcess(['--data-dir', path.join(tmp, 'data'), '--sites', sitesFile]);
  const list = await fetch(`${host.origin}/api/sites.list`, {
    method: 'POST',
    headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' },
    body: '{}',
  });
  const sites = (await list.json()) as { ok: boolean; value: Array<{ name: string; gatewayPath: string }> };
  const site = sites.value.find((s) => s.name === 'Hostile');
  expect(site).toBeDefined();
  gatewayBase = site!.gatewayPath;
  page = await browser.newPage();
  page.on('request', (req) => {
    const json = (req.headers()['content-type'] ?? '').startsWith('application/json');
    if (new URL(req.url()).pathname.startsWith('/api/') && !json) apiCalls.push(req.url());
  });
  // A page of the app's origin, holding the launch token as the app does (in memory, never a cookie).
  await page.goto(host.url);
});

test.afterAll(async () => {
  await page?.close();
  await host?.stop();
  hostile?.closeAllConnections();
  await new Promise((resolve) => hostile?.close(resolve));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Back on the app's page, with no mark and a clean record of requests. */
async function freshAppPage(): Promise<void> {
  await page.goto(`${host.origin}/`);
  await expect.poll(() => page.evaluate(() => document.readyState)).toBe('complete');
  siteSaw.length = 0;
  apiCalls.length = 0;
}

/** Gives a script that did get in time to run and call home, then checks that nothing did. */
async function expectNothingRan(): Promise<void> {
  await page.waitForTimeout(1500);
  expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(siteSaw.filter((p) => p.endsWith('/pwned'))).toEqual([]);
  expect(apiCalls.filter((u) => u.includes('/api/sites.list'))).toEqual([]);
}

test('a gateway answer is refused before it reaches the browser, with the headers that keep it inert', async () => {
  await freshAppPage();
  const res = await page.request.get(`${host.origin}${gatewayBase}/studies`, { headers: { 'x-telerad-token': host.token } });
  expect(res.status()).toBe(502);
  expect(res.headers()['x-telerad-error']).toBe('FORBIDDEN');
  expect(res.headers()['content-security-policy']).toContain("sandbox; default-src 'none'");
  expect(res.headers()['x-content-type-options']).toBe('nosniff');
  expect(res.headers()['content-disposition']).toBe('attachment');
  expect(await res.text()).not.toContain('<script');
  expect(siteSaw).toContain('/dicom-web/studies');
});

test('navigating the app to a gateway URL runs nothing of the site', async () => {
  await freshAppPage();
  // With Content-Disposition: attachment it is a download, not a document; either way nothing runs.
  await page.goto(`${host.origin}${gatewayBase}/studies`).catch(() => undefined);
  await expectNothingRan();
  expect(siteSaw).not.toContain('/dicom-web/studies/evil.js');
});

test('an iframe of a gateway URL runs nothing of the site', async () => {
  await freshAppPage();
  await page.evaluate((src) => {
    const frame = document.createElement('iframe');
    frame.src = src;
    document.body.append(frame);
  }, `${gatewayBase}/studies`);
  await expectNothingRan();
});

test('a script tag pointing at the gateway runs nothing of the site', async () => {
  await freshAppPage();
  await page.evaluate((srcs) => {
    for (const src of srcs) {
      const script = document.createElement('script');
      script.src = src;
      document.head.append(script);
    }
  }, [`${gatewayBase}/studies`, `${gatewayBase}/studies/evil.js`]);
  await expectNothingRan();
});

test('a worker started from the gateway runs nothing of the site', async () => {
  await freshAppPage();
  await page.evaluate((src) => {
    try {
      new Worker(src);
    } catch {
      // Refused outright by the page's policy: as good as refused later.
    }
  }, `${gatewayBase}/studies/evil.js`);
  await expectNothingRan();
});

// The page's own policy, the layer behind the gateway's allowlist: served for
// its exact origin (contentSecurityPolicyFor with the origin), the built app
// loads every script, style and worker it has without a single refusal, while
// a script, style sheet or worker under /sites/ is refused by the browser even
// if something answered there with real JavaScript or CSS.
test.describe("the page's policy for its origin", () => {
  let server: Server;
  let origin: string;
  let appPage: Page;
  const evilJs = 'window.__pwned = 1; self.__pwned = 1;';

  test.beforeAll(async ({ browser }) => {
    const rendererDir = path.resolve('dist/renderer');
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', origin);
      // A stand-in for a gateway that let a site's script or style through: the policy must still refuse it.
      if (url.pathname.startsWith('/sites/')) {
        const css = url.pathname.endsWith('.css');
        return void res.writeHead(200, { 'content-type': css ? 'text/css' : 'application/javascript' }).end(css ? 'body { display: none }' : evilJs);
      }
      if (url.pathname.startsWith('/api/')) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
      void resolveStaticFile(rendererDir, url.pathname).then((file) => {
        if (!file) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-type': file.contentType, 'content-security-policy': contentSecurityPolicyFor(url.pathname, origin) });
        res.end(readFileSync(file.path));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const context = await browser.newContext();
    await context.addInitScript(() => {
      const w = window as unknown as { __csp: string[] };
      w.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.effectiveDirective} ${e.blockedURI}`));
    });
    appPage = await context.newPage();
  });

  test.afterAll(async () => {
    await appPage?.context().close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  const violations = (): Promise<string[]> => appPage.evaluate(() => (window as unknown as { __csp: string[] }).__csp);

  test("runs the built app's own scripts and styles without a refusal, and none from /sites/", async () => {
    const loaded: string[] = [];
    appPage.on('requestfinished', (r) => loaded.push(new URL(r.url()).pathname));
    await appPage.goto(`${origin}/`);
    await expect.poll(() => loaded.some((p) => /^\/assets\/index-.*\.js$/.test(p))).toBe(true);
    await expect.poll(() => loaded.some((p) => /^\/assets\/index-.*\.css$/.test(p))).toBe(true);
    // The app's module ran: React has rendered into the root.
    await expect.poll(() => appPage.evaluate(() => document.getElementById('root')?.childElementCount ?? 0)).toBeGreaterThan(0);
    expect(await violations()).toEqual([]);

    await appPage.evaluate(() => {
      const script = document.createElement('script');
      script.src = '/sites/hostile/dicom-web/studies/evil.js';
      document.head.append(script);
      const style = document.createElement('link');
      style.rel = 'stylesheet';
      style.href = '/sites/hostile/dicom-web/studies/evil.css';
      document.head.append(style);
      try {
        new Worker('/sites/hostile/dicom-web/studies/worker.js');
      } catch {
        // Refused at once: the same as refused later.
      }
      const frame = document.createElement('iframe');
      frame.src = '/sites/hostile/dicom-web/studies';
      document.body.append(frame);
    });
    await expect.poll(violations).toHaveLength(4);
    const refused = await violations();
    expect(refused.some((v) => v.startsWith('script-src-elem') && v.includes('/sites/hostile/dicom-web/studies/evil.js'))).toBe(true);
    expect(refused.some((v) => v.startsWith('style-src-elem') && v.includes('/sites/hostile/dicom-web/studies/evil.css'))).toBe(true);
    expect(refused.some((v) => v.startsWith('worker-src') && v.includes('/sites/hostile/dicom-web/studies/worker.js'))).toBe(true);
    expect(refused.some((v) => v.startsWith('frame-src'))).toBe(true);
    expect(await appPage.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await appPage.evaluate(() => getComputedStyle(document.body).display)).not.toBe('none');
  });
});
