import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ServiceError } from '../../../src/shared/ipc/envelope';
import { createLogger, memorySink } from '../../../src/shared/log';
import { AuditLog, auditLogPath } from '../../../src/main/services/audit/audit-log';
import { VaultFile, vaultFilePath } from '../../../src/main/services/vault/vault-file';
import type { VaultFileContent } from '../../../src/main/services/vault/vault-file';
import { startWebHost } from '../../../src/main/hosts/web/web-host';
import { defaultUnlockAttemptsDir } from '../../../src/main/services/vault/unlock-attempts';
import { VaultService } from '../../../src/main/services/vault/vault-service';

// Issue 18: the wrong-passphrase count must not live only in vault.json, where a copy put back or an edit resets it.

const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const RIGHT = ['correct', 'horse', 'battery', 'staple'].join(' ');
const WRONG = ['incorrect', 'donkey', 'battery', 'staple'].join(' ');

let dataDir: string;
let stateRoot: string;
let stateDir: string;
let now: number;
let sink: ReturnType<typeof memorySink>;
let audit: AuditLog;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'telerad-vault-data-'));
  // Outside the data folder, as in the product (the user's state folder).
  stateRoot = mkdtempSync(join(tmpdir(), 'telerad-vault-state-'));
  stateDir = join(stateRoot, 'telerad-workstation', 'unlock-attempts');
  now = Date.parse('2026-03-01T08:00:00Z');
  sink = memorySink();
  audit = new AuditLog({ filePath: auditLogPath(dataDir), clock: () => new Date(now), log: createLogger('audit', sink) });
});
afterEach(async () => {
  await audit.readMatching({});
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(stateRoot, { recursive: true, force: true });
});

/** A new VaultService is what a restart of the app gives. */
function startVault(): VaultService {
  return new VaultService({
    file: new VaultFile(vaultFilePath(dataDir)),
    now: () => now,
    audit,
    log: createLogger('vault', sink),
    scrypt: FAST_SCRYPT,
    unlockAttemptsDir: stateDir,
  });
}

const fileContent = (): VaultFileContent => JSON.parse(readFileSync(vaultFilePath(dataDir), 'utf8')) as VaultFileContent;

function stateFiles(): string[] {
  try {
    return readdirSync(stateDir);
  } catch {
    return [];
  }
}

function stateFile(): string {
  const names = stateFiles();
  expect(names).toHaveLength(1);
  expect(names[0]).toMatch(/^[0-9a-f]{32}\.json$/);
  return join(stateDir, names[0] as string);
}

