import { randomBytes } from 'node:crypto';
import type { VaultKeys, VaultStatus } from '../../../shared/ipc/contract';
import { ServiceError } from '../../../shared/ipc/envelope';
import type { Logger } from '../../../shared/log';
import type { AuditLog } from '../audit/audit-log';
import { SerialQueue } from '../fs/private-json-file';
import type { ScryptParams } from './vault-crypto';
import { DEFAULT_SCRYPT, MASTER_BYTES, PIN_SCRYPT, SALT_BYTES, deriveAuditHeadKey, deriveVaultKeys, deriveWrappingKey, unwrapSecret, wrapSecret } from './vault-crypto';
import type { VaultFile, VaultFileContent } from './vault-file';
import { VaultFileUnreadable, vaultId } from './vault-file';
import type { FailedUnlocks } from './unlock-attempts';
import { NO_FAILED_UNLOCKS, UnlockAttempts } from './unlock-attempts';

/**
 * A second wrapping of the already passphrase-wrapped master secret: Electron
 * passes safeStorage (the OS keychain), so the file alone is not enough to
 * start guessing passphrases. The browser host has none.
 */
export interface VaultOuterWrap {
  encrypt(plain: Buffer): Promise<Buffer>;
  decrypt(wrapped: Buffer): Promise<Buffer>;
}

/** `no-page`: main's own, when no app window (Electron) or page (browser host) was there for a while. */
export type VaultLockReason = 'user' | 'idle' | 'os-lock' | 'suspend' | 'no-page';

export interface VaultServiceOptions {
  file: VaultFile;
  outerWrap?: VaultOuterWrap;
  /** ms since epoch; the rate limit's clock. */
  now: () => number;
  audit: Pick<AuditLog, 'recordSystem' | 'useHeadKey'>;
  log: Logger;
  /**
   * Only tests lower this (scrypt at full cost makes a rate-limit test slow); new key files record what they used.
   * It sets the PIN's cost too (PIN_SCRYPT otherwise). Key files at a lower N are re-wrapped at this one.
   */
  scrypt?: ScryptParams;
  /**
   * The folder outside the data folder where wrong passphrases are counted too, per vault id
   * (unlock-attempts.ts; the hosts pass the user's state folder). Undefined: memory and vault.json only.
   */
  unlockAttemptsDir?: string;
}

export const DEFAULT_IDLE_LOCK_MINUTES = 10;
/** Wrong passphrases allowed in a row before each next try has to wait. */
export const FREE_PASSPHRASE_FAILURES = 3;
export const MAX_PASSPHRASE_WAIT_MS = 15 * 60_000;
/** Wrong PINs in a row after which the PIN is forgotten and the passphrase is required. */
export const MAX_PIN_FAILURES = 5;

/** How long to wait after `failures` wrong passphrases in a row: nothing for the first 3, then 2, 4, 8 … s, at most 15 min. */
export function passphraseWaitMs(failures: number): number {
  if (failures <= FREE_PASSPHRASE_FAILURES) return 0;
  return Math.min(2 ** (failures - FREE_PASSPHRASE_FAILURES) * 1000, MAX_PASSPHRASE_WAIT_MS);
}

const LOCK_REASONS: Record<VaultLockReason, string> = {
  user: 'locked by the user',
  idle: 'locked after the idle time without input',
  'os-lock': 'locked because the operating system locked the screen',
  suspend: 'locked because the computer went to sleep',
  'no-page': 'locked because no app window was open',
};

interface Unlocked {
  master: Buffer;
  keys: VaultKeys;
}

/** The master secret sealed under a PIN-derived key, in this process's memory only. */
interface PinSeal {
  salt: Buffer;
  params: ScryptParams;
  wrapped: Buffer;
  wrongInARow: number;
}

