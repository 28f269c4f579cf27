import { createListeners } from '../../shared/store/listeners';

/**
 * Every study retrieval under way or recently finished, for the transfers
 * panel: instances done/total, bytes, the bandwidth over a sliding window,
 * an ETA, the state and the last error. No React here; the retriever writes
 * through a TransferHandle, the panel reads snapshots.
 */

export type TransferState = 'queued' | 'running' | 'paused' | 'done' | 'failed' | 'cancelled';

export interface TransferSnapshot {
  studyInstanceUID: string;
  siteId: string;
  siteName: string;
  /** Patient and study description, for the panel. */
  label: string;
  state: TransferState;
  instancesDone: number;
  instancesTotal: number;
  /** Previews stored of those asked for (both 0 when none are asked: the site does not render, or background work). */
  previewsDone: number;
  previewsTotal: number;
  /** Bytes received by this retrieval (after HTTP decoding), retried bytes included. */
  bytes: number;
  /** Bytes per second over the last `windowMs`; 0 when nothing arrived in it. */
  bandwidthBps: number;
  /** Seconds left at the current bandwidth; undefined until there is enough to estimate. */
  etaSeconds?: number;
  /** The last failure, with the site's name: shown while running (a retry is pending) and after a failure. */
  lastError?: string;
  startedAt: number;
  finishedAt?: number;
  /** A failed or cancelled transfer can be resumed (already stored instances are not fetched again). */
  resumable: boolean;
  /** A running transfer can be paused (nothing new is asked; what is in flight lands). */
  pausable: boolean;
}

export interface TransfersState {
  /** Bumped on every change. */
  revision: number;
  /** Newest first. */
  transfers: readonly TransferSnapshot[];
  /** Transfers queued or running. */
  active: number;
  /** Sum of the running transfers' bandwidths. */
  bandwidthBps: number;
}

export interface TransferInit {
  studyInstanceUID: string;
  siteId: string;
  siteName: string;
  label: string;
}

/** The retriever's side of one transfer. Calls after `finish` are ignored. */
export interface TransferHandle {
  progress(done: number, total: number): void;
  previews(done: number, total: number): void;
  addBytes(n: number): void;
  /** A failure that will be retried, or that ended one instance: shown, the transfer goes on. */
  noteError(message: string): void;
  finish(state: 'done' | 'failed' | 'cancelled', error?: string): void;
}

export interface TransfersStore {
  getState(): TransfersState;
  subscribe(listener: () => void): () => void;
  /**
   * Starts (or restarts) the row of a study. `cancel` stops the retrieval;
   * `resume`, when given, starts it again after a failure or a cancel.
   */
  begin(init: TransferInit, controls: TransferControls): TransferHandle;
  cancel(studyInstanceUID: string): void;
  /** Pauses a running transfer, or carries a paused one on; nothing already stored or in flight is thrown away. */
  setPaused(studyInstanceUID: string, paused: boolean): void;
  resume(studyInstanceUID: string): void;
  /** Resumes every failed transfer (the link came back). */
  resumeFailed(): void;
  /** Drops finished rows. */
  clearFinished(): void;
}

/** What the panel can do to a transfer: cancel it, resume it after a failure, pause and carry it on. */
export interface TransferControls {
  cancel: () => void;
  resume?: () => void;
  pause?: (paused: boolean) => void;
}

export interface TransfersStoreOptions {
  now?: () => number;
  /** Sliding window of the bandwidth figure. */
  windowMs?: number;
  /** Byte counts are published at most this often (they arrive per network chunk). */
  notifyIntervalMs?: number;
  /** Finished rows kept for the panel. */
  keepFinished?: number;
}

interface Entry {
  snap: TransferSnapshot;
  /** [time, bytes] per chunk, oldest first, trimmed to the window. */
  samples: Array<[number, number]>;
  cancel: () => void;
  resume: (() => void) | undefined;
  pause: ((paused: boolean) => void) | undefined;
  /** Identifies the begin() that owns the row: a handle of an earlier run of the same study writes nothing. */
  run: number;
}

