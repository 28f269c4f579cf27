/**
 * How long a failed delivery waits before the next try. Its own module so the
 * scheduler, the failure recorder and the tests read one policy.
 */

export interface BackoffPolicy {
  /** Longest wait after the first failure (the jitter picks anywhere below it). */
  baseMs: number;
  /** No wait is ever longer. */
  capMs: number;
  /** After the site refused our credentials: a person has to fix them; ask again rarely. */
  authMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 5_000, capMs: 10 * 60_000, authMs: 30 * 60_000 };

/**
 * Exponential backoff with full jitter (a uniform pick in [0, min(cap,
 * base·2^(n−1))]): many clients that lost the same link at the same moment
 * come back spread out instead of all at once. `attempts` ≥ 1.
 */
export function backoffDelay(attempts: number, random: () => number, policy: Pick<BackoffPolicy, 'baseMs' | 'capMs'>): number {
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
  return Math.floor(random() * exp);
}