/**
 * The key to clinical data at rest (issue 9), kept in main. A random master
 * secret is wrapped under scrypt(passphrase) in `vault.json`; unlocking
 * answers keys derived from it with HKDF, so the same master always gives
 * the same keys. Locking drops the master and the data key but keeps the
 * outbox key, so background sending goes on. Every operation runs through
 * one queue: two unlock attempts at once cannot both read the same failure
 * count.
 */
export class VaultService {
  private readonly queue = new SerialQueue();
  private readonly scryptParams: ScryptParams;
  private readonly pinScryptParams: ScryptParams;
  private readonly attempts: UnlockAttempts;
  private unlocked: Unlocked | undefined;
  private outbox: Pick<VaultKeys, 'outboxKey' | 'keyId'> | undefined;
  private pin: PinSeal | undefined;
  private lastLockReason: VaultLockReason | undefined;
  /** The key file's idleLockMinutes as of the last setup, unlock or setIdleLock: main's idle lock asks this, not the file. */
  private idleMinutes = DEFAULT_IDLE_LOCK_MINUTES;

  constructor(private readonly options: VaultServiceOptions) {
    this.scryptParams = options.scrypt ?? DEFAULT_SCRYPT;
    this.pinScryptParams = options.scrypt ?? PIN_SCRYPT;
    this.attempts = new UnlockAttempts({ dir: options.unlockAttemptsDir, log: options.log });
  }

  status(): Promise<VaultStatus> {
    return this.queue.run(async () => {
      const file = await this.readFile();
      return {
        state: !file ? 'new' : this.unlocked ? 'unlocked' : 'locked',
        pinSet: this.pin !== undefined,
        idleLockMinutes: file?.idleLockMinutes ?? DEFAULT_IDLE_LOCK_MINUTES,
        // Only the lock screen shows the wait: an unlocked vault's status (polled every few seconds) counts nothing.
        retryAfterMs: file && !this.unlocked ? this.retryAfterMs(await this.attempts.current(vaultId(file), file.failedUnlocks)) : 0,
        outboxKeyAvailable: this.outbox !== undefined,
        keyProtection: file?.keyProtection ?? (this.options.outerWrap ? 'passphrase+safeStorage' : 'passphrase'),
        ...(file && !this.unlocked && this.lastLockReason ? { lockReason: this.lastLockReason } : {}),
      };
    });
  }

  /** Whether the data key is in memory now; what the host's lock policy asks before every call (no file read). */
  isUnlocked(): boolean {
    return this.unlocked !== undefined;
  }

  /**
   * The idle lock's minutes, from memory (set at setup, unlock and setIdleLock): main's idle check reads no
   * file, so a key file damaged while unlocked cannot keep the vault from idle-locking.
   */
  idleLockMinutes(): number {
    return this.idleMinutes;
  }

  /** Whether the outbox key is held (the vault was unlocked once in this run), so background sending may go on while locked. */
  holdsOutboxKey(): boolean {
    return this.outbox !== undefined;
  }

  /** First start only: makes the master secret, wraps it under the passphrase, and unlocks. */
  setup(passphrase: string): Promise<VaultKeys> {
    return this.queue.run(async () => {
      if (await this.readFile()) throw new ServiceError('CONFLICT', 'A passphrase was already chosen on this computer; unlock with it instead.');
      const master = randomBytes(MASTER_BYTES);
      const salt = randomBytes(SALT_BYTES);
      const params = this.scryptParams;
      const inner = wrapSecret(await deriveWrappingKey(passphrase, salt, params), master);
      let stored = inner;
      if (this.options.outerWrap) {
        try {
          stored = await this.options.outerWrap.encrypt(inner);
        } catch (err) {
          this.options.log.error('The OS keychain could not wrap the new key', err);
          throw new ServiceError('CONFLICT', 'The OS keychain refused to protect the new key, so nothing was saved. Unlock or repair the keyring and try again.');
        }
      }
      await this.options.file.write({
        format: 'telerad-vault',
        version: 1,
        keyProtection: this.options.outerWrap ? 'passphrase+safeStorage' : 'passphrase',
        kdf: { name: 'scrypt', salt: salt.toString('base64'), ...params },
        cipher: 'aes-256-gcm',
        wrappedMaster: stored.toString('base64'),
        failedUnlocks: { count: 0, lastAt: 0 },
        idleLockMinutes: DEFAULT_IDLE_LOCK_MINUTES,
      });
      this.options.log.info(`Key file created (${this.options.outerWrap ? 'passphrase and OS keychain' : 'passphrase'})`);
      this.idleMinutes = DEFAULT_IDLE_LOCK_MINUTES;
      const keys = await this.becomeUnlocked(master);
      this.options.audit.recordSystem({ action: 'login', outcome: 'success', reason: 'passphrase chosen at first start' });
      return keys;
    });
  }

