import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { writeSeriesFiles } from '../fixtures/quality-dicom';
import { startOrthanc } from '../support/orthanc';
import type { OrthancHandle } from '../support/orthanc';
import { stowInstances } from '../support/stow';
import { writeSitesFile } from '../support/e2e/sites-file';
import { startWebHostProcess } from '../support/e2e/web-host-process';
import type { WebHostProcess } from '../support/e2e/web-host-process';

// Issue 8 on the reading side, in Chromium against a real Orthanc: a study
// whose one series is lossy (dcmcjpeg), uncalibrated and missing a slice shows
// those findings in the viewer's quality panel, "Go to image" moves the
// viewport to a slice beside the hole, and the worklist badge says blocker.
test.describe.configure({ mode: 'serial' });

interface LossyStudy {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  slices: number;
  missingInstanceNumber: number;
  /** Instance numbers in the viewer's stack order (by position along the slice normal, highest first). */
  stackOrder: number[];
}

/**
 * Writes a lossy (JPEG extended, dcmcjpeg), uncalibrated MR series of
 * `slices` with one missing, and stores it at the site with STOW-RS.
 * Reusable by every test of this file.
 */
async function stowLossyStudy(site: OrthancHandle, dir: string, opts: { slices?: number; missing?: number; patientName?: string; patientId?: string } = {}): Promise<LossyStudy> {
  const slices = opts.slices ?? 8;
  const missing = opts.missing ?? 6;
  const { seriesInstanceUID, files } = writeSeriesFiles(dir, {
    modality: 'MR',
    slices,
    size: 128,
    skip: [missing],
    uncalibrated: true,
    encode: 'jpeg-extended',
    patientName: opts.patientName ?? 'QUALITY^LOSSY',
    patientId: opts.patientId ?? 'QC-E2E-1',
  });
  const bytes = files.map((f) => new Uint8Array(readFileSync(f)));
  await stowInstances(site.dicomWebUrl, site.authorization, bytes);
  // writeSeriesFiles puts Study Instance UID in every file; read it back from the first one's header text.
  const studyInstanceUID = await studyUidOf(site, seriesInstanceUID);
  // Slice k sits at z = 4k (writeSeriesFiles): highest first is the highest instance number first.
  const stackOrder = Array.from({ length: slices }, (_, k) => slices - k).filter((n) => n !== missing);
  return { studyInstanceUID, seriesInstanceUID, slices, missingInstanceNumber: missing, stackOrder };
}

async function studyUidOf(site: OrthancHandle, seriesInstanceUID: string): Promise<string> {
  const res = await fetch(`${site.dicomWebUrl}/series?SeriesInstanceUID=${seriesInstanceUID}&includefield=0020000D`, {
    headers: { authorization: site.authorization, accept: 'application/dicom+json' },
  });
  const json = (await res.json()) as Record<string, { Value?: string[] }>[];
  const uid = json[0]?.['0020000D']?.Value?.[0];
  if (!uid) throw new Error(`the site does not list series ${seriesInstanceUID}`);
  return uid;
}

let orthanc: OrthancHandle;
let host: WebHostProcess;
let tmp: string;
let page: Page;
let lossy: LossyStudy;

const viewport = (): ReturnType<Page['locator']> => page.locator('[data-testid="viewport"]');
const row = (uid: string): ReturnType<Page['locator']> => page.locator(`[data-testid="worklist-row"][data-study-uid="${uid}"]`);

test.beforeAll(async ({ browser }) => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-e2e-quality-'));
  orthanc = await startOrthanc();
  lossy = await stowLossyStudy(orthanc, mkdtempSync(path.join(tmp, 'lossy-')));
  const sitesFile = writeSitesFile(tmp, orthanc);
  host = await startWebHostProcess(['--data-dir', path.join(tmp, 'data'), '--sites', sitesFile]);
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
});

