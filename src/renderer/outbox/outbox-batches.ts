/**
 * How a job's instances are cut into STOW-RS requests, and what the panel
 * says while they go. A 300-slice CT (150 MB) in one request would be lost
 * whole when the link drops at 149 MB; in batches each answer is recorded
 * durably, so a cut link or a restart re-sends only what did not arrive.
 */

export interface BatchLimits {
  /** Bytes per request (an instance larger than this goes alone). */
  maxBytes: number;
  /** Instances per request. */
  maxInstances: number;
}

/** ≤ 8 MiB or ≤ 10 instances per request: at 10 Mbit/s a batch is ≈ 7 s of upload, little to lose to a cut. */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxBytes: 8 * 1024 * 1024, maxInstances: 10 };

/** Consecutive batches in the given order; never an empty one. */
export function planBatches<T extends { bytes: ArrayBuffer }>(items: readonly T[], limits: BatchLimits = DEFAULT_BATCH_LIMITS): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = item.bytes.byteLength;
    if (current.length > 0 && (current.length >= limits.maxInstances || bytes + size > limits.maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** A job being sent right now: what this run has moved, its rate and what is left. */
export interface SendProgress {
  /** When this run (one claim of the job) started, epoch ms. */
  startedAt: number;
  /** Bytes whose request was answered in this run. */
  bytesSentThisRun: number;
  /** Bytes this run still has to send (not yet answered). */
  bytesRemaining: number;
  /** Over this run so far; undefined until the first answer. */
  bytesPerSecond?: number;
  /** bytesRemaining at that rate. */
  etaSeconds?: number;
}

export function progressAfter(p: SendProgress, answeredBytes: number, now: number): SendProgress {
  const bytesSentThisRun = p.bytesSentThisRun + answeredBytes;
  const bytesRemaining = Math.max(0, p.bytesRemaining - answeredBytes);
  const seconds = (now - p.startedAt) / 1000;
  const rate = seconds > 0 && bytesSentThisRun > 0 ? bytesSentThisRun / seconds : undefined;
  return {
    startedAt: p.startedAt,
    bytesSentThisRun,
    bytesRemaining,
    ...(rate !== undefined ? { bytesPerSecond: rate, etaSeconds: bytesRemaining / rate } : {}),
  };
}

/** "12.3 MB" (decimal megabytes, as link speeds are quoted). */
export function formatMegabytes(bytes: number): string {
  const mb = bytes / 1e6;
  return `${mb >= 100 ? mb.toFixed(0) : mb >= 10 ? mb.toFixed(1) : mb.toFixed(2)} MB`;
}

/** "1 min 05 s" / "42 s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** "2.4 Mbit/s". */
export function formatRate(bytesPerSecond: number): string {
  const mbit = (bytesPerSecond * 8) / 1e6;
  return mbit >= 1 ? `${mbit.toFixed(1)} Mbit/s` : `${((bytesPerSecond * 8) / 1e3).toFixed(0)} kbit/s`;
}
