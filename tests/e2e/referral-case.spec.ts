import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import type { Locator, Page } from '@playwright/test';
import { startOrthanc } from '../support/orthanc';
import type { OrthancHandle } from '../support/orthanc';
import { writeDicomdirFixture } from '../fixtures/dicomdir';
import type { DicomdirFixture } from '../fixtures/dicomdir';
import { cameraJpeg } from '../fixtures/case-import-attachments';
import { writeSitesFile } from '../support/e2e/sites-file';
import { startWebHostProcess } from '../support/e2e/web-host-process';
import type { WebHostProcess } from '../support/e2e/web-host-process';

// Issue 7's path in Chromium against a real Orthanc: the rural side imports a
// patient CD (DICOMDIR) and a phone photo with the wizard, looks at them,
// writes the question and sends with the site down (the case waits in the
// outbox); the site comes back and the case arrives. The specialist side (the
// same app with another data dir, its own browser profile) finds the case in
// its worklist with the referral packet: the question, the photo, the images.
test.describe.configure({ mode: 'serial' });

const QUESTION = 'Mass in the right lower lobe on CT: malignancy likely?';
const CT_SLICES = 4;
let orthanc: OrthancHandle;
let referrer: WebHostProcess;
let specialist: WebHostProcess;
let tmp: string;
let cd: DicomdirFixture;
let photoPath: string;

test.beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-e2e-referral-case-'));
  orthanc = await startOrthanc();
  cd = writeDicomdirFixture({ parent: tmp, ctSlices: CT_SLICES });
  photoPath = path.join(tmp, 'lesion.jpg');
  writeFileSync(photoPath, cameraJpeg().jpeg);
  const sitesFile = writeSitesFile(tmp, orthanc);
  [referrer, specialist] = await Promise.all([
    startWebHostProcess(['--data-dir', path.join(tmp, 'referrer'), '--sites', sitesFile]),
    startWebHostProcess(['--data-dir', path.join(tmp, 'specialist'), '--sites', sitesFile]),
  ]);
});

// A failure here has been seen once in CI and not reproduced (the compressed-size estimate did not
// appear): print the referrer's log lines of the wizard and the estimate so the next run says why.
// eslint-disable-next-line no-empty-pattern -- Playwright reads the fixtures a hook asks for from this pattern
test.afterEach(async ({}, testInfo) => {
  if (testInfo.status === testInfo.expectedStatus) return;
  const logFile = path.join(tmp, 'referrer', 'logs', 'main.log');
  const lines = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter((l) => /warn|error/i.test(l)) : [];
  process.stderr.write(`referrer's warnings and errors (${logFile}):\n${lines.slice(-40).join('\n')}\n`);
});