  unlock(method: 'passphrase' | 'pin', secret: string): Promise<VaultKeys> {
    return this.queue.run(async () => {
      const file = await this.readFile();
      if (!file) throw new ServiceError('CONFLICT', 'No passphrase has been chosen yet; set one up first.');
      const master = method === 'passphrase' ? await this.checkPassphrase(file, secret, 'unlock the workstation') : await this.checkPin(secret);
      const keys = await this.becomeUnlocked(master);
      this.idleMinutes = file.idleLockMinutes;
      this.options.audit.recordSystem({ action: 'login', outcome: 'success', reason: `unlocked with the ${method === 'pin' ? 'PIN' : 'passphrase'}` });
      return keys;
    });
  }

  /** The keys again while unlocked (a reloaded page). */
  keys(): VaultKeys {
    if (!this.unlocked) throw new ServiceError('UNAUTHORIZED', 'The workstation is locked; unlock it first.');
    return this.unlocked.keys;
  }

  /** The outbox key alone: available from the first unlock of this run on, locked or not. */
  outboxKey(): Pick<VaultKeys, 'outboxKey' | 'keyId'> {
    if (!this.outbox) throw new ServiceError('UNAUTHORIZED', 'The outbox key is not available until the workstation has been unlocked once since the app started.');
    return this.outbox;
  }

  /** Drops the master secret and the data key from memory; a no-op when not unlocked. */
  lock(reason: VaultLockReason): Promise<void> {
    return this.queue.run(async () => {
      if (!this.unlocked) return;
      this.unlocked.master.fill(0);
      this.unlocked = undefined;
      this.lastLockReason = reason;
      this.options.log.info(`Locked (${reason})`);
      this.options.audit.recordSystem({ action: 'lock', outcome: 'success', reason: LOCK_REASONS[reason] });
    });
  }

  /**
   * Sets (or with null removes) the PIN for this run of the app. The
   * passphrase is asked again, and a wrong one counts like a wrong unlock:
   * an unattended unlocked screen must not let anyone add a shortcut in.
   */
  setPin(pin: string | null, passphrase: string): Promise<void> {
    return this.queue.run(async () => {
      const unlocked = this.requireUnlocked('set a PIN');
      const file = await this.readFile();
      if (!file) throw new ServiceError('CONFLICT', 'No passphrase has been chosen yet; set one up first.');
      await this.checkPassphrase(file, passphrase, 'set the unlock PIN');
      if (pin === null) {
        this.pin = undefined;
        this.options.log.info('PIN removed');
        return;
      }
      const salt = randomBytes(SALT_BYTES);
      const params = this.pinScryptParams;
      this.pin = { salt, params, wrapped: wrapSecret(await deriveWrappingKey(pin, salt, params), unlocked.master), wrongInARow: 0 };
      this.options.log.info('PIN set for this run of the app');
    });
  }

  setIdleLock(minutes: number): Promise<void> {
    return this.queue.run(async () => {
      this.requireUnlocked('change the idle lock');
      const file = await this.readFile();
      if (!file) throw new ServiceError('CONFLICT', 'No passphrase has been chosen yet; set one up first.');
      await this.options.file.write({ ...file, idleLockMinutes: minutes });
      this.idleMinutes = minutes;
    });
  }

