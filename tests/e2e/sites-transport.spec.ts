import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { startWebHostProcess } from '../support/e2e/web-host-process';
import type { WebHostProcess } from '../support/e2e/web-host-process';
import { unlockHost } from '../support/e2e/unlock';

// The Sites panel's transport rules in Chromium, against the built browser
// host: plain HTTP to another machine needs the user's explicit consent
// before anything is saved or sent, the form says what protects site
// passwords on this host, and a certificate the app does not trust is shown
// as such by "Test connection".
test.describe.configure({ mode: 'serial' });

// TEST-NET-1 (RFC 5737): never routed, so any attempt to reach it would hang, not answer.
const REMOTE_HTTP_URL = 'http://192.0.2.10/dicom-web';

let host: WebHostProcess;
let tmp: string;
let page: Page;
let upstream: HttpsServer;
let httpsUrl: string;
const browserRequests: string[] = [];

test.beforeAll(async ({ browser }) => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-e2e-sites-'));
  // A DICOMweb-shaped https server whose certificate is signed by a CA the app has not been given.
  const tls = path.join(tmp, 'tls');
  mkdirSync(tls);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: tls, stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Telerad E2E Untrusted CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(path.join(tls, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
  upstream = createHttpsServer({ key: readFileSync(path.join(tls, 'server.key')), cert: readFileSync(path.join(tls, 'server.pem')) }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[]');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  httpsUrl = `https://127.0.0.1:${(upstream.address() as AddressInfo).port}/dicom-web`;

  host = await startWebHostProcess(['--data-dir', path.join(tmp, 'data')]);
  await unlockHost(host);
  page = await browser.newPage();
  page.on('request', (req) => browserRequests.push(req.url()));
  await page.goto(host.url);
  await page.getByTestId('sites-button').click();
  await expect(page.getByTestId('sites-panel')).toBeVisible();
});

test.afterAll(async () => {
  await page?.close();
  await host?.stop();
  upstream?.closeAllConnections();
  await new Promise((resolve) => upstream?.close(resolve));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function listedSites(): Promise<Array<{ name: string; url: string; allowInsecureHttp?: boolean }>> {
  const res = await fetch(`${host.origin}/api/sites.list`, {
    method: 'POST',
    headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' },
    body: '{}',
  });
  const envelope = (await res.json()) as { ok: boolean; value: Array<{ name: string; url: string; allowInsecureHttp?: boolean }> };
  expect(envelope.ok).toBe(true);
  return envelope.value;
}

test('says what protects site passwords in the browser host: an owner-only file, not encryption', async () => {
  await page.getByTestId('site-add').click();
  const form = page.getByTestId('site-form');
  await form.getByLabel('User name and password').check();
  const notice = form.getByTestId('secret-protection');
  await expect(notice).toHaveAttribute('data-kind', 'owner-only-file');
  await expect(notice).toContainText('has no keyring');
  await expect(notice).toContainText('stored unencrypted in');
  await expect(notice).toContainText(path.join(tmp, 'data', 'secrets.json'));
  await expect(notice).toContainText('mode 0600');
  // No keyring choice exists here, so none is offered.
  await expect(notice.getByRole('checkbox')).toHaveCount(0);
  await form.getByRole('button', { name: 'Cancel' }).click();
});

test('plain HTTP to another machine: warned, refused until consent is ticked, then listed as unencrypted — and nothing sent before saving', async () => {
  await page.getByTestId('site-add').click();
  const form = page.getByTestId('site-form');
  await form.locator('input[name="name"]').fill('Remote clinic over HTTP');
  await form.locator('input[name="url"]').fill(REMOTE_HTTP_URL);
  const warning = form.getByTestId('insecure-http-warning');
  await expect(warning).toBeVisible();
  await expect(warning).toContainText('unencrypted');
  await form.getByLabel('None').check();

  await form.getByTestId('site-save').click();
  await expect(warning).toContainText('Tick this to send patient data unencrypted to this site');
  await expect(form).toBeVisible();
  expect(await listedSites()).toEqual([]);
  await expect(page.getByTestId('site-row')).toHaveCount(0);

  // Up to here the address existed only in the form: neither the browser nor the host went near it.
  expect(browserRequests.filter((u) => u.includes('192.0.2.10'))).toEqual([]);
  expect(host.output()).not.toContain('192.0.2.10');
  expect(host.output()).not.toContain('remote-clinic');

  await form.getByLabel('Send patient data unencrypted to this site').check();
  await form.getByTestId('site-save').click();
  await expect(form).toHaveCount(0);
  const row = page.getByTestId('site-row').filter({ hasText: 'Remote clinic over HTTP' });
  await expect(row).toBeVisible();
  await expect(row.getByTestId('site-unencrypted')).toHaveText('unencrypted');
  expect(await listedSites()).toEqual([expect.objectContaining({ name: 'Remote clinic over HTTP', url: REMOTE_HTTP_URL, allowInsecureHttp: true })]);
  // The browser itself never talks to a site: everything goes through the host's gateway.
  expect(browserRequests.filter((u) => u.includes('192.0.2.10'))).toEqual([]);
});

test('"Test connection" shows a certificate the app does not trust as a TLS error, in words', async () => {
  await page.getByTestId('site-add').click();
  const form = page.getByTestId('site-form');
  await form.locator('input[name="name"]').fill('Hospital with its own CA');
  await form.locator('input[name="url"]').fill(httpsUrl);
  await expect(form.getByTestId('insecure-http-warning')).toHaveCount(0);
  await form.getByLabel('None').check();
  await form.getByTestId('site-save').click();
  await expect(form).toHaveCount(0);

  const row = page.getByTestId('site-row').filter({ hasText: 'Hospital with its own CA' });
  await expect(row.getByTestId('site-unencrypted')).toHaveCount(0);
  await row.getByTestId('site-test').click();
  const result = row.getByTestId('site-test-result');
  await expect(result).toHaveAttribute('data-state', 'failed');
  await expect(result).toHaveAttribute('data-failure', 'tls');
  await expect(result).toContainText("TLS certificate error: the site's certificate is not signed by a trusted CA");
  await expect(result).toContainText('add the site');
});
