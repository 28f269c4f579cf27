import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
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
  const child: ChildProcess = spawn(process.execPath, [entry, ...withPort], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (out += d));
  const firstLine = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`browser host printed no URL within 20 s:\n${out}`)), 20_000);
    child.stdout!.on('data', (d: string) => {
      out += d;
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, nl).trim());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`browser host exited with ${code} before printing its URL:\n${out}`));
    });
  });
  const url = new URL(firstLine);
  const token = new URLSearchParams(url.hash.slice(1)).get('token') ?? '';
  if (!options.locked) await unlockHost({ origin: url.origin, token });
  return {
    url: firstLine,
    origin: url.origin,
    token,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await once(child, 'exit');
      clearTimeout(timer);
    },
  };
}
