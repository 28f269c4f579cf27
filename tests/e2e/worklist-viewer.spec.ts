import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { markerPosition } from '../fixtures/ct-phantom';
import { loadCtStudy, startOrthanc } from '../support/orthanc';
import type { OrthancHandle } from '../support/orthanc';
import { startWebHostProcess } from '../support/e2e/web-host-process';
import type { WebHostProcess } from '../support/e2e/web-host-process';
import { probeViewportCanvas } from '../support/e2e/canvas';

// The foundation's acceptance, end to end: a real Orthanc (authentication on),
// the built browser host provisioned with --sites, Debian's Chromium.
// Serial: the later tests build on the study cached by the earlier ones.
test.describe.configure({ mode: 'serial' });

const SLICES = 24;
const PATIENT = { name: 'TESTER^ANNA', id: 'E2E-0001' };

let orthanc: OrthancHandle;
let host: WebHostProcess;
let tmp: string;
let study: { studyInstanceUID: string };
let page: Page;
const consoleErrors: string[] = [];

test.beforeAll(async ({ browser }) => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-e2e-'));
  orthanc = await startOrthanc();
  study = await loadCtStudy(orthanc, {
    patientName: PATIENT.name,
    patientId: PATIENT.id,
    studyDate: '20261120',
    slices: SLICES,
    studyDescription: 'CT CHEST',
  });
  const sitesFile = path.join(tmp, 'sites.json');
  writeFileSync(
    sitesFile,
    JSON.stringify([
      { name: 'Hospital A', url: orthanc.dicomWebUrl, auth: { type: 'basic', username: orthanc.username, password: orthanc.password } },
      { name: 'Hospital B', url: orthanc.dicomWebUrl, auth: { type: 'basic', username: orthanc.username, password: 'not-the-password' } },
    ]),
  );
  host = await startWebHostProcess(['--data-dir', path.join(tmp, 'data'), '--sites', sitesFile]);
  const context = await browser.newContext();
  // Record every Content-Security-Policy violation the app causes, from the first script on.
  await context.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}:${e.columnNumber} ${e.sample}`));
  });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
});

test.afterAll(async () => {
  await page?.context().close();
  await host?.stop();
  await orthanc?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const row = (): ReturnType<Page['locator']> => page.locator(`[data-testid="worklist-row"][data-study-uid="${study.studyInstanceUID}"]`).first();

async function expectMiddleSlicePainted(): Promise<void> {
  const viewport = page.locator('[data-testid="viewport"]');
  await expect(viewport).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  await expect(viewport).toHaveAttribute('data-image-count', String(SLICES));
  const middle = Math.floor(SLICES / 2);
  await expect(viewport).toHaveAttribute('data-image-index', String(middle));
  // The phantom draws a bright marker whose column encodes the slice index:
  // it must be bright where the middle slice has it and dark where slice 0 has it.
  const mid = markerPosition(middle, SLICES);
  const first = markerPosition(0, SLICES);
  await expect
    .poll(async () => (await probeViewportCanvas(page, { columns: 512, rows: 512 }, mid)).lumAtImagePoint, { timeout: 15_000 })
    .toBeGreaterThan(200);
  const atFirst = await probeViewportCanvas(page, { columns: 512, rows: 512 }, first);
  expect(atFirst.lumAtImagePoint).toBeLessThan(40);
  // Not a flat image: anatomy and noise make the canvas vary.
  expect(atFirst.stdDev).toBeGreaterThan(20);
}

test('a request without the launch token gets the app\'s files but no API or site answer (401)', async ({ request }) => {
  const res = await request.get(`${host.origin}/`, { maxRedirects: 0 });
  expect(res.status()).toBe(200);
  expect(await res.text()).not.toContain(host.token);
  const api = await request.post(`${host.origin}/api/sites.list`, { data: {} });
  expect(api.status()).toBe(401);
  const gateway = await request.get(`${host.origin}/sites/hospital-a/dicom-web/studies`);
  expect(gateway.status()).toBe(401);
});

test('the gateway refuses a non-DICOMweb path with 403', async ({ request }) => {
  const headers = { 'x-telerad-token': host.token };
  const sites = await (await request.post(`${host.origin}/api/sites.list`, { data: {}, headers })).json();
  expect(sites.ok).toBe(true);
  const siteA = sites.value.find((s: { name: string }) => s.name === 'Hospital A');
  const res = await request.get(`${host.origin}/sites/${siteA.id}/dicom-web/../system`, { headers });
  expect([403, 404]).toContain(res.status());
  const tools = await request.post(`${host.origin}/sites/${siteA.id}/dicom-web/tools/execute-script`, { headers, data: 'print(1)' });
  expect(tools.status()).toBe(403);
});

test('the worklist lists the study with patient, ID, date, modality and image count', async () => {
  await page.goto(host.url);
  await expect(row()).toBeVisible();
  const text = await row().innerText();
  expect(text).toContain('TESTER');
  expect(text).toContain(PATIENT.id);
  expect(text).toContain('2026-11-20');
  expect(text).toContain('CT');
  expect(text).toContain(String(SLICES));
});

test('a site with a wrong password shows "authentication failed" while the other site keeps working', async () => {
  const statusB = page.locator('[data-testid="site-status"]', { hasText: 'Hospital B' });
  await expect(statusB).toHaveAttribute('data-state', 'error');
  await expect(statusB).toContainText(/authentication failed/i);
  const statusA = page.locator('[data-testid="site-status"]', { hasText: 'Hospital A' });
  await expect(statusA).toHaveAttribute('data-state', 'ok');
  await expect(row()).toBeVisible();
});

test('opening the study paints its middle slice from the cache', async () => {
  await row().locator('[data-testid="open-study"]').click();
  await expectMiddleSlicePainted();
  // It opened while the rest streamed in; the tests below need the whole study in the cache.
  await expect(page.getByTestId('slice-availability')).toHaveAttribute('data-lossless', String(SLICES), { timeout: 60_000 });
  const shot = process.env.UPDATE_SCREENSHOT ? 'docs/screenshot.png' : 'test-results/screenshot.png';
  await page.screenshot({ path: shot, scale: 'css' });
});

test('the app runs under its Content-Security-Policy without a single violation', async ({ request }) => {
  const res = await request.get(host.url);
  expect(res.headers()['content-security-policy']).toContain("script-src 'self'");
  expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);
  // Hospital B's refusal is expected; nothing else may have failed in the page.
  expect(consoleErrors.filter((e) => !/502|Bad Gateway|authentication failed/i.test(e))).toEqual([]);
});

test('with the site stopped, reopening the study still paints it from IndexedDB', async () => {
  await orthanc.stop();
  await page.reload();
  await expect(row()).toBeVisible();
  await row().locator('[data-testid="open-study"]').click();
  await expectMiddleSlicePainted();
});

test('the site password appears in no bundle, IndexedDB record, log line or host output', async () => {
  const secrets = [orthanc.password, 'not-the-password'];
  const offenders: string[] = [];
  const scan = (label: string, text: string): void => {
    for (const s of secrets) if (text.includes(s)) offenders.push(label);
  };

  const walk = (dir: string, skip: (p: string) => boolean): string[] =>
    readdirSync(dir).flatMap((name) => {
      const p = path.join(dir, name);
      if (skip(p)) return [];
      return statSync(p).isDirectory() ? walk(p, skip) : [p];
    });
  for (const file of walk(path.resolve('dist/renderer'), () => false)) scan(file, readFileSync(file, 'latin1'));
  const dataDir = path.join(tmp, 'data');
  for (const file of walk(dataDir, (p) => path.basename(p) === 'secrets.json')) {
    const text = readFileSync(file, 'latin1');
    scan(file, text);
    // The launch token belongs on the host's first line of stdout, nowhere on disk.
    if (text.includes(host.token)) offenders.push(`${file} (launch token)`);
  }
  scan('browser host stdout/stderr', host.output());

  const idb = await page.evaluate(async () => {
    const out: string[] = [];
    const dbs = await indexedDB.databases();
    for (const info of dbs) {
      if (!info.name) continue;
      const db = await new Promise<IDBDatabase>((res, rej) => {
        const r = indexedDB.open(info.name!);
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      for (const store of Array.from(db.objectStoreNames)) {
        const all = await new Promise<unknown[]>((res, rej) => {
          const r = db.transaction(store).objectStore(store).getAll();
          r.onsuccess = () => res(r.result);
          r.onerror = () => rej(r.error);
        });
        for (const rec of all) {
          out.push(
            JSON.stringify(rec, (_k, v: unknown) => (v instanceof ArrayBuffer || ArrayBuffer.isView(v) || v instanceof Blob ? '[bytes]' : v)),
          );
          for (const v of Object.values(rec as Record<string, unknown>)) {
            if (v instanceof Blob) out.push(new TextDecoder('latin1').decode(await v.arrayBuffer()));
            else if (v instanceof ArrayBuffer) out.push(new TextDecoder('latin1').decode(v));
          }
        }
      }
      db.close();
    }
    return { text: out.join('\n'), records: out.length };
  });
  expect(idb.records).toBeGreaterThan(SLICES); // the cache really was read
  scan('IndexedDB', idb.text);
  expect(offenders).toEqual([]);
});
