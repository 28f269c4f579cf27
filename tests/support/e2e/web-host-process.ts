import path from 'node:path';
import { spawnHost } from '../host-process';
import { unlockHost } from './unlock';

export interface WebHostProcess {
  /** The URL the host printed, token included. */
  url: string;
  origin: string;
  token: string;
  /** Everything the host wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Runs the built browser host exactly as `npm run start:web` does
 * (node dist/main/web-host.mjs …) and reads its first line of stdout.
 * Then unlocks it with E2E_PASSPHRASE (first start: sets it), as a user at the lock screen would,
 * unless `locked` is asked for (the tests of the lock screen itself).
 */
export async function startWebHostProcess(args: string[], options: { locked?: boolean } = {}): Promise<WebHostProcess> {
  const entry = path.resolve('dist/main/web-host.mjs');
  const withPort = args.includes('--port') ? args : ['--port', '0', ...args];
  const host = await spawnHost([entry, ...withPort], 20_000);
  if (!options.locked) await unlockHost(host);
  return {
    url: host.url,
    origin: host.origin,
    token: host.token,
    output: host.output,
    stop: async () => {
      if (host.child.exitCode !== null) return;
      const timer = setTimeout(() => host.child.kill('SIGKILL'), 5000);
      await host.kill('SIGTERM');
      clearTimeout(timer);
    },
  };
}
