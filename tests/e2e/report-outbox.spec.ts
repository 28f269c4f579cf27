import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import type { Locator, Page } from '@playwright/test';
import { loadCtStudy, startOrthanc } from '../support/orthanc';
import type { OrthancHandle } from '../support/orthanc';
import { dragOnImage } from '../support/e2e/canvas';
import { writeSitesFile } from '../support/e2e/sites-file';
import { startWebHostProcess } from '../support/e2e/web-host-process';
import type { WebHostProcess } from '../support/e2e/web-host-process';

// Issue 6's path in Chromium against a real Orthanc: measure on a CT, write
// and sign the report with the site down (it waits in the outbox), bring the
// site back: the report is delivered once, the case reads "reported", and a
// second workstation (a fresh browser profile: the referring side) reads the
// report back from the site, text and PDF.
test.describe.configure({ mode: 'serial' });

const SLICES = 6;
const SIZE = 512;
let orthanc: OrthancHandle;
let host: WebHostProcess;
let tmp: string;
let studyUid: string;
let page: Page;

const IMPRESSION = 'Indeterminate 4 cm lesion, right lower lobe.';
const FINDINGS = 'Soft tissue lesion in the right lower lobe.';

const row = (p: Page): Locator => p.locator(`[data-testid="worklist-row"][data-study-uid="${studyUid}"]`).first();
const viewport = (p: Page): Locator => p.locator('[data-testid="viewport"]').first();
const panel = (p: Page): Locator => p.getByTestId('report-panel');

async function openStudy(p: Page): Promise<void> {
  await row(p).getByTestId('open-study').click();
  await expect(viewport(p)).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
}

test.beforeAll(async ({ browser }) => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-e2e-report-'));
  orthanc = await startOrthanc();
  studyUid = (await loadCtStudy(orthanc, { patientName: 'DOE^JANE', patientId: 'REP-1', slices: SLICES, studyDescription: 'CT CHEST' })).studyInstanceUID;
  const sitesFile = writeSitesFile(tmp, orthanc);
  host = await startWebHostProcess(['--data-dir', path.join(tmp, 'data'), '--sites', sitesFile]);
  page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
});

