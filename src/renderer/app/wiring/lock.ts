import type { ServiceClient, VaultStatus } from '../../../shared/ipc/contract';
import type { Logger } from '../../../shared/log';
import type { RowSealer } from '../../cache/sealing/row-sealer';
import type { LockController } from '../../lock/lock-controller';
import { createLockController } from '../../lock/lock-controller';
import type { Page } from './page';

/** What is typed and not yet written (report editor, thread composer, referral wizard): written now. */
export type FlushTypedText = () => Promise<void>;

/** Leaving the page: write what is typed now rather than at the next debounce. */
export function saveTypedTextOnPageHide(page: Page, flushes: readonly FlushTypedText[]): void {
  page.window.addEventListener('pagehide', () => {
    for (const flush of flushes) void flush();
  });
}

/** The idle lock and the header's "Lock": what is typed is written first, with the key still here, then the key dropped. */
export function wireLock(deps: {
  client: ServiceClient;
  sealer: RowSealer;
  vaultStatus: VaultStatus;
  page: Page;
  log: Logger;
  flushes: readonly FlushTypedText[];
  /** Main answered a call LOCKED (it locked on its own): to the lock screen at once. */
  onLockedAnswer?: (listener: () => void) => () => void;
}): LockController {
  const { client, sealer, page, log } = deps;
  const win = page.window;
  const lock = createLockController({
    vault: client.vault,
    onActivity: (listener) => {
      const events = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart'] as const;
      for (const e of events) win.addEventListener(e, listener, { passive: true, capture: true });
      return () => {
        for (const e of events) win.removeEventListener(e, listener, { capture: true });
      };
    },
    ...(deps.onLockedAnswer ? { onLockedAnswer: deps.onLockedAnswer } : {}),
    hideScreen: () => page.document.body.classList.add('app-locking'),
    dropKey: () => sealer.dropDataKey(),
    reload: () => win.location.reload(),
    clock: { now: page.now, setInterval: (fn, ms) => win.setInterval(fn, ms), clearInterval: (h) => win.clearInterval(h as number) },
    log: log.child('lock'),
  });
  for (const flush of deps.flushes) lock.registerFlush(flush);
  lock.start(deps.vaultStatus);
  return lock;
}