test.afterAll(async () => {
  await referrer?.stop();
  await specialist?.stop();
  await orthanc?.stop();
  cd?.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

const wizard = (p: Page): Locator => p.getByTestId('referral-wizard');

test('a referral built from a CD and a photo, sent with the site down, arrives and shows as a referral packet at the site', async ({ browser }) => {
  test.setTimeout(120_000);
  const context = await browser.newContext({ viewport: { width: 1600, height: 900 } });
  const page = await context.newPage();
  await page.goto(referrer.url);
  await expect(page.getByTestId('new-referral-button')).toBeVisible({ timeout: 30_000 });

  // 1. Import: the CD's folder (the DICOMDIR is found in it) and a phone photo.
  await page.getByTestId('new-referral-button').click();
  await expect(wizard(page)).toHaveAttribute('data-state', 'draft');
  await expect(wizard(page).getByRole('region', { name: '1. Import' })).toBeVisible();
  await page.getByTestId('referral-import-folder').setInputFiles(cd.dir);
  await expect(page.getByTestId('referral-import-count')).toContainText(`${CT_SLICES + 1} image instance(s)`, { timeout: 30_000 });
  await expect(page.getByTestId('referral-import-summary')).toContainText('CT');
  // The CD's DICOMDIR is named as its index, never listed as a damaged file.
  await expect(wizard(page)).toContainText('DICOMDIR index, read for the file list');
  await expect(page.getByTestId('referral-skipped').filter({ hasText: 'DICOMDIR' })).toHaveCount(0);
  await page.getByTestId('referral-import-attachments').setInputFiles(photoPath);
  await expect(page.getByTestId('referral-import-count')).toContainText('1 photo(s)', { timeout: 30_000 });
  await expect(page.getByTestId('referral-patient')).toContainText('NDLOVU^SIPHO');

  // Everything imported can be looked at before sending: the local study opens from the cache.
  await page.getByTestId('referral-view').first().click();
  await expect(page.locator('[data-testid="viewport"]').first()).toHaveAttribute('data-state', 'ready', { timeout: 30_000 });
  await page.getByTestId('close-viewer').click();

  // 3. The referral; the site to send to.
  await expect(wizard(page)).toBeVisible();
  await expect(page.getByTestId('referral-send')).toBeDisabled();
  await page.getByTestId('rw-question').fill(QUESTION);
  await page.getByTestId('rw-history').fill('Smoker, 40 pack-years; weight loss.');
  await page.getByTestId('rw-urgency').selectOption('urgent');
  await page.getByTestId('rw-clinician').fill('Dr Nomsa Dube');
  await page.getByTestId('rw-site').selectOption({ label: 'Hospital A' });
  // The draft survives a reload: continue it from "My referrals".
  await expect(page.getByTestId('referral-problems')).toHaveCount(0, { timeout: 15_000 });
  await page.reload();
  // The imported CD is the rural side's own case, not a study to read: the reading worklist leaves it out.
  await expect(page.getByTestId('site-status').first()).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });
  await expect(page.getByTestId('worklist-row').filter({ hasText: /NDLOVU/i })).toHaveCount(0);
  await expect(page.getByTestId('worklist-count')).toHaveText('0 studies');
  await page.getByTestId('my-referrals-button').click();
  await expect(page.getByTestId('my-referral')).toHaveAttribute('data-state', 'draft');
  await page.getByTestId('my-referral-continue').click();
  await expect(page.getByTestId('rw-question')).toHaveValue(QUESTION);
  await expect(page.getByTestId('referral-problems')).toHaveCount(0, { timeout: 15_000 });
  await expect(page.getByTestId('referral-size')).toContainText(`${CT_SLICES + 2} instance(s)`);

  // Site down: sending still works and the case waits in the outbox.
  await orthanc.stop({ keepData: true });
  await page.getByTestId('referral-send').click();
  await expect(page.getByTestId('referral-sent')).toBeVisible({ timeout: 30_000 });
  await page.getByTestId('my-referrals-button').click();
  const mine = page.getByTestId('my-referral');
  await expect(mine).toHaveCount(1);
  await expect(mine).toHaveAttribute('data-state', 'queued');
  await expect(mine.getByTestId('my-referral-status')).toContainText(/queued: 0 of \d+ instances sent/);
  await page.getByTestId('outbox-button').click();
  const job = page.getByTestId('outbox-job').filter({ hasText: 'Referral — NDLOVU^SIPHO' });
  await expect(job).toHaveCount(1);
  await expect(job).toHaveAttribute('data-state', /queued|sending|failed/);

  // Site back: "Retry now" delivers the case.
  await orthanc.restart();
  await expect(job.getByRole('button', { name: /Retry now/ })).toBeEnabled({ timeout: 30_000 });
  await job.getByRole('button', { name: /Retry now/ }).click();
  await expect(job).toHaveAttribute('data-state', 'sent', { timeout: 60_000 });
  await expect(mine).toHaveAttribute('data-state', 'received', { timeout: 15_000 });
  const sentUid = (await mine.getAttribute('data-sent-study-uid'))!;
  expect(sentUid).toMatch(/^[0-9.]+$/);

  // The site holds every instance: the CD's CT and X-ray, the photo and the referral note, in one study.
  const res = await fetch(`${orthanc.dicomWebUrl}/studies/${sentUid}/instances`, { headers: { authorization: orthanc.authorization } });
  expect(((await res.json()) as unknown[]).length).toBe(CT_SLICES + 1 + 1 + 1);
  await context.close();

  // The specialist side: another workstation, its own data dir and browser profile, the same site.
  const other = await browser.newContext({ viewport: { width: 1600, height: 900 } });
  try {
    const sp = await other.newPage();
    await sp.goto(specialist.url);
    const row = sp.locator(`[data-testid="worklist-row"][data-study-uid="${sentUid}"]`).first();
    await expect(row).toBeVisible({ timeout: 30_000 });
    await row.getByTestId('open-study').click();
    await expect(sp.locator('[data-testid="viewport"]').first()).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
    const packet = sp.getByTestId('referral-panel');
    await expect(packet.getByTestId('referral-question')).toContainText(QUESTION, { timeout: 30_000 });
    await expect(packet.getByTestId('referral-priority')).toHaveAttribute('data-priority', 'urgent');
    await expect(packet.getByTestId('referral-clinician')).toContainText('Nomsa Dube');
    await expect(packet.locator('[data-testid="referral-attachment"][data-kind="photo"]')).toHaveCount(1);
  } finally {
    await other.close();
  }
});