const ACTIVE: ReadonlySet<TransferState> = new Set(['queued', 'running', 'paused']);

/** A new row for `begin`: queued, nothing counted yet. */
function newEntry(init: TransferInit, controls: TransferControls, run: number, startedAt: number): Entry {
  return {
    snap: {
      ...init,
      state: 'queued',
      instancesDone: 0,
      instancesTotal: 0,
      previewsDone: 0,
      previewsTotal: 0,
      bytes: 0,
      bandwidthBps: 0,
      startedAt,
      resumable: false,
      pausable: controls.pause !== undefined,
    },
    samples: [],
    cancel: controls.cancel,
    resume: controls.resume,
    pause: controls.pause,
    run,
  };
}

/** Bytes per second over the window ending at `t`; drops the samples that fell out of it. */
function bandwidthOf(e: Entry, t: number, windowMs: number): number {
  while (e.samples.length > 0 && e.samples[0]![0] < t - windowMs) e.samples.shift();
  if (e.samples.length === 0) return 0;
  const bytes = e.samples.reduce((sum, [, n]) => sum + n, 0);
  // Early on, divide by the time the transfer has actually run, not the whole window.
  const span = Math.max(250, Math.min(windowMs, t - e.snap.startedAt));
  return (bytes * 1000) / span;
}

/**
 * Recomputes an active row's bandwidth (and, when running, its ETA) at `t`; finished rows keep theirs.
 * Answers whether the row is active and the bandwidth it adds to the total (a paused row adds none).
 */
function refreshRates(e: Entry, t: number, windowMs: number): { active: boolean; countedBps: number } {
  if (e.snap.state === 'paused') {
    const { etaSeconds: _old, ...rest } = e.snap;
    e.snap = { ...rest, bandwidthBps: bandwidthOf(e, t, windowMs) };
    return { active: true, countedBps: 0 };
  }
  if (!ACTIVE.has(e.snap.state)) return { active: false, countedBps: 0 };
  const bps = bandwidthOf(e, t, windowMs);
  const { instancesDone: done, instancesTotal: all, bytes } = e.snap;
  // Bytes per instance so far predicts the rest; needs at least one instance and some bandwidth.
  const eta = done > 0 && bps > 0 && all > done ? Math.round(((bytes / done) * (all - done)) / bps) : undefined;
  const { etaSeconds: _old, ...rest } = e.snap;
  e.snap = { ...rest, bandwidthBps: bps, ...(eta !== undefined ? { etaSeconds: eta } : {}) };
  return { active: true, countedBps: bps };
}

/**
 * Byte counts arrive per chunk; coalesce them. While anything runs, a slow
 * heartbeat keeps recomputing so a stalled link shows its bandwidth falling.
 * Returns `schedule(delay)`: publish within `delay` ms (an earlier due time stands).
 */
function createPublishTimer(notifyIntervalMs: number, publish: () => void, anyActive: () => boolean): (delay?: number) => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerDue = 0;
  const schedule = (delay = notifyIntervalMs): void => {
    if (timer !== undefined && timerDue <= Date.now() + delay) return;
    if (timer !== undefined) clearTimeout(timer);
    timerDue = Date.now() + delay;
    timer = setTimeout(() => {
      timer = undefined;
      publish();
      if (anyActive()) schedule(1000);
    }, delay);
    (timer as { unref?: () => void }).unref?.();
  };
  return schedule;
}

/** The final snapshot of a row: no rate, the finish time, and the error worth keeping. */
function finishedSnapshot(e: Entry, finalState: 'done' | 'failed' | 'cancelled', error: string | undefined, at: number): TransferSnapshot {
  const { etaSeconds: _eta, lastError, ...rest } = e.snap;
  const message = error ?? (finalState === 'done' ? undefined : lastError);
  return {
    ...rest,
    state: finalState,
    bandwidthBps: 0,
    finishedAt: at,
    resumable: finalState !== 'done' && e.resume !== undefined,
    pausable: false,
    ...(message !== undefined ? { lastError: message } : {}),
  };
}

/**
 * The retriever's handle on one row. `live` answers the row only while this run owns it and it is
 * active, so a handle of an earlier run, or one called after `finish`, writes nothing.
 */
