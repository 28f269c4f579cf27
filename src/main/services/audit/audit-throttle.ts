import type { SystemAuditEntry } from './audit-entry';

/** Timers, injected so tests run on a clock they move themselves. */
export interface ThrottleTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface AuditThrottleOptions {
  /** Writes one line (AuditLog.recordSystem). */
  record: (entry: SystemAuditEntry) => void;
  /** At most one line per reason in this long (default 10 s). */
  windowMs?: number;
  timers?: ThrottleTimers;
}

interface Window {
  /** When the last line for this reason was written. */
  writtenAt: number;
  /** Repeats since then that were not written. */
  suppressed: number;
  /** The repeats' entry, written with their count when the window ends. */
  entry: SystemAuditEntry;
  timer: unknown;
}

export const DEFAULT_AUDIT_THROTTLE_MS = 10_000;

const realTimers: ThrottleTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending summary must not keep a closing process alive; close() writes it first.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * Bounds lines that an outsider can cause at will (a local process scanning
 * the browser host with wrong launch tokens): at most one line per reason per
 * window. The first refusal is written at once; repeats within the window are
 * counted, and when it ends one line carries their count — "request without a
 * valid launch token (37 more in the last 10 s)" — so the trail still shows
 * how many there were without growing by one line per request.
 */
export class AuditThrottle {
  private readonly windowMs: number;
  private readonly timers: ThrottleTimers;
  private readonly windows = new Map<string, Window>();

  constructor(private readonly options: AuditThrottleOptions) {
    this.windowMs = options.windowMs ?? DEFAULT_AUDIT_THROTTLE_MS;
    this.timers = options.timers ?? realTimers;
  }

  /** Records `entry` now, or counts it towards the summary line of its reason's window. */
  record(entry: SystemAuditEntry): void {
    const key = `${entry.action}\u0000${entry.reason ?? ''}`;
    const now = this.timers.now();
    const open = this.windows.get(key);
    if (open && now - open.writtenAt < this.windowMs) {
      open.suppressed++;
      open.entry = entry;
      open.timer ??= this.timers.setTimeout(() => this.flush(key), open.writtenAt + this.windowMs - now);
      return;
    }
    this.windows.set(key, { writtenAt: now, suppressed: 0, entry, timer: undefined });
    this.options.record(entry);
  }

  /** Writes every pending count now (the process is closing). */
  close(): void {
    for (const key of [...this.windows.keys()]) this.flush(key);
    this.windows.clear();
  }

  private flush(key: string): void {
    const open = this.windows.get(key);
    if (!open) return;
    if (open.timer !== undefined) this.timers.clearTimeout(open.timer);
    if (open.suppressed === 0) {
      this.windows.delete(key);
      return;
    }
    const seconds = Math.round(this.windowMs / 1000);
    const reason = `${open.entry.reason ?? 'refused'} (${open.suppressed} more in the last ${seconds} s)`;
    // This line starts the next window: a scan that goes on gives one line per window, each with its count.
    this.windows.set(key, { writtenAt: this.timers.now(), suppressed: 0, entry: open.entry, timer: undefined });
    this.options.record({ ...open.entry, reason });
  }
}