test('a CD naming two patients is resolved before sending, and a de-identified case reaches the site under its pseudonym only', async ({ browser }) => {
  test.setTimeout(90_000);
  const mixed = writeDicomdirFixture({ parent: tmp, ctSlices: 2, xrPatientName: 'MOKOENA^THANDI', xrPatientId: 'ZIT-77777' });
  const context = await browser.newContext({ viewport: { width: 1600, height: 900 } });
  try {
    const page = await context.newPage();
    await page.goto(referrer.url);
    await page.getByTestId('new-referral-button').click();
    await page.getByTestId('referral-import-folder').setInputFiles(mixed.dir);
    await expect(page.getByTestId('referral-identity-conflict')).toBeVisible({ timeout: 30_000 });
    await expect(page.getByTestId('referral-identity-conflict')).toHaveAttribute('role', 'alert');
    await page.getByTestId('rw-question').fill('Second opinion: nodule?');
    await page.getByTestId('rw-clinician').fill('Dr Nomsa Dube');
    await page.getByTestId('rw-site').selectOption({ label: 'Hospital A' });
    await expect(page.getByTestId('referral-problems')).toContainText('2 different patients');
    await expect(page.getByTestId('referral-send')).toBeDisabled();

    await page.getByRole('radio', { name: /ZIT-20931/ }).check();
    await expect(page.getByTestId('referral-problems')).toHaveCount(0, { timeout: 15_000 });
    await page.getByTestId('referral-deid').check();
    await page.getByTestId('referral-deid-preview').click();
    await expect(page.getByTestId('referral-deid-preview-result')).toContainText('ANONYMOUS^', { timeout: 15_000 });
    // Sent JPEG-LS lossless compressed (the encoder worker in the page).
    await page.getByTestId('referral-compress').check();
    await expect(page.getByTestId('referral-size')).toContainText(/about [\d.]+ kB compressed/, { timeout: 15_000 });
    await page.getByTestId('referral-send').click();
    await expect(page.getByTestId('referral-sent')).toBeVisible({ timeout: 30_000 });

    await page.getByTestId('my-referrals-button').click();
    const row = page.locator('[data-testid="my-referral"]').filter({ hasText: 'Second opinion' });
    await expect(row).toContainText('de-identified');
    await expect(row).toHaveAttribute('data-state', 'received', { timeout: 60_000 });
    const sentUid = (await row.getAttribute('data-sent-study-uid'))!;
    const res = await fetch(`${orthanc.dicomWebUrl}/studies/${sentUid}/instances?includefield=00100010&includefield=00100020`, { headers: { authorization: orthanc.authorization } });
    const instances = (await res.json()) as Record<string, { Value?: unknown[] }>[];
    // 2 CT slices + the X-ray (sent under the chosen patient) + the referral note; nobody's real name or ID.
    expect(instances).toHaveLength(4);
    const ids = new Set(instances.map((i) => String(i['00100020']?.Value?.[0] ?? '')));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^ANON-/);
    expect(JSON.stringify(instances)).not.toMatch(/NDLOVU|MOKOENA|ZIT-/);
    // The CT slices arrived as JPEG-LS lossless (the site keeps what it was sent).
    const ctSlice = instances.find((i) => i['00080016']?.Value?.[0] === '1.2.840.10008.5.1.4.1.1.2')!;
    const uidOf = (i: Record<string, { Value?: unknown[] }>, tag: string): string => String(i[tag]?.Value?.[0]);
    const stored = await fetch(`${orthanc.dicomWebUrl}/studies/${sentUid}/series/${uidOf(ctSlice, '0020000E')}/instances/${uidOf(ctSlice, '00080018')}`, {
      headers: { authorization: orthanc.authorization, accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
    });
    expect(stored.status).toBe(200);
    expect(Buffer.from(await stored.arrayBuffer()).toString('latin1')).toContain('1.2.840.10008.1.2.4.80');
  } finally {
    await context.close();
    mixed.cleanup();
  }
});
