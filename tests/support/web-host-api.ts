import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Envelope } from '../../src/shared/ipc/envelope';
import { startWebHost } from '../../src/main/hosts/web/web-host';
import type { WebHost, WebHostOptions } from '../../src/main/hosts/web/web-host';
import { unlockHost } from './e2e/unlock';

/**
 * A browser host over `tmp` with a stand-in renderer page (the tests talk to its API and gateway only),
 * unlocked as the lock screen would (the host answers no data channel while locked, issue 18) unless
 * `locked`. Other WebHostOptions pass through.
 */
export async function startTestWebHost(tmp: string, options: { locked?: boolean } & Partial<WebHostOptions> = {}): Promise<WebHost> {
  const { locked, ...hostOptions } = options;
  const rendererDir = join(tmp, 'renderer');
  mkdirSync(rendererDir, { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Telerad</title>');
  const host = await startWebHost({ dataDir: join(tmp, 'data'), rendererDir, version: 'test', ...hostOptions });
  if (!locked) await unlockTestHost(host);
  return host;
}

/** Gets a host past its lock over the contract: `vault.setup` with E2E_PASSPHRASE on a first start, `vault.unlock` after a restart. */
export async function unlockTestHost(host: Pick<WebHost, 'origin' | 'token'>): Promise<void> {
  await unlockHost(host);
}

/** Calls a service channel as the renderer does and unwraps its envelope (throws with the error code). */
export async function hostValue<T>(host: WebHost, channel: string, payload: unknown): Promise<T> {
  const res = await fetch(`${host.origin}/api/${channel}`, {
    method: 'POST',
    headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
  const env = (await res.json()) as Envelope<T>;
  if (!env.ok) throw new Error(`${channel}: ${env.error.code} ${env.error.message}`);
  return env.value;
}