function transferHandle(live: () => Entry | undefined, now: () => number, publish: () => void, schedule: () => void): TransferHandle {
  const keepPaused = (e: Entry): TransferState => (e.snap.state === 'paused' ? 'paused' : 'running');
  return {
    progress(done, total) {
      const e = live();
      if (!e) return;
      e.snap = { ...e.snap, state: keepPaused(e), instancesDone: done, instancesTotal: total };
      // An instance more is worth showing at once; byte counts are coalesced.
      publish();
    },
    previews(done, total) {
      const e = live();
      if (!e) return;
      e.snap = { ...e.snap, previewsDone: done, previewsTotal: total };
      schedule();
    },
    addBytes(n) {
      const e = live();
      if (!e) return;
      e.samples.push([now(), n]);
      e.snap = { ...e.snap, state: keepPaused(e), bytes: e.snap.bytes + n };
      schedule();
    },
    noteError(message) {
      const e = live();
      if (!e) return;
      e.snap = { ...e.snap, lastError: message };
      schedule();
    },
    finish(finalState, error) {
      const e = live();
      if (!e) return;
      e.snap = finishedSnapshot(e, finalState, error, now());
      e.samples = [];
      publish();
    },
  };
}

export function createTransfersStore(options: TransfersStoreOptions = {}): TransfersStore {
  const now = options.now ?? Date.now;
  const windowMs = options.windowMs ?? 5000;
  const notifyIntervalMs = options.notifyIntervalMs ?? 250;
  const keepFinished = options.keepFinished ?? 20;
  const entries = new Map<string, Entry>();
  const listeners = createListeners();
  let runs = 0;
  let state: TransfersState = { revision: 0, transfers: [], active: 0, bandwidthBps: 0 };

  const rebuild = (): void => {
    const t = now();
    let active = 0;
    let total = 0;
    const transfers: TransferSnapshot[] = [];
    for (const e of entries.values()) {
      const rates = refreshRates(e, t, windowMs);
      if (rates.active) active++;
      total += rates.countedBps;
      transfers.push(e.snap);
    }
    transfers.sort((a, b) => b.startedAt - a.startedAt);
    state = { revision: state.revision + 1, transfers, active, bandwidthBps: total };
    listeners.notify();
  };
  const schedule = createPublishTimer(notifyIntervalMs, rebuild, () => state.active > 0);

  const trim = (): void => {
    const finished = [...entries.values()].filter((e) => !ACTIVE.has(e.snap.state)).sort((a, b) => a.snap.startedAt - b.snap.startedAt);
    for (const e of finished.slice(0, Math.max(0, finished.length - keepFinished))) entries.delete(e.snap.studyInstanceUID);
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    begin(init, controls) {
      const run = ++runs;
      entries.set(init.studyInstanceUID, newEntry(init, controls, run, now()));
      trim();
      rebuild();
      schedule(1000);
      const live = (): Entry | undefined => {
        const e = entries.get(init.studyInstanceUID);
        return e && e.run === run && ACTIVE.has(e.snap.state) ? e : undefined;
      };
      return transferHandle(live, now, rebuild, () => schedule());
    },
    cancel(uid) {
      const e = entries.get(uid);
      if (e && ACTIVE.has(e.snap.state)) e.cancel();
    },
    setPaused(uid, paused) {
      const e = entries.get(uid);
      if (!e || !e.pause || !ACTIVE.has(e.snap.state) || (e.snap.state === 'paused') === paused) return;
      e.pause(paused);
      e.snap = { ...e.snap, state: paused ? 'paused' : 'running' };
      rebuild();
    },
    resume(uid) {
      const e = entries.get(uid);
      if (e && e.snap.resumable) e.resume?.();
    },
    resumeFailed() {
      for (const e of [...entries.values()]) if (e.snap.state === 'failed' && e.snap.resumable) e.resume?.();
    },
    clearFinished() {
      for (const [uid, e] of entries) if (!ACTIVE.has(e.snap.state)) entries.delete(uid);
      rebuild();
    },
  };
}
