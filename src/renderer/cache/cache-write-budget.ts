/**
 * What the study cache needs of the cache budget around a write, apart from
 * the budget itself (cache-budget.ts, which imports the study cache to evict):
 * the error of a full cache, how a lack of space is recognised, and the
 * budget's interface.
 */

const MB = 1024 * 1024;

/** The write would not fit, and nothing may be evicted to make room. Final: retrying cannot help. */
export class CacheFullError extends Error {
  constructor(
    readonly usedBytes: number,
    readonly budgetBytes: number,
  ) {
    super(
      `Local storage is full: ${formatMB(usedBytes)} MB used of ${formatMB(budgetBytes)} MB budget; unpin or evict cases in Storage`,
    );
    this.name = 'CacheFullError';
  }
}

function formatMB(bytes: number): string {
  const mb = bytes / MB;
  return mb >= 10 ? String(Math.round(mb)) : mb.toFixed(1);
}

/** Whether an IndexedDB write failed for lack of space (Dexie wraps the DOMException; engines name it alike). */
export function isQuotaExceeded(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; inner?: { name?: unknown } };
  return e.name === 'QuotaExceededError' || e.inner?.name === 'QuotaExceededError';
}

/** What `StudyCache` asks of the budget around a write. */
export interface CacheWriteBudget {
  /** Makes room for `bytes` more within the user's budget, or throws CacheFullError. */
  beforeWrite(studyInstanceUID: string, bytes: number): Promise<void>;
  /** The browser refused a write for lack of space: evicts at least `bytes`, or throws CacheFullError. */
  afterQuotaExceeded(studyInstanceUID: string, bytes: number): Promise<void>;
  /** The error for a write that failed for space again after eviction. */
  fullError(): Promise<CacheFullError>;
}
