import type { Page } from '@playwright/test';

/** The passphrase e2e hosts are set up with; a test that locks the app unlocks with it again. */
export const E2E_PASSPHRASE = 'correct horse battery';

async function call<T>(host: { origin: string; token: string }, channel: string, body: unknown): Promise<T> {
  const res = await fetch(`${host.origin}/api/${channel}`, {
    method: 'POST',
    headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let envelope: { ok?: boolean; value?: T; error?: { code?: string; message?: string } };
  try {
    envelope = JSON.parse(text) as typeof envelope;
  } catch {
    throw new Error(`${channel} answered HTTP ${res.status} with no JSON envelope: ${text.slice(0, 200)}`);
  }
  if (envelope.ok === true) return envelope.value as T;
  throw new Error(`${channel}: ${envelope.error?.code ?? res.status} ${envelope.error?.message ?? text.slice(0, 200)}`);
}

/**
 * Gets a browser host past its lock before the page is opened, over the same contract the lock screen
 * uses: the first start chooses E2E_PASSPHRASE (`vault.setup`), a restart over the same data dir
 * unlocks with it (`vault.unlock`). Tests of the lock itself start the host with `{ locked: true }`.
 */
export async function unlockHost(host: { origin: string; token: string }): Promise<void> {
  const status = await call<{ state: string }>(host, 'vault.status', {});
  if (status.state === 'new') await call(host, 'vault.setup', { passphrase: E2E_PASSPHRASE });
  else if (status.state === 'locked') await call(host, 'vault.unlock', { method: 'passphrase', secret: E2E_PASSPHRASE });
}

/**
 * At the lock screen in the page: chooses E2E_PASSPHRASE on a first start or unlocks with it, through
 * the form as a user does; the app then reloads unlocked. Does nothing when the app opened unlocked.
 */
export async function passLockScreen(page: Page): Promise<void> {
  const lock = page.getByTestId('lock-screen');
  const app = page.locator('.app-header');
  await lock.or(app).first().waitFor({ timeout: 30_000 });
  if (!(await lock.isVisible())) return;
  await page.getByTestId('lock-secret').fill(E2E_PASSPHRASE);
  const confirm = page.getByTestId('lock-confirm');
  if (await confirm.isVisible()) await confirm.fill(E2E_PASSPHRASE);
  await page.getByTestId('lock-submit').click();
  await app.waitFor({ timeout: 30_000 });
}
