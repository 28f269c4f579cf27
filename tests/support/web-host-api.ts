import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Envelope } from '../../src/shared/ipc/envelope';
import { startWebHost } from '../../src/main/hosts/web/web-host';
import type { WebHost } from '../../src/main/hosts/web/web-host';

/** A browser host over `tmp` with a stand-in renderer page (the tests talk to its API and gateway only). */
export async function startTestWebHost(tmp: string): Promise<WebHost> {
  const rendererDir = join(tmp, 'renderer');
  mkdirSync(rendererDir, { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Telerad</title>');
  return startWebHost({ dataDir: join(tmp, 'data'), rendererDir, version: 'test' });
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
