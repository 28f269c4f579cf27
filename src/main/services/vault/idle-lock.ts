import { ACTIVITY_REPORT_MS } from '../../../shared/ipc/contract';
import type { Logger } from '../../../shared/log';
import type { VaultLockReason, VaultService } from './vault-service';

/** Main's clock and interval timer, handed in so tests drive time themselves. */
export interface HostTimers {
  now(): number;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** The process's own timers; the interval does not keep the process alive. */
export const SYSTEM_TIMERS: HostTimers = {
  now: () => Date.now(),
  setInterval: (fn, ms) => {
    const handle = setInterval(fn, ms);
    handle.unref();
    return handle;
  },
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

type LockableVault = Pick<VaultService, 'isUnlocked' | 'idleLockMinutes'> & { lock(reason: VaultLockReason): Promise<void> };

export interface IdleLockOptions {
  vault: LockableVault;
  timers: HostTimers;
  log: Logger;
  /** How often the idle time is checked (default 15 s). */
  checkMs?: number;
  /** Allowed beyond idleLockMinutes (default 2 × ACTIVITY_REPORT_MS): the page reports input only that often and should lock first. */
  graceMs?: number;
}

export interface IdleLock {
  /** The user did something at a page (`vault.activity`, an unlock): the idle time starts again. */
  activity(): void;
  /** One check now (the interval calls it); resolves when any lock it started is done. */
  check(): Promise<void>;
  stop(): void;
}

/**
 * The idle lock in main (issue 18): the page has its own, but a page that is
 * gone, frozen or never loaded would otherwise leave the vault unlocked for
 * ever. Main locks after idleLockMinutes (the vault's in-memory copy, kept
 * at setup, unlock and setIdleLock, so a change applies at once and no file
 * is read: a damaged key file cannot stop it) plus a grace without a report
 * of input.
 */
export function createIdleLock(options: IdleLockOptions): IdleLock {
  const { vault, timers, log } = options;
  const graceMs = options.graceMs ?? 2 * ACTIVITY_REPORT_MS;
  let lastActivity = timers.now();
  let checking: Promise<void> | undefined;

  const checkOnce = async (): Promise<void> => {
    if (!vault.isUnlocked()) return;
    const idleLockMinutes = vault.idleLockMinutes();
    const idleMs = timers.now() - lastActivity;
    if (!vault.isUnlocked() || idleMs < idleLockMinutes * 60_000 + graceMs) return;
    log.info(`No input reported for ${Math.round(idleMs / 1000)} s (idle lock ${idleLockMinutes} min): locking`);
    await vault.lock('idle');
  };
  const check = (): Promise<void> =>
    (checking ??= checkOnce()
      .catch((err: unknown) => log.error('The idle check failed', err))
      .finally(() => (checking = undefined)));

  const handle = timers.setInterval(() => void check(), options.checkMs ?? 15_000);
  return {
    activity: () => {
      lastActivity = timers.now();
    },
    check,
    stop: () => timers.clearInterval(handle),
  };
}
