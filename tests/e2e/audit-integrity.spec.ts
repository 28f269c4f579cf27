import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, expect, test } from '@playwright/test';
import type { Browser } from '@playwright/test';
import { rechainAuditFile } from '../support/audit-rechain';
import { passLockScreen } from '../support/e2e/unlock';
import { startWebHostProcess } from '../support/e2e/web-host-process';
import type { WebHostProcess } from '../support/e2e/web-host-process';

// Issue 17: whoever can write the data folder deletes the newest audit lines while the app is closed.
// At the next start the Audit panel says how many records are missing, and that nothing is forwarded.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let tmp: string;
let host: WebHostProcess | undefined;
let browser: Browser | undefined;

test.beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-e2e-audit-integrity-'));
});
test.afterAll(async () => {
  await browser?.close();
  await host?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('the Audit panel says at start how many of the newest records were removed', async () => {
  const dataDir = path.join(tmp, 'data');
  host = await startWebHostProcess(['--data-dir', dataDir]);
  for (let i = 1; i <= 4; i++) {
    const res = await fetch(`${host.origin}/api/audit.record`, {
      method: 'POST',
      headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'study.view', actor: 'Dr Ama Mensah', patient: { id: `INT-${i}`, name: `DOE^P${i}` }, outcome: 'success' }),
    });
    expect(((await res.json()) as { ok: boolean }).ok).toBe(true);
  }
  await host.stop();

  const live = path.join(dataDir, 'audit', 'audit.jsonl');
  const rows = readFileSync(live, 'utf8').split('\n').filter(Boolean);
  writeFileSync(live, rows.slice(0, -3).map((r) => `${r}\n`).join(''));

  host = await startWebHostProcess(['--data-dir', dataDir]);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  await page.goto(host.url);
  await page.getByTestId('audit-button').click();
  const audit = page.getByRole('region', { name: 'Audit trail' });
  await expect(audit.getByTestId('audit-integrity')).toContainText(`3 newest records missing: #${rows.length - 2}–#${rows.length} were written but the log ends at #${rows.length - 3}`);
  await expect(audit.getByTestId('audit-forwarding')).toContainText('Not forwarded: no Audit Record Repository is configured');
  // The finding is in the trail itself, where a repository would receive it.
  await expect(audit.locator('tr[data-outcome="failure"]').filter({ hasText: 'Audit trail damaged' })).toHaveCount(1);
});

test('a re-chained audit file fails verify: the Audit panel says so after the unlock', async () => {
  // Issue 18: a line changed and every prev and hash after it recomputed with plain SHA-256 (the MACs
  // dropped, as if written before an unlock), the head record's clear part set to match. The chain
  // alone verifies; the line MACs and the head's signed copy, under the vault's key, do not.
  const dataDir = path.join(tmp, 'rechained');
  await host?.stop();
  host = await startWebHostProcess(['--data-dir', dataDir]);
  for (let i = 1; i <= 4; i++) {
    const res = await fetch(`${host.origin}/api/audit.record`, {
      method: 'POST',
      headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'study.view', actor: 'Dr Ama Mensah', patient: { id: `RC-${i}`, name: `DOE^RC${i}` }, outcome: 'success' }),
    });
    expect(((await res.json()) as { ok: boolean }).ok).toBe(true);
  }
  await host.stop();

  const live = path.join(dataDir, 'audit', 'audit.jsonl');
  expect(readFileSync(live, 'utf8')).not.toContain('DOE^RC');
  rechainAuditFile(path.join(dataDir, 'audit'), (lines) => {
    lines[2]!.actor = 'Dr Mallory';
  });

  host = await startWebHostProcess(['--data-dir', dataDir]);
  browser ??= await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  await page.goto(host.url);
  await passLockScreen(page);
  await page.getByTestId('audit-button').click();
  const audit = page.getByRole('region', { name: 'Audit trail' });
  await expect(audit.getByTestId('audit-integrity')).toContainText('is not the one this workstation signed: the log was rewritten (re-chained) outside the app');
  await expect(audit.locator('tr[data-outcome="failure"]').filter({ hasText: 'Audit trail damaged' })).toHaveCount(1);
  // The sealed fields of the lines still open after the unlock.
  await expect(audit.getByText('DOE^RC1')).toBeVisible();
});
