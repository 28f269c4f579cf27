import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { generateCtSeries } from '../fixtures/ct-phantom';
import { generateReferralPacket } from '../fixtures/referral-packet';
import { loadCtStudy, startOrthanc } from '../support/orthanc';
import type { OrthancHandle } from '../support/orthanc';
import { stowInstances } from '../support/stow';
import { probeViewportCanvas } from '../support/e2e/canvas';
import { writeSitesFile } from '../support/e2e/sites-file';
import { startWebHostProcess } from '../support/e2e/web-host-process';
import type { WebHostProcess } from '../support/e2e/web-host-process';

// Issue 4's acceptance in Chromium: a STAT case is prefetched while online
// without anyone opening it; with its site stopped it opens completely (every
// image series scrolls to its last image); a case never fetched says plainly
// that it is not available offline instead of spinning.
test.describe.configure({ mode: 'serial' });

const SERIES = [
  { seriesNumber: 1, slices: 10 },
  { seriesNumber: 2, slices: 6 },
];
let orthanc: OrthancHandle;
let host: WebHostProcess;
let tmp: string;
let statStudy: string;
let routineStudy: string;
let markedStudy: string;
let page: Page;

test.beforeAll(async ({ browser }) => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-e2e-offline-'));
  orthanc = await startOrthanc();
  // The STAT case: two CT series of one study, and a referral packet (note + photo) marking it STAT.
  const first = generateCtSeries({ patientName: 'STAT^SAM', patientId: 'OFF-1', rows: 256, columns: 256, studyDescription: 'CT HEAD', ...SERIES[0]! });
  statStudy = first.studyInstanceUID;
  const second = generateCtSeries({ patientName: 'STAT^SAM', patientId: 'OFF-1', rows: 256, columns: 256, seed: 2, studyInstanceUID: statStudy, ...SERIES[1]! });
  for (const inst of [...first.instances, ...second.instances]) await orthanc.upload(inst.bytes);
  const packet = await generateReferralPacket({
    studyInstanceUID: statStudy,
    patientName: 'STAT^SAM',
    patientId: 'OFF-1',
    priority: 'STAT',
    clinicalQuestion: 'Intracranial haemorrhage?',
    pdf: false,
    photo: true,
    photoRows: 240,
    photoColumns: 320,
  });
  await stowInstances(orthanc.dicomWebUrl, orthanc.authorization, packet.files);
  // A routine case at the same site, neither marked nor kept offline: prefetch must leave it alone.
  routineStudy = (await loadCtStudy(orthanc, { patientName: 'ROUTINE^RIA', patientId: 'OFF-2', slices: 4, rows: 256, columns: 256, seed: 3 })).studyInstanceUID;

  // A routine case the user marks for prefetch in the worklist.
  markedStudy = (await loadCtStudy(orthanc, { patientName: 'MARKED^MO', patientId: 'OFF-3', slices: 3, rows: 256, columns: 256, seed: 4 })).studyInstanceUID;

  const sitesFile = writeSitesFile(tmp, orthanc);
  host = await startWebHostProcess(['--data-dir', path.join(tmp, 'data'), '--sites', sitesFile]);
  page = await browser.newPage();
});

test.afterAll(async () => {
  await page?.close();
  await host?.stop();
  await orthanc?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const rowOf = (uid: string): ReturnType<Page['locator']> => page.locator(`[data-testid="worklist-row"][data-study-uid="${uid}"]`).first();

test('a STAT case is prefetched while online without being opened', async () => {
  await page.goto(host.url);
  await expect(rowOf(statStudy)).toHaveAttribute('data-priority', 'STAT');
  await expect(rowOf(statStudy).locator('[data-testid="offline-badge"][data-complete="true"]')).toBeVisible({ timeout: 60_000 });
  await expect(page.locator('[data-testid="prefetch-status"]')).toHaveAttribute('data-state', 'idle');
  // The routine case was not taken, and the viewer was never opened.
  await expect(rowOf(routineStudy)).toBeVisible();
  await expect(rowOf(routineStudy).locator('[data-testid="offline-badge"]')).toHaveCount(0);
  await expect(page.locator('[data-testid="viewport"]')).toHaveCount(0);
});

test('a case marked in the worklist is prefetched too; the settings panel offers keep-offline and a bandwidth cap', async () => {
  const status = page.locator('[data-testid="prefetch-status"]');
  await expect(rowOf(markedStudy).locator('[data-testid="offline-badge"]')).toHaveCount(0);
  await rowOf(markedStudy).locator('[data-testid="prefetch-mark"]').check();
  await expect(rowOf(markedStudy).locator('[data-testid="offline-badge"][data-complete="true"]')).toBeVisible({ timeout: 30_000 });
  await expect(status).toHaveAttribute('data-state', 'idle');
  await expect(status).toHaveText(/idle/i);

  await status.click();
  const keep = page.locator('[data-testid="keep-offline"][data-site-id]');
  await expect(keep).toHaveCount(1);
  await expect(keep).not.toBeChecked();
  await expect(page.locator('[data-testid="bandwidth-cap"]')).toBeVisible();
  await status.click();
  await expect(page.locator('[data-testid="prefetch-panel"]')).toHaveCount(0);
  // Still nobody fetched the routine case.
  await expect(rowOf(routineStudy).locator('[data-testid="offline-badge"]')).toHaveCount(0);
});

test('with the site stopped, the prefetched case opens and every series scrolls to its last image', async () => {
  await orthanc.stop();
  await rowOf(statStudy).locator('[data-testid="open-study"]').click();
  const viewport = page.locator('[data-testid="viewport"]');
  await expect(viewport).toHaveAttribute('data-state', 'ready');
  const select = page.locator('select[aria-label="Series"]');
  const seriesUids = await select.locator('option').evaluateAll((opts) => opts.map((o) => (o as HTMLOptionElement).value));
  // Two CT series and the referral photo; the referral note (SR) is not an image series.
  expect(seriesUids).toHaveLength(3);
  for (const uid of seriesUids) {
    await select.selectOption(uid);
    await expect(viewport).toHaveAttribute('data-state', 'ready');
    const count = Number(await viewport.getAttribute('data-image-count'));
    expect(count).toBeGreaterThan(0);
    await viewport.focus();
    for (let i = 0; i < count + 2 && Number(await viewport.getAttribute('data-image-index')) < count - 1; i++) {
      await page.keyboard.press('ArrowDown');
    }
    await expect(viewport).toHaveAttribute('data-image-index', String(count - 1));
    // The last image is painted: structure on the canvas, not a blank or flat fill.
    await expect
      .poll(async () => (await probeViewportCanvas(page, { columns: 256, rows: 256 }, { x: 128, y: 128 })).stdDev, { timeout: 15_000 })
      .toBeGreaterThan(5);
    await expect(page.locator('[data-testid="viewer-message"]')).toHaveCount(0);
  }
  await page.locator('[data-testid="close-viewer"]').click();
});

test('a case never fetched says it is not available offline, in bounded time', async () => {
  const started = Date.now();
  await rowOf(routineStudy).locator('[data-testid="open-study"]').click();
  const viewport = page.locator('[data-testid="viewport"]');
  await expect(viewport).toHaveAttribute('data-state', 'error', { timeout: 30_000 });
  await expect(page.locator('[data-testid="viewer-message"]')).toContainText(/not available offline/i);
  await expect(page.locator('[data-testid="viewer-progress"]')).toHaveCount(0);
  expect(Date.now() - started).toBeLessThan(30_000);
});
