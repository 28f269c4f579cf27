import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { expect, test } from '@playwright/test';
import { probeViewportCanvas } from '../support/e2e/canvas';
import { passLockScreen } from '../support/e2e/unlock';

// `npm run demo` is the first thing a newcomer runs: it must bring up the app
// on its own demo site, and the demo CT must open and paint.
let demo: ChildProcess;
let url: string;
let output = '';

test.beforeAll(async () => {
  demo = spawn(process.execPath, ['scripts/demo.mjs', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  demo.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`the demo printed no URL within 90 s:\n${output}`)), 90_000);
    demo.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const m = /http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]+/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    demo.once('exit', (code) => reject(new Error(`the demo exited with ${code}:\n${output}`)));
  });
});

test.afterAll(async () => {
  if (demo && demo.exitCode === null) {
    demo.kill('SIGINT');
    const timer = setTimeout(() => demo.kill('SIGKILL'), 15_000);
    await once(demo, 'exit');
    clearTimeout(timer);
  }
});

test('the demo lists its CT and chest X-ray and opens the CT', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto(url);
  await passLockScreen(page);
  const rows = page.locator('[data-testid="worklist-row"]');
  await expect(rows.filter({ hasText: 'DEMO-001' })).toBeVisible();
  await expect(rows.filter({ hasText: 'DEMO-002' })).toBeVisible();
  await expect(page.locator('[data-testid="site-status"]')).toHaveAttribute('data-state', 'ok');

  await rows.filter({ hasText: 'DEMO-001' }).locator('[data-testid="open-study"]').click();
  const viewport = page.locator('[data-testid="viewport"]');
  await expect(viewport).toHaveAttribute('data-state', 'ready', { timeout: 90_000 });
  await expect(viewport).toHaveAttribute('data-image-count', '40');
  const probe = await probeViewportCanvas(page, { columns: 512, rows: 512 }, { x: 256, y: 300 });
  expect(probe.stdDev).toBeGreaterThan(20);
});

test('the demo chest X-ray opens and paints', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto(url);
  await passLockScreen(page);
  await page.locator('[data-testid="worklist-row"]', { hasText: 'DEMO-002' }).locator('[data-testid="open-study"]').click();
  const viewport = page.locator('[data-testid="viewport"]');
  await expect(viewport).toHaveAttribute('data-state', 'ready', { timeout: 90_000 });
  // Lung fields are dark, the mediastinum between them bright (columns × rows = 2048 × 2500).
  const lung = await probeViewportCanvas(page, { columns: 2048, rows: 2500 }, { x: 600, y: 1100 });
  const mediastinum = await probeViewportCanvas(page, { columns: 2048, rows: 2500 }, { x: 1024, y: 1100 });
  expect(mediastinum.lumAtImagePoint).toBeGreaterThan(lung.lumAtImagePoint + 30);
  await page.screenshot({ path: 'test-results/demo-xray.png' });
});

test('the demo hands the rural side a CD and a photo that New referral imports', async ({ page }) => {
  test.setTimeout(120_000);
  const cdDir = /the CD folder (\S+)/.exec(output)?.[1];
  const photo = /and the photo (\S+)/.exec(output)?.[1];
  expect(cdDir, `the demo printed no CD folder:\n${output}`).toBeTruthy();
  expect(photo).toBeTruthy();
  await page.goto(url);
  await passLockScreen(page);
  await page.getByTestId('new-referral-button').click();
  await page.getByTestId('referral-import-folder').setInputFiles(cdDir!);
  // 20 CT slices and the X-ray, found through the CD's DICOMDIR.
  await expect(page.getByTestId('referral-import-count')).toContainText('21 image instance(s)', { timeout: 60_000 });
  await page.getByTestId('referral-import-attachments').setInputFiles(photo!);
  await expect(page.getByTestId('referral-import-count')).toContainText('1 photo(s)', { timeout: 30_000 });
  await expect(page.getByTestId('referral-patient')).toContainText('MOYO^GRACE');
});
