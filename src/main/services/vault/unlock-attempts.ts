import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../../../shared/log';
import { ensurePrivateDataDir, readJsonFile, writePrivateJsonFile } from '../fs/private-json-file';

/** Wrong passphrases in a row and when the last one came (ms since epoch). */
export interface FailedUnlocks {
  count: number;
  lastAt: number;
}

export const NO_FAILED_UNLOCKS: FailedUnlocks = { count: 0, lastAt: 0 };

const StateFileSchema = z.object({
  count: z.number().int().nonnegative(),
  lastAt: z.number().nonnegative(),
});

const VAULT_ID = /^[0-9a-f]{32}$/;

/**
 * Where the hosts keep the count outside the data folder: the user's state
 * folder (`$XDG_STATE_HOME`, else `~/.local/state`) on Linux and others,
 * `%LOCALAPPDATA%` on Windows, `~/Library/Application Support/…-state` on
 * macOS. None of these is the data folder a backup or a copy takes along.
 */
export function defaultUnlockAttemptsDir(env: NodeJS.ProcessEnv, home: string, platform: NodeJS.Platform): string {
  if (platform === 'win32') return join(env.LOCALAPPDATA || join(home, 'AppData', 'Local'), 'telerad-workstation', 'unlock-attempts');
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'telerad-workstation-state', 'unlock-attempts');
  // The XDG spec says a relative value is invalid and to be ignored.
  const stateHome = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(home, '.local', 'state');
  return join(stateHome, 'telerad-workstation', 'unlock-attempts');
}

export interface UnlockAttemptsOptions {
  /** The folder of per-vault state files (0700, files 0600); undefined keeps the count in memory and vault.json only. */
  dir: string | undefined;
  log: Logger;
}

/**
 * The wrong-passphrase count, kept where a copied or restored vault.json
 * cannot reach it (issue 18). Three copies: this process's memory (never
 * lower while it runs), a state file outside the data folder named by the
 * vault's id (`<dir>/<vault-id>.json`), and vault.json's `failedUnlocks`.
 * The highest count and the latest time win; a wrong passphrase writes all
 * three, and only a right one resets them. So putting back an old
 * vault.json, or editing its count to 0, changes nothing: not while the app
 * runs (memory), nor after a restart (the state file).
 *
 * What this does not do: someone with the user's account can delete or edit
 * the state file as well and restart the app, and the rate limit is gone.
 * And a copy of vault.json taken elsewhere is not rate-limited at all: there
 * only scrypt's cost bounds guessing, ≈ 0.25 s per guess per core at N=2^17
 * (measured in Node on the 2-core build machine, 2026-12-07), i.e. ≈ 4
 * guesses per second per core, ≈ 350 000 a day per core; dedicated hardware
 * does better, with 128 MiB of memory per guess in flight. A copy of a key
 * file made before the upgrade stays at 2^15 (≈ 16 guesses/s/core). In
 * Electron safeStorage's outer wrap is what keeps a copy from being guessed
 * on another machine at all. A long passphrase is the real defence.
 */
export class UnlockAttempts {
  private readonly inMemory = new Map<string, FailedUnlocks>();
  /** Vault ids whose state file this process has read: once is enough, memory never goes lower and this process is then its only writer. */
  private readonly stateFileRead = new Set<string>();

  constructor(private readonly options: UnlockAttemptsOptions) {}

  /** The state file of a vault; undefined when no folder was given. */
  stateFilePath(vaultId: string): string | undefined {
    if (!VAULT_ID.test(vaultId)) throw new Error('A vault id is 32 hex digits');
    return this.options.dir === undefined ? undefined : join(this.options.dir, `${vaultId}.json`);
  }

  /**
   * The highest of the three counts (and the latest time); memory takes it on, so it cannot drop while the process runs.
   * The state file is read at the first call for a vault id in this process only (a status poll must not read it each time);
   * a restart reads it again.
   */
  async current(vaultId: string, inVaultFile: FailedUnlocks): Promise<FailedUnlocks> {
    const copies = [this.inMemory.get(vaultId) ?? NO_FAILED_UNLOCKS, inVaultFile];
    if (!this.stateFileRead.has(vaultId)) {
      copies.push(await this.readStateFile(vaultId));
      this.stateFileRead.add(vaultId);
    }
    const highest = highestOf(copies);
    if (highest.count > 0) this.inMemory.set(vaultId, highest);
    return highest;
  }

  /** A wrong passphrase: memory and the state file (vault.json is the caller's). A state file that cannot be written is logged. */
  async recordFailure(vaultId: string, next: FailedUnlocks): Promise<void> {
    const value = highestOf([this.inMemory.get(vaultId) ?? NO_FAILED_UNLOCKS, next]);
    this.inMemory.set(vaultId, value);
    const filePath = this.stateFilePath(vaultId);
    if (!filePath || this.options.dir === undefined) return;
    try {
      await ensurePrivateDataDir(this.options.dir);
      await writePrivateJsonFile(filePath, value);
    } catch (err) {
      this.options.log.error('Could not record the wrong passphrase outside the data folder', err);
    }
  }

  /** A right passphrase: the count goes back to 0 in memory and the state file is removed. */
  async reset(vaultId: string): Promise<void> {
    this.inMemory.delete(vaultId);
    const filePath = this.stateFilePath(vaultId);
    if (!filePath) return;
    try {
      await rm(filePath, { force: true });
    } catch (err) {
      this.options.log.error('Could not reset the wrong-passphrase count outside the data folder', err);
    }
  }

  private async readStateFile(vaultId: string): Promise<FailedUnlocks> {
    const filePath = this.stateFilePath(vaultId);
    if (!filePath) return NO_FAILED_UNLOCKS;
    try {
      const raw = await readJsonFile(filePath);
      if (raw === undefined) return NO_FAILED_UNLOCKS;
      const parsed = StateFileSchema.safeParse(raw);
      if (parsed.success) return parsed.data;
      this.options.log.warn(`${filePath} is not a wrong-passphrase count this version understands; the other copies count`);
    } catch (err) {
      this.options.log.warn(`Could not read the wrong-passphrase count in ${filePath}; the other copies count`, err);
    }
    return NO_FAILED_UNLOCKS;
  }
}

function highestOf(all: FailedUnlocks[]): FailedUnlocks {
  return { count: Math.max(...all.map((a) => a.count)), lastAt: Math.max(...all.map((a) => a.lastAt)) };
}
