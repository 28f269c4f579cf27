import type { ServiceClient, VaultStatus } from '../../shared/ipc/contract';
import { ACTIVITY_REPORT_MS } from '../../shared/ipc/contract';
import { ServiceError } from '../../shared/ipc/envelope';
import type { Logger } from '../../shared/log';
import { createListeners } from '../../shared/store/listeners';
import { errorMessage } from '../../shared/error-message';

export type LockReason = 'user' | 'idle' | 'os-lock' | 'suspend';

export interface LockState {
  idleLockMinutes: number;
  pinSet: boolean;
  /** Set while locking: the screen is already hidden, drafts are being written. */
  locking: boolean;
  /** A refused PIN/idle change, shown by the security panel. */
  error?: string;
}

export interface LockControllerDeps {
  vault: ServiceClient['vault'];
  /** User input seen on the page (pointer, keys, wheel); returns an unsubscribe function. */
  onActivity: (listener: () => void) => () => void;
  /** Main answered some call LOCKED (locked-answers.ts); returns an unsubscribe function. */
  onLockedAnswer?: (listener: () => void) => () => void;
  /** Hides everything on screen at once (before drafts are written and the page is reloaded). */
  hideScreen: () => void;
  /** Drops the data key from memory (RowSealer.dropDataKey). */
  dropKey: () => void;
  /** Starts again from nothing: every store, decoded image and key in this page is gone. */
  reload: () => void;
  clock: { now: () => number; setInterval: (fn: () => void, ms: number) => unknown; clearInterval: (h: unknown) => void };
  log: Logger;
  /** How often main's lock state is read (an OS lock or suspend is seen by main). */
  pollMs?: number;
  /** Input is reported to main's idle lock (`vault.activity`) at most this often (default ACTIVITY_REPORT_MS). */
  activityReportMs?: number;
  /** The longest a lock waits for drafts to be written. */
  flushTimeoutMs?: number;
}

export interface LockController {
  getState(): LockState;
  subscribe(listener: () => void): () => void;
  /** Starts the idle timer and the watch on main's state; returns the stop function. */
  start(status: VaultStatus): () => void;
  /** Hide, write drafts, tell main, drop the key, reload into the lock screen. */
  lock(reason: LockReason): Promise<void>;
  /** Something that holds unsaved text (the report editor) writes it before a lock. */
  registerFlush(flush: () => Promise<void>): () => void;
  setIdleLockMinutes(minutes: number): Promise<void>;
  setPin(pin: string | null, passphrase: string): Promise<boolean>;
}

/**
 * The unlocked app's side of the lock (issue 9). Locking reloads the page rather than clearing each
 * store by hand: a reload is the one way to be sure no patient data, decoded image or key is left in
 * this page's memory. Before that, whatever the user typed is written (sealed) while the key is still
 * here: a lock never loses a draft.
 */
export function createLockController(deps: LockControllerDeps): LockController {
  const listeners = createListeners();
  let state: LockState = { idleLockMinutes: 10, pinSet: false, locking: false };
  const set = (patch: Partial<LockState>): void => {
    state = { ...state, ...patch };
    listeners.notify();
  };
  const flushers = new Set<() => Promise<void>>();
  let lastActivity = deps.clock.now();

  const lock = async (reason: LockReason): Promise<void> => {
    if (state.locking) return;
    set({ locking: true });
    deps.hideScreen();
    deps.log.info(`Locking (${reason})`);
    const timeout = deps.flushTimeoutMs ?? 5000;
    const flushes = Promise.allSettled([...flushers].map((f) => f()));
    let timedOut = false;
    await Promise.race([flushes, new Promise<void>((r) => setTimeout(() => ((timedOut = true), r()), timeout))]);
    if (timedOut) deps.log.warn(`Drafts not all written within ${timeout} ms of locking; they stay in the editor's last autosave`);
    try {
      await deps.vault.lock({ reason });
    } catch (err) {
      // Main unreachable: the page still forgets the key; main's own state is re-read at start.
      deps.log.warn('Telling main about the lock failed', err);
    }
    deps.dropKey();
    deps.reload();
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    registerFlush(flush) {
      flushers.add(flush);
      return () => flushers.delete(flush);
    },
    start(status) {
      set({ idleLockMinutes: status.idleLockMinutes, pinSet: status.pinSet });
      lastActivity = deps.clock.now();
      // Main locked on its own (its idle timer, no page for a while, an OS lock or suspend, another window):
      // the same way out as the Lock button, so what is typed is written first.
      const followMain = (): void => {
        if (state.locking) return;
        deps.log.info('Main is locked; locking this page');
        void lock('os-lock');
      };
      // Main's own idle timer hears of input too, at most every activityReportMs; the first input after a quiet spell goes at once.
      const reportEvery = deps.activityReportMs ?? ACTIVITY_REPORT_MS;
      let lastReport = Number.NEGATIVE_INFINITY;
      const offActivity = deps.onActivity(() => {
        lastActivity = deps.clock.now();
        if (lastActivity - lastReport < reportEvery || state.locking) return;
        lastReport = lastActivity;
        deps.vault.activity({}).catch((err: unknown) => {
          if (err instanceof ServiceError && err.code === 'LOCKED') followMain();
          else deps.log.warn('Reporting input to main failed', err);
        });
      });
      const offLocked = deps.onLockedAnswer?.(followMain);
      const idleTimer = deps.clock.setInterval(() => {
        if (deps.clock.now() - lastActivity >= state.idleLockMinutes * 60_000) void lock('idle');
      }, 5000);
      let polling = false;
      const pollTimer = deps.clock.setInterval(() => {
        if (polling || state.locking) return;
        polling = true;
        deps.vault
          .status({})
          .then((s) => {
            // Locked by main: its idle timer, no page, an OS lock or suspend (Electron), or another window of this app.
            if (s.state !== 'unlocked') followMain();
          })
          .catch((err: unknown) => deps.log.warn('Reading the lock state failed', err))
          .finally(() => (polling = false));
      }, deps.pollMs ?? 3000);
      return () => {
        offActivity();
        offLocked?.();
        deps.clock.clearInterval(idleTimer);
        deps.clock.clearInterval(pollTimer);
      };
    },
    lock,
    async setIdleLockMinutes(minutes) {
      try {
        await deps.vault.setIdleLock({ minutes });
        set({ idleLockMinutes: minutes, error: undefined });
      } catch (err) {
        set({ error: errorMessage(err) });
      }
    },
    async setPin(pin, passphrase) {
      try {
        await deps.vault.setPin({ pin, passphrase });
        set({ pinSet: pin !== null, error: undefined });
        return true;
      } catch (err) {
        set({ error: errorMessage(err) });
        return false;
      }
    },
  };
}
