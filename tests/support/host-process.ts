// The browser host as its own process, for tests that must stop or kill it: started with the
// command given (the built bundle, or the source through tsx), read up to the first line of
// stdout, which is its URL with the launch token in the fragment.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { LAUNCH_TOKEN_FRAGMENT } from '../../src/shared/launch-token';

export interface SpawnedHost {
  /** The first line the host printed: its URL, launch token included. */
  url: string;
  origin: string;
  token: string;
  child: ChildProcess;
  /** Everything the host wrote to stdout and stderr so far. */
  output(): string;
  /** Sends the signal and waits for the exit; nothing when it has already gone. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** `node <args>`; waits up to `timeoutMs` for the URL. */
export async function spawnHost(nodeArgs: readonly string[], timeoutMs: number): Promise<SpawnedHost> {
  const child = spawn(process.execPath, [...nodeArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (out += d));
  const first = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`browser host printed no URL within ${timeoutMs / 1000} s:\n${out}`)), timeoutMs);
    child.stdout!.on('data', (d: string) => {
      out += d;
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, nl).trim());
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`browser host exited with ${code ?? signal} before printing its URL:\n${out}`));
    });
  });
  const url = new URL(first);
  return {
    url: first,
    origin: url.origin,
    token: new URLSearchParams(url.hash.slice(1)).get(LAUNCH_TOKEN_FRAGMENT) ?? '',
    child,
    output: () => out,
    kill: async (signal) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill(signal);
      await exited;
    },
  };
}

/**
 * The host from source with tsx (no build step; the same code esbuild bundles into
 * dist/main/web-host.mjs), on a free port.
 */
export function spawnSourceHost(args: readonly string[]): Promise<SpawnedHost> {
  return spawnHost(['--import', 'tsx', path.resolve('src/main/web-host.ts'), '--port', '0', ...args], 30_000);
}