test.afterAll(async () => {
  await page?.close();
  await host?.stop();
  await orthanc?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('a report signed with the site down waits in the outbox, is delivered when the site is back, and reads back at the site', async ({ browser }) => {
  await page.goto(host.url);
  await expect(row(page)).toHaveAttribute('data-status', 'new', { timeout: 30_000 });
  await openStudy(page);

  // A length measurement across the body on the shown slice.
  await page.getByTestId('tool-length').click();
  await dragOnImage(viewport(page).locator('canvas').first(), { columns: SIZE, rows: SIZE }, { x: 120, y: 256 }, { x: 392, y: 256 });
  await expect(page.locator('[data-testid="measurement"][data-kind="length"]')).toHaveCount(1);
  const lengthText = (await page.locator('[data-testid="measurement"][data-kind="length"] .measurement-value').textContent())!.trim();
  expect(lengthText).toMatch(/^\d+\.\d mm$/);

  // Profile first: signing is refused without a name and credentials.
  await expect(panel(page).getByTestId('profile-form')).toBeVisible();
  await panel(page).getByTestId('profile-name').fill('Ada Lovelace');
  await panel(page).getByTestId('profile-credentials').fill('MD, FRCR');
  await panel(page).getByTestId('profile-save').click();
  await expect(panel(page).getByTestId('profile-summary')).toContainText('Ada Lovelace, MD, FRCR');

  // Write the report: CT template, text, the measurement inserted, urgent.
  await panel(page).getByTestId('report-new').click();
  await expect(panel(page).getByTestId('report-template')).toHaveValue('ct');
  const findings = panel(page).getByTestId('report-section-findings');
  await expect(findings).toHaveAttribute('spellcheck', 'true');
  await findings.fill(FINDINGS);
  await panel(page).getByTestId('report-section-impression').fill(IMPRESSION);
  await panel(page).getByTestId('report-priority').selectOption('urgent');
  await panel(page).getByTestId('report-insert-measurements').click();
  await expect(findings).toHaveValue(new RegExp(`Length ${lengthText.replace('.', '\\.')}`));
  await expect(panel(page).getByTestId('report-measurement-count')).toHaveText('1 inserted');
  await expect(panel(page).getByTestId('report-save-status')).toHaveText(/^Saved \d\d:\d\d:\d\d$/, { timeout: 10_000 });

  // The draft survives a reload.
  await page.reload();
  await openStudy(page);
  await expect(panel(page).getByTestId('report-section-impression')).toHaveValue(IMPRESSION);

  // Site down: signing still works, and the report waits in the outbox.
  await orthanc.stop({ keepData: true });
  await panel(page).getByTestId('report-sign').click();
  const signed = panel(page).getByTestId('report-signed');
  await expect(signed).toHaveCount(1);
  await expect(signed).toContainText(IMPRESSION);
  await expect(signed.getByTestId('report-delivery')).toHaveAttribute('data-state', /queued|sending|failed/);
  await expect(panel(page).getByTestId('report-editor')).toHaveCount(0);
  // Signed and read-only: no text box left; its PDF opens offline, from the outbox job's own bytes.
  await expect(signed.locator('textarea')).toHaveCount(0);
  await signed.getByTestId('report-open-pdf').click();
  await expect(page.locator('.report-pdf-overlay [data-testid="pdf-viewer"]')).toHaveAttribute('data-state', 'painted', { timeout: 30_000 });
  await page.locator('.report-pdf-overlay').getByTestId('pdf-close').click();
  await page.getByTestId('outbox-button').click();
  const job = page.getByTestId('outbox-job').filter({ hasText: 'Report — CT CHEST · DOE^JANE' });
  await expect(job).toHaveCount(1);
  await expect(job).toHaveAttribute('data-state', /queued|sending|failed/);
  await expect(row(page)).toHaveCount(0); // (the worklist is behind the viewer; its status is checked below)

  // Site back on the same port: "Retry now" delivers it without waiting for the backoff.
  await orthanc.restart();
  await expect(job.getByRole('button', { name: /Retry now/ })).toBeEnabled();
  await job.getByRole('button', { name: /Retry now/ }).click();
  await expect(job).toHaveAttribute('data-state', 'sent', { timeout: 60_000 });
  await expect(signed.getByTestId('report-delivery')).toHaveAttribute('data-state', 'sent');
  await page.getByTestId('outbox-button').click();

  // Exactly one copy of the SR and the PDF at the site.
  const res = await fetch(`${orthanc.dicomWebUrl}/studies/${studyUid}/instances?Modality=SR`, { headers: { authorization: orthanc.authorization } });
  const srs = (await res.json()) as unknown[];
  expect(srs).toHaveLength(1);
  const docs = await fetch(`${orthanc.dicomWebUrl}/studies/${studyUid}/instances?Modality=DOC`, { headers: { authorization: orthanc.authorization } });
  expect((await docs.json()) as unknown[]).toHaveLength(1);

  // The case reads "reported"; a refresh finds the report at the site and says so.
  await page.getByTestId('close-viewer').click();
  await expect(row(page)).toHaveAttribute('data-status', 'reported');
  await page.getByTestId('refresh').click();
  const notice = page.locator(`[data-testid="new-report-notice"][data-study-uid="${studyUid}"]`);
  await expect(notice).toHaveCount(1, { timeout: 30_000 });
  await expect(notice).toContainText('New report');
  await expect(page.getByTestId('new-report-notices')).toHaveAttribute('role', 'status');
  await expect(row(page)).toHaveAttribute('data-status', 'reported');

  // main's audit trail names who viewed the patient's study, signed, and what was sent (issue 9).
  await page.getByTestId('audit-button').click();
  const audit = page.getByRole('region', { name: 'Audit trail' });
  const events = audit.locator('tr[data-outcome="success"]');
  await expect(events.filter({ hasText: 'Viewed study' }).filter({ hasText: 'REP-1' }).first()).toBeVisible({ timeout: 15_000 });
  await expect(events.filter({ hasText: 'Signed report' }).filter({ hasText: 'DOE' })).toHaveCount(1);
  await expect(events.filter({ hasText: 'Sent' })).toHaveCount(1);
  // The ATNA export: one XML file of DICOM audit messages, saved by the browser, and itself in the trail.
  const download = page.waitForEvent('download');
  await audit.getByRole('button', { name: 'Export for ATNA (DICOM audit messages)' }).click();
  const saved = await download;
  expect(saved.suggestedFilename()).toMatch(/^audit-atna-\d{8}-\d{6}\.xml$/);
  const xml = readFileSync(await saved.path(), 'utf8');
  expect(xml).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<AuditMessages count="\d+">\n<AuditMessage>/);
  expect(xml).toContain('originalText="Patient Record"'); // the signature
  expect(xml).toContain('ParticipantObjectID="REP-1"');
  await expect(audit.getByRole('status')).toContainText(`exported to ${saved.suggestedFilename()}`);
  await expect(events.filter({ hasText: 'audit trail export' })).toHaveCount(1);
  await page.getByTestId('audit-button').click();

  // The referring side: another workstation (a fresh browser profile) reads it from the site.
  const context = await browser.newContext({ viewport: { width: 1600, height: 900 } });
  try {
    const other = await context.newPage();
    await other.goto(host.url);
    await expect(row(other)).toHaveAttribute('data-status', 'reported', { timeout: 30_000 });
    await openStudy(other);
    const readBack = panel(other).getByTestId('site-report');
    await expect(readBack).toHaveCount(1, { timeout: 30_000 });
    await expect(readBack).toContainText(IMPRESSION);
    await expect(readBack).toContainText(FINDINGS);
    await expect(readBack.getByTestId('site-report-author')).toContainText('Ada Lovelace');
    await expect(readBack).toContainText('Urgent');
    await expect(readBack.getByTestId('site-report-measurement')).toHaveCount(1);
    await expect(readBack.getByTestId('site-report-measurement')).toContainText(/Length/i);
    // The report's PDF is the report's, not an attachment of a referral: no referral panel for this study.
    await expect(other.getByTestId('referral-panel')).toHaveCount(0);
    await readBack.getByTestId('site-report-pdf').click();
    await expect(other.locator('.report-pdf-overlay [data-testid="pdf-viewer"]')).toHaveAttribute('data-state', 'painted', { timeout: 30_000 });
  } finally {
    await context.close();
  }
});
