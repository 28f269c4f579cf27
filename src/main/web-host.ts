/**
 * `node dist/main/web-host.mjs [--port N] [--data-dir DIR] [--sites FILE] [--renderer-dir DIR]
 *   [--audit-repository tcp+tls://host:port] [--audit-ca FILE]`
 *
 * The browser host as a command. Its first line of stdout is the URL to open
 * (launch token included) so scripts and tests can read it; everything else
 * goes to stderr and `<data-dir>/logs/main.log`.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import packageJson from '../../package.json';
import { startWebHost } from './hosts/web/web-host';
import { errorMessage } from '../shared/error-message';
import { checkAuditRepositoryFlags } from './services/settings/app-settings';

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: web-host [--port N] [--data-dir DIR] [--sites FILE] [--renderer-dir DIR] [--audit-repository tcp+tls://host:port] [--audit-ca FILE]\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values: { port?: string; 'data-dir'?: string; sites?: string; 'renderer-dir'?: string; 'audit-repository'?: string; 'audit-ca'?: string };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        port: { type: 'string' },
        'data-dir': { type: 'string' },
        sites: { type: 'string' },
        'renderer-dir': { type: 'string' },
        // Where the audit trail is forwarded (IHE ATNA syslog); each replaces settings.json's audit entry.
        'audit-repository': { type: 'string' },
        'audit-ca': { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`--port must be a number from 0 to 65535`);
  let auditCa: string | undefined;
  if (values['audit-ca'] !== undefined) {
    try {
      auditCa = readFileSync(resolve(values['audit-ca']), 'utf8');
    } catch (err) {
      usage(`--audit-ca ${values['audit-ca']}: ${errorMessage(err)}`);
    }
  }
  try {
    checkAuditRepositoryFlags({ repository: values['audit-repository'], caCertificate: auditCa, caFile: values['audit-ca'] });
  } catch (err) {
    usage(errorMessage(err));
  }

  const host = await startWebHost({
    port,
    dataDir: resolve(values['data-dir'] ?? join(homedir(), '.telerad-web')),
    // The bundle is dist/main/web-host.mjs; the renderer build sits beside it in dist/renderer.
    rendererDir: resolve(values['renderer-dir'] ?? fileURLToPath(new URL('../renderer/', import.meta.url))),
    ...(values.sites !== undefined ? { sitesFile: resolve(values.sites) } : {}),
    ...(values['audit-repository'] !== undefined || auditCa !== undefined ? { auditRepository: { url: values['audit-repository'], caCertificate: auditCa } } : {}),
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
