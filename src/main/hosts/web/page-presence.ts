import type { Logger } from '../../../shared/log';
import type { HostTimers } from '../../services/vault/idle-lock';
import type { VaultLockReason } from '../../services/vault/vault-service';

/**
 * Without an authenticated /api call for this long, no page is open: the browser host locks (issue 18).
 * An open page calls every 3 s, but Chromium throttles the timers of a tab hidden for 5 min to one
 * wake-up a minute ("intensive throttling"), so a minute alone would lock a page that is only in the
 * background; 90 s leaves that minute half a minute of slack.
 */
export const DEFAULT_PAGE_GONE_LOCK_MS = 90_000;

export interface PagePresenceOptions {
  vault: { isUnlocked(): boolean; lock(reason: VaultLockReason): Promise<void> };
  timers: HostTimers;
  log: Logger;
  /** Default DEFAULT_PAGE_GONE_LOCK_MS. */
  goneAfterMs?: number;
}

export interface PagePresence {
  /** A page (or anything holding the launch token) called /api just now. */
  seen(): void;
  /** One check now (the interval calls it). */
  check(): Promise<void>;
  stop(): void;
}

/**
 * A closed tab must not leave the browser host unlocked. An open page calls
 * /api every few seconds (the lock controller reads vault.status every 3 s),
 * so a long silence means no page is there: the host locks with `no-page`.
 * Electron sees its windows close instead (electron-main.ts).
 */
export function createPagePresence(options: PagePresenceOptions): PagePresence {
  const { vault, timers, log } = options;
  const goneAfterMs = options.goneAfterMs ?? DEFAULT_PAGE_GONE_LOCK_MS;
  let lastSeen = timers.now();
  const check = async (): Promise<void> => {
    const silentMs = timers.now() - lastSeen;
    if (!vault.isUnlocked() || silentMs < goneAfterMs) return;
    log.info(`No page has called for ${Math.round(silentMs / 1000)} s: locking`);
    await vault.lock('no-page').catch((err: unknown) => log.error('Locking without a page failed', err));
  };
  const handle = timers.setInterval(() => void check(), Math.max(50, Math.min(5000, Math.floor(goneAfterMs / 4))));
  return {
    seen: () => {
      lastSeen = timers.now();
    },
    check,
    stop: () => timers.clearInterval(handle),
  };
}