async function refusal(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ServiceError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

/** Four wrong passphrases: the fourth starts a 2 s wait. */
async function fourWrong(vault: VaultService): Promise<void> {
  for (let i = 0; i < 4; i++) await refusal(vault.unlock('passphrase', WRONG));
  expect((await vault.status()).retryAfterMs).toBe(2000);
}

describe('the wrong-passphrase count outside vault.json', () => {
  it('restoring an old vault.json does not reset the wrong-passphrase wait', async () => {
    const keys = await startVault().setup(RIGHT);
    const backup = join(stateRoot, 'vault.json.bak');
    copyFileSync(vaultFilePath(dataDir), backup);
    const vault = startVault();
    await fourWrong(vault);

    copyFileSync(backup, vaultFilePath(dataDir));
    expect(fileContent().failedUnlocks.count).toBe(0);
    // Neither while the app runs …
    expect((await vault.status()).retryAfterMs).toBe(2000);
    expect((await refusal(vault.unlock('passphrase', RIGHT))).message).toBe('Wrong passphrase 4 times in a row; try again in 2 s.');
    // … nor after a restart.
    const restarted = startVault();
    expect((await restarted.status()).retryAfterMs).toBe(2000);
    expect((await refusal(restarted.unlock('passphrase', RIGHT))).message).toBe('Wrong passphrase 4 times in a row; try again in 2 s.');

    // The count goes on from the highest copy, in every copy.
    now += 2000;
    expect((await refusal(restarted.unlock('passphrase', WRONG))).message).toBe('Wrong passphrase; try again in 4 s.');
    expect(fileContent().failedUnlocks.count).toBe(5);
    expect(JSON.parse(readFileSync(stateFile(), 'utf8'))).toEqual({ count: 5, lastAt: now });
    now += 4000;
    expect(await restarted.unlock('passphrase', RIGHT)).toEqual(keys);
  });

  it('editing failedUnlocks in vault.json to 0 does not reset the wait', async () => {
    await startVault().setup(RIGHT);
    const vault = startVault();
    await fourWrong(vault);

    writeFileSync(vaultFilePath(dataDir), JSON.stringify({ ...fileContent(), failedUnlocks: { count: 0, lastAt: 0 } }));
    expect((await vault.status()).retryAfterMs).toBe(2000);
    expect((await startVault().status()).retryAfterMs).toBe(2000);
    expect((await refusal(startVault().unlock('passphrase', RIGHT))).code).toBe('UNAUTHORIZED');

    // While the app runs, removing the state file as well changes nothing either: memory keeps the count.
    rmSync(stateFile());
    expect((await vault.status()).retryAfterMs).toBe(2000);
    expect((await refusal(vault.unlock('passphrase', RIGHT))).message).toBe('Wrong passphrase 4 times in a row; try again in 2 s.');
  });

  it('a successful unlock resets the counter in both places', async () => {
    const keys = await startVault().setup(RIGHT);
    const vault = startVault();
    await fourWrong(vault);
    expect(fileContent().failedUnlocks).toEqual({ count: 4, lastAt: now });
    const file = stateFile();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ count: 4, lastAt: now });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);

    now += 2000;
    expect(await vault.unlock('passphrase', RIGHT)).toEqual(keys);
    expect(fileContent().failedUnlocks).toEqual({ count: 0, lastAt: 0 });
    expect(stateFiles()).toEqual([]);

    // Counting starts again from 0, in this run and after a restart.
    await vault.lock('user');
    expect((await refusal(vault.unlock('passphrase', WRONG))).message).toBe('Wrong passphrase; try again.');
    expect((await startVault().status()).retryAfterMs).toBe(0);
  });

  it('names the state file by the vault, so another vault (a new setup) starts its own count', async () => {
    await startVault().setup(RIGHT);
    await fourWrong(startVault());
    const first = stateFile();

    rmSync(vaultFilePath(dataDir));
    await startVault().setup(RIGHT);
    expect((await startVault().status()).retryAfterMs).toBe(0);
    expect(stateFiles()).toEqual([first.slice(stateDir.length + 1)]);
  });

  it('reads the state file once per vault in a run: status polls do not read it again, a restart does', async () => {
    await startVault().setup(RIGHT);
    const vault = startVault();
    expect((await vault.status()).retryAfterMs).toBe(0);
    await fourWrong(startVault());
    // Another process wrote it (which the product never does while this one runs), and vault.json's count is put back:
    // this run's polls do not look at the state file again …
    writeFileSync(vaultFilePath(dataDir), JSON.stringify({ ...fileContent(), failedUnlocks: { count: 0, lastAt: 0 } }));
    expect((await vault.status()).retryAfterMs).toBe(0);
    // … a restart does.
    expect((await startVault().status()).retryAfterMs).toBe(2000);
  });

  it('an unlocked vault answers no wait, whatever the count', async () => {
    const vault = startVault();
    await vault.setup(RIGHT);
    await fourWrong(startVault());
    expect((await vault.status()).retryAfterMs).toBe(0);
    await vault.lock('user');
    expect((await vault.status()).retryAfterMs).toBe(2000);
  });

  it('a state file that cannot be read is logged and the other copies still count', async () => {
    await startVault().setup(RIGHT);
    await fourWrong(startVault());
    writeFileSync(stateFile(), '{ not json');
    expect((await startVault().status()).retryAfterMs).toBe(2000);
    expect(sink.records.some((r) => r.level === 'warn' && /wrong-passphrase count/.test(r.message))).toBe(true);
  });
});

describe('where the hosts keep the count', () => {
  it("uses $XDG_STATE_HOME, else ~/.local/state, on Linux; %LOCALAPPDATA% on Windows; never the data folder", () => {
    expect(defaultUnlockAttemptsDir({ XDG_STATE_HOME: '/x/state' }, '/home/u', 'linux')).toBe('/x/state/telerad-workstation/unlock-attempts');
    expect(defaultUnlockAttemptsDir({}, '/home/u', 'linux')).toBe('/home/u/.local/state/telerad-workstation/unlock-attempts');
    // The XDG spec: a relative value is to be ignored.
    expect(defaultUnlockAttemptsDir({ XDG_STATE_HOME: 'rel' }, '/home/u', 'linux')).toBe('/home/u/.local/state/telerad-workstation/unlock-attempts');
    expect(defaultUnlockAttemptsDir({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'C:\\Users\\u', 'win32')).toContain('telerad-workstation');
    expect(defaultUnlockAttemptsDir({}, '/Users/u', 'darwin')).toBe('/Users/u/Library/Application Support/telerad-workstation-state/unlock-attempts');
  });

  it('the browser host counts in $XDG_STATE_HOME/telerad-workstation/unlock-attempts unless told another folder', async () => {
    const rendererDir = join(stateRoot, 'renderer');
    mkdirSync(rendererDir);
    writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Telerad</title>');
    const xdg = join(stateRoot, 'xdg-state');
    const saved = process.env.XDG_STATE_HOME;
    process.env.XDG_STATE_HOME = xdg;
    try {
      for (const [given, expected] of [
        [undefined, join(xdg, 'telerad-workstation', 'unlock-attempts')],
        [join(stateRoot, 'given'), join(stateRoot, 'given')],
      ] as const) {
        rmSync(vaultFilePath(dataDir), { force: true });
        const host = await startWebHost({ dataDir, rendererDir, version: 'test', ...(given ? { unlockAttemptsDir: given } : {}) });
        try {
          await host.services.vault.setup(RIGHT);
          await host.services.vault.lock('user');
          await refusal(host.services.vault.unlock('passphrase', WRONG));
          expect(readdirSync(expected)).toHaveLength(1);
          expect(expected.startsWith(dataDir)).toBe(false);
        } finally {
          await host.close();
        }
      }
    } finally {
      if (saved === undefined) delete process.env.XDG_STATE_HOME;
      else process.env.XDG_STATE_HOME = saved;
    }
  }, 30_000);
});
