import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { generateChestXray } from '../fixtures/chest-xray';
import { generateReferralPacket } from '../fixtures/referral-packet';
import { loadCtStudy, startOrthanc } from '../support/orthanc';
import type { OrthancHandle } from '../support/orthanc';
import { stowInstances } from '../support/stow';
import { startWebHostProcess } from '../support/e2e/web-host-process';
import type { WebHostProcess } from '../support/e2e/web-host-process';

// Issue 3's acceptance in Chromium: the worklist from two sites, filter by
// priority, open a referral packet, read the clinical question, open the PDF.
test.describe.configure({ mode: 'serial' });

const QUESTION = 'Suspected right lower lobe pneumonia — consolidation or effusion?';
let siteA: OrthancHandle;
let siteB: OrthancHandle;
let host: WebHostProcess;
let tmp: string;
let ctStudy: string;
let xrayStudy: string;
let page: Page;

test.beforeAll(async ({ browser }) => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-e2e-ref-'));
  [siteA, siteB] = await Promise.all([startOrthanc(), startOrthanc()]);
  const ct = await loadCtStudy(siteA, { patientName: 'ROUTINE^CARL', patientId: 'REF-A-1', slices: 8, studyDescription: 'CT CHEST' });
  ctStudy = ct.studyInstanceUID;
  const xray = generateChestXray({ patientName: 'URGENT^UMA', patientId: 'REF-B-1', rows: 1024, columns: 820 });
  xrayStudy = xray.studyInstanceUID;
  for (const inst of xray.instances) await siteB.upload(inst.bytes);
  const packet = await generateReferralPacket({
    studyInstanceUID: xrayStudy,
    patientName: 'URGENT^UMA',
    patientId: 'REF-B-1',
    priority: 'STAT',
    clinicalQuestion: QUESTION,
    history: 'Fever and cough for 5 days, crackles right base.',
    referringClinician: 'MBEKI^THABO^^DR',
    requestedSpecialty: 'Radiology',
  });
  await stowInstances(siteB.dicomWebUrl, siteB.authorization, packet.files);
  const sitesFile = path.join(tmp, 'sites.json');
  writeFileSync(
    sitesFile,
    JSON.stringify([
      { name: 'Hospital A', url: siteA.dicomWebUrl, auth: { type: 'basic', username: siteA.username, password: siteA.password } },
      { name: 'Clinic B', url: siteB.dicomWebUrl, auth: { type: 'basic', username: siteB.username, password: siteB.password } },
    ]),
  );
  host = await startWebHostProcess(['--data-dir', path.join(tmp, 'data'), '--sites', sitesFile]);
  page = await browser.newPage();
});

test.afterAll(async () => {
  await page?.close();
  await host?.stop();
  await Promise.all([siteA?.stop(), siteB?.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

const rowOf = (uid: string): ReturnType<Page['locator']> => page.locator(`[data-testid="worklist-row"][data-study-uid="${uid}"]`);

test('the worklist merges the studies of both sites', async () => {
  await page.goto(host.url);
  await expect(rowOf(ctStudy)).toBeVisible();
  await expect(rowOf(xrayStudy)).toBeVisible();
  await expect(rowOf(ctStudy)).toContainText('Hospital A');
  await expect(rowOf(xrayStudy)).toContainText('Clinic B');
});

test('the referral note sets the priority, and filtering by STAT leaves only that study', async () => {
  await expect(rowOf(xrayStudy)).toHaveAttribute('data-priority', 'STAT');
  await page.locator('[data-testid="filter-priority"]').selectOption('STAT');
  await expect(rowOf(xrayStudy)).toBeVisible();
  await expect(rowOf(ctStudy)).toHaveCount(0);
  await page.locator('[data-testid="filter-priority"]').selectOption('');
  await expect(rowOf(ctStudy)).toBeVisible();
});

test('opening the referral packet shows the clinical question, and its PDF renders', async () => {
  await rowOf(xrayStudy).locator('[data-testid="open-study"]').click();
  const panel = page.locator('[data-testid="referral-panel"]');
  await expect(panel).toBeVisible();
  await expect(panel.locator('[data-testid="referral-question"]')).toContainText(QUESTION);
  await expect(panel.locator('[data-testid="referral-priority"]')).toContainText('STAT');
  await expect(panel.locator('[data-testid="referral-clinician"]')).toContainText('MBEKI');
  await panel.locator('[data-testid="referral-attachment"][data-kind="pdf"]').first().click();
  const pdf = page.locator('[data-testid="pdf-viewer"]');
  await expect(pdf).toBeVisible();
  await expect(pdf).toHaveAttribute('data-page-count', /^[1-9]/);
  // The page is painted: a white page with dark text, not an empty canvas.
  await expect
    .poll(
      () =>
        pdf.evaluate((el) => {
          const c = el.querySelector('canvas');
          if (!c || c.width === 0) return 0;
          const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let dark = 0;
          for (let i = 0; i < d.length; i += 4) if (d[i]! < 100 && d[i + 3]! > 0) dark++;
          return dark;
        }),
      { timeout: 20_000 },
    )
    .toBeGreaterThan(200);
});
