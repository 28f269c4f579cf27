/**
 * `node dist/main/web-host.mjs [--port N] [--data-dir DIR] [--sites FILE] [--renderer-dir DIR]`
 *
 * The browser host as a command. Its first line of stdout is the URL to open
 * (launch token included) so scripts and tests can read it; everything else
 * goes to stderr and `<data-dir>/logs/main.log`.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import packageJson from '../../package.json';
import { startWebHost } from './hosts/web/web-host';
import { errorMessage } from '../shared/error-message';

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: web-host [--port N] [--data-dir DIR] [--sites FILE] [--renderer-dir DIR]\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values: { port?: string; 'data-dir'?: string; sites?: string; 'renderer-dir'?: string };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        port: { type: 'string' },
        'data-dir': { type: 'string' },
        sites: { type: 'string' },
        'renderer-dir': { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`--port must be a number from 0 to 65535`);

  const host = await startWebHost({
    port,
    dataDir: resolve(values['data-dir'] ?? join(homedir(), '.telerad-web')),
    // The bundle is dist/main/web-host.mjs; the renderer build sits beside it in dist/renderer.
    rendererDir: resolve(values['renderer-dir'] ?? fileURLToPath(new URL('../renderer/', import.meta.url))),
    ...(values.sites !== undefined ? { sitesFile: resolve(values.sites) } : {}),
    version: packageJson.version,
    logEcho: process.stderr,
  });
  process.stdout.write(`${host.url}\n`);

  const shutdown = (): void => {
    void host.close().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  // A bad provisioning file is the usual cause; its message already says which entry and field.
  process.stderr.write(`telerad web host failed to start: ${errorMessage(err)}\n`);
  process.exit(1);
});