  private requireUnlocked(what: string): Unlocked {
    if (!this.unlocked) throw new ServiceError('UNAUTHORIZED', `The workstation is locked; unlock it to ${what}.`);
    return this.unlocked;
  }

  private async becomeUnlocked(master: Buffer): Promise<VaultKeys> {
    const keys = await deriveVaultKeys(master);
    if (this.unlocked && this.unlocked.master !== master) this.unlocked.master.fill(0);
    this.unlocked = { master, keys };
    this.outbox = { outboxKey: keys.outboxKey, keyId: keys.keyId };
    // The audit log keeps its key past a lock, as the outbox keeps its own: lines written while locked are signed too.
    // Not awaited: the first unlock of a run checks the whole trail, which grows with its age; the answer
    // (and the vault's queue: status polls, an OS lock) must not wait for it. audit.status does, in the log's queue.
    const auditKey = await deriveAuditHeadKey(master);
    void this.options.audit
      .useHeadKey(auditKey)
      .catch((err: unknown) => this.options.log.error('Could not hand the audit log its key', err))
      .finally(() => auditKey.fill(0));
    return keys;
  }

  /** `failed`: the highest of the three copies of the count (UnlockAttempts.current), not vault.json's alone. */
  private retryAfterMs(failed: FailedUnlocks): number {
    const wait = passphraseWaitMs(failed.count);
    // Capped at the full wait: a clock set back must not lock the user out for longer.
    return Math.min(wait, Math.max(0, failed.lastAt + wait - this.options.now()));
  }

  /**
   * The master secret when the passphrase is right; counts and audits a wrong one; refuses unheard while a wait runs.
   * The count is the highest of memory, the state file and vault.json (UnlockAttempts); a right passphrase resets
   * all three and re-wraps a key file made at a lower scrypt cost.
   */
  private async checkPassphrase(file: VaultFileContent, passphrase: string, purpose: string): Promise<Buffer> {
    const id = vaultId(file);
    const failed = await this.attempts.current(id, file.failedUnlocks);
    const waitMs = this.retryAfterMs(failed);
    if (waitMs > 0) {
      throw new ServiceError(
        'UNAUTHORIZED',
        `Wrong passphrase ${failed.count} times in a row; try again in ${Math.ceil(waitMs / 1000)} s.`,
      );
    }
    const inner = await this.outerUnwrap(file);
    const salt = Buffer.from(file.kdf.salt, 'base64');
    const master = unwrapSecret(await deriveWrappingKey(passphrase, salt, file.kdf), inner);
    if (!master) {
      const count = failed.count + 1;
      const next = { count, lastAt: this.options.now() };
      await this.attempts.recordFailure(id, next);
      await this.writeFailures(file, next);
      this.options.log.warn(`Wrong passphrase (${count} in a row)`);
      this.options.audit.recordSystem({ action: 'login.failed', outcome: 'failure', reason: `wrong passphrase to ${purpose}` });
      const nextWait = passphraseWaitMs(count);
      throw new ServiceError('UNAUTHORIZED', nextWait > 0 ? `Wrong passphrase; try again in ${Math.ceil(nextWait / 1000)} s.` : 'Wrong passphrase; try again.');
    }
    await this.attempts.reset(id);
    const rewrapped = await this.rewrapAtCurrentCost(file, passphrase, salt, master);
    if (!rewrapped && file.failedUnlocks.count > 0) await this.writeFailures(file, NO_FAILED_UNLOCKS);
    return master;
  }