test.afterAll(async () => {
  await page?.close();
  await host?.stop();
  await orthanc?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('a lossy, uncalibrated series with a missing slice: the panel lists the three findings, "Go to image" moves the viewport, the worklist badge says blocker', async () => {
  await page.goto(host.url);
  await row(lossy.studyInstanceUID).locator('[data-testid="open-study"]').click();
  const middle = Math.floor(lossy.stackOrder.length / 2);
  await expect(viewport()).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  await expect(viewport()).toHaveAttribute('data-image-index', String(middle));

  const button = page.getByTestId('quality-button');
  await expect(button).toHaveAttribute('data-level', 'blocker', { timeout: 60_000 });
  await button.click();
  const finding = (check: string): ReturnType<Page['locator']> => page.locator(`[data-testid="quality-finding"][data-check="${check}"]`);
  await expect(finding('suitability.lossy')).toContainText('Lossy compression');
  await expect(finding('suitability.calibration')).toContainText('uncalibrated');
  await expect(finding('geometry.missing-slices')).toHaveAttribute('data-severity', 'blocker');
  await expect(finding('geometry.missing-slices')).toContainText(`instance number ${lossy.missingInstanceNumber} absent`);
  // The JPEG pixels were decoded (in the viewer's decode workers) for the pixel statistics, not skipped.
  await expect(finding('acquisition.pixels-skipped')).toHaveCount(0);

  // From the first slice to the slice beside the hole the finding names.
  await viewport().focus();
  for (let i = 0; i < middle; i++) await page.keyboard.press('ArrowUp');
  await expect(viewport()).toHaveAttribute('data-image-index', '0');
  const go = finding('geometry.missing-slices').getByTestId('quality-go-to-image');
  const instanceNumber = Number(await go.getAttribute('data-instance-number'));
  expect([lossy.missingInstanceNumber - 1, lossy.missingInstanceNumber + 1]).toContain(instanceNumber);
  await go.click();
  await expect(viewport()).toHaveAttribute('data-image-index', String(lossy.stackOrder.indexOf(instanceNumber)));
  await expect(viewport()).toHaveAttribute('data-series-uid', lossy.seriesInstanceUID);
  await expect(viewport()).toHaveAttribute('data-state', 'ready');

  // Back in the worklist the cached case carries the same verdict.
  await page.getByTestId('close-viewer').click();
  const badge = row(lossy.studyInstanceUID).getByTestId('quality-badge');
  await expect(badge).toHaveAttribute('data-level', 'blocker');
  await expect(badge).toHaveText(/QC blocker/);
  await expect(badge).toHaveAttribute('aria-label', /Missing slices/);

  // A fresh page has no result in memory: the badge is worked out in the background from the cache.
  await page.reload();
  await expect(row(lossy.studyInstanceUID).getByTestId('quality-badge')).toHaveAttribute('data-level', 'blocker', { timeout: 30_000 });
});

// The gate (issue 8) on the referring side: the same kind of series imported
// from a folder through the referral wizard stops at "Send" until "Send anyway"
// is given a reason, which travels with the outbox job.
test('a referral of a lossy, uncalibrated series with a missing slice is stopped by the gate until "Send anyway" is given a reason', async () => {
  test.setTimeout(120_000);
  const folder = mkdtempSync(path.join(tmp, 'referral-cd-'));
  writeSeriesFiles(folder, { modality: 'MR', slices: 6, size: 64, skip: [3], uncalibrated: true, encode: 'jpeg-extended', patientName: 'QUALITY^GATE', patientId: 'QC-E2E-GATE' });
  await page.goto(host.url);
  await page.getByTestId('new-referral-button').click();
  await page.getByTestId('referral-import-folder').setInputFiles(folder);
  await expect(page.getByTestId('referral-import-count')).toContainText('5 image instance(s)', { timeout: 30_000 });
  await page.getByTestId('rw-question').fill('Lesion in the left temporal lobe?');
  await page.getByTestId('rw-clinician').fill('Dr Nomsa Dube');
  await page.getByTestId('rw-site').selectOption({ label: 'Hospital A' });
  await expect(page.getByTestId('referral-problems')).toHaveCount(0, { timeout: 15_000 });

  // The review step lists the three findings; the missing slice blocks "Send".
  const findings = page.getByTestId('referral-quality-findings');
  await expect(findings.locator('[data-check="suitability.lossy"]')).toContainText('Lossy compression', { timeout: 60_000 });
  await expect(findings.locator('[data-check="suitability.calibration"]')).toHaveAttribute('data-severity', 'warning');
  await expect(findings.locator('[data-check="geometry.missing-slices"]')).toHaveAttribute('data-severity', 'blocker');
  await expect(page.getByTestId('referral-quality-blocked')).toBeVisible();
  await expect(page.getByTestId('referral-send')).toBeDisabled();

  // "Send anyway" without a reason is refused, and the case stays a draft.
  await page.getByTestId('referral-send-anyway').check();
  await page.getByTestId('referral-send-anyway-confirm').click();
  await expect(page.getByTestId('referral-error')).toContainText('reason of at least 10 characters');
  await expect(page.getByTestId('referral-wizard')).toHaveAttribute('data-state', 'draft');

  const reason = 'Patient cannot travel; the missing slice is away from the lesion';
  await page.getByTestId('referral-override-reason').fill(reason);
  await page.getByTestId('referral-send-anyway-confirm').click();
  await expect(page.getByTestId('referral-sent')).toBeVisible({ timeout: 30_000 });

  // Queued in the outbox, and the reason is kept on its job.
  await page.getByTestId('outbox-button').click();
  const job = page.getByTestId('outbox-job').filter({ hasText: 'Referral — QUALITY^GATE' });
  await expect(job).toHaveCount(1);
  const jobId = (await job.getAttribute('data-job-id'))!;
  // On disk the job keeps the override sealed (encryption at rest): present, but not readable in clear.
  const stored = await page.evaluate(
    (id) =>
      new Promise<Record<string, unknown> | undefined>((resolve, reject) => {
        const open = indexedDB.open('telerad');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('outboxJobs').objectStore('outboxJobs').get(id);
          get.onerror = () => reject(get.error);
          get.onsuccess = () => {
            resolve(get.result as Record<string, unknown> | undefined);
            open.result.close();
          };
        };
      }),
    jobId,
  );
  expect(stored).toHaveProperty('$sealed');
  expect(stored).not.toHaveProperty('qualityOverride');
  expect(JSON.stringify(stored)).not.toContain(reason);
  // The reason, who gave it and what it overrode are in main's audit trail with the case.
  const res = await fetch(`${host.origin}/api/audit.query`, {
    method: 'POST',
    headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' },
    body: JSON.stringify({ action: 'export' }),
  });
  const answer = (await res.json()) as { ok: boolean; value: { events: { actor: string; reason?: string }[] } };
  expect(answer.ok).toBe(true);
  const override = answer.value.events.find((e) => (e.reason ?? '').includes(reason));
  expect(override?.reason).toContain('Missing slices');
});