  /**
   * A key file wrapped at a lower scrypt N than this version's (2^15 before issue 18) is wrapped again at
   * the current cost, with the same salt (so the vault's id, and its count outside the data folder, stay)
   * and a fresh IV, its count reset in the same write. Never lowers the cost. True when the file was
   * rewritten; a failure is logged and leaves the old file, which still opens.
   */
  private async rewrapAtCurrentCost(file: VaultFileContent, passphrase: string, salt: Buffer, master: Buffer): Promise<boolean> {
    const target = this.scryptParams;
    if (file.kdf.N >= target.N) return false;
    try {
      let stored = wrapSecret(await deriveWrappingKey(passphrase, salt, target), master);
      if (file.keyProtection === 'passphrase+safeStorage') {
        // outerUnwrap has just used it, so it is there.
        if (!this.options.outerWrap) return false;
        stored = await this.options.outerWrap.encrypt(stored);
      }
      await this.options.file.write({
        ...file,
        kdf: { ...file.kdf, N: target.N, r: target.r, p: target.p },
        wrappedMaster: stored.toString('base64'),
        failedUnlocks: NO_FAILED_UNLOCKS,
      });
      this.options.log.info(`Key file re-wrapped at scrypt N=${target.N} (was N=${file.kdf.N})`);
      return true;
    } catch (err) {
      this.options.log.error(`Could not re-wrap the key file at scrypt N=${target.N}; it stays at N=${file.kdf.N}`, err);
      return false;
    }
  }

  private async writeFailures(file: VaultFileContent, failedUnlocks: VaultFileContent['failedUnlocks']): Promise<void> {
    try {
      await this.options.file.write({ ...file, failedUnlocks });
    } catch (err) {
      // The answer to the user stays the same; the count just does not persist this time.
      this.options.log.error('Could not record the unlock attempt in the key file', err);
    }
  }

  private async checkPin(pin: string): Promise<Buffer> {
    const seal = this.pin;
    if (!seal) throw new ServiceError('UNAUTHORIZED', 'No PIN is set in this run of the app; unlock with the passphrase.');
    const master = unwrapSecret(await deriveWrappingKey(pin, seal.salt, seal.params), seal.wrapped);
    if (master) {
      seal.wrongInARow = 0;
      return master;
    }
    seal.wrongInARow += 1;
    this.options.audit.recordSystem({ action: 'login.failed', outcome: 'failure', reason: 'wrong PIN to unlock the workstation' });
    this.options.log.warn(`Wrong PIN (${seal.wrongInARow} in a row)`);
    if (seal.wrongInARow >= MAX_PIN_FAILURES) {
      this.pin = undefined;
      throw new ServiceError('UNAUTHORIZED', `Wrong PIN ${MAX_PIN_FAILURES} times in a row: the PIN is removed; unlock with the passphrase.`);
    }
    const left = MAX_PIN_FAILURES - seal.wrongInARow;
    throw new ServiceError('UNAUTHORIZED', `Wrong PIN; ${left} ${left === 1 ? 'try' : 'tries'} left before the passphrase is required.`);
  }

  private async outerUnwrap(file: VaultFileContent): Promise<Buffer> {
    const stored = Buffer.from(file.wrappedMaster, 'base64');
    if (file.keyProtection === 'passphrase') return stored;
    const outer = this.options.outerWrap;
    if (!outer) {
      throw new ServiceError(
        'CONFLICT',
        'The key file is also protected by the OS keychain (safeStorage), which is not available here: the browser host cannot use it, ' +
          'and the desktop app needs the keyring running and unlocked. Nothing was changed.',
      );
    }
    try {
      return await outer.decrypt(stored);
    } catch (err) {
      this.options.log.error('The OS keychain could not unwrap the key file', err);
      throw new ServiceError(
        'CONFLICT',
        'The OS keychain could not open the key file (is the keyring locked, or was it reset?). Nothing was changed; unlock the keyring and try again.',
      );
    }
  }

  private async readFile(): Promise<VaultFileContent | undefined> {
    try {
      return await this.options.file.read();
    } catch (err) {
      if (!(err instanceof VaultFileUnreadable)) throw err;
      this.options.log.error(`Key file unreadable, left as it is: ${err.message}`);
      throw new ServiceError(
        'CONFLICT',
        `The key file ${err.filePath} cannot be read: ${err.why}. It was left untouched. Restore it from a backup; without it the encrypted data on this computer cannot be opened.`,
      );
    }
  }
}
