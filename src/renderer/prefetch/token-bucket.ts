/** The timers prefetch uses; injected so tests run on a fake clock. */
export interface PrefetchClock {
  now: () => number;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
}

export const systemClock: PrefetchClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Resolves after `ms` on `clock`, or rejects with the signal's reason when it aborts first. */
export function sleepOn(clock: PrefetchClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A bandwidth cap as a token bucket: bytes received are charged as they
 * arrive (the balance may go below zero mid-instance), and a new instance
 * request waits until the balance is back to zero. Over any stretch of time T
 * the bytes received are at most rate·T, plus one second's burst, plus the
 * instances already under way. The rate is read on every call, so a new cap
 * applies at once; undefined or 0 means no cap.
 */
export class TokenBucket {
  private tokens: number | undefined;
  private last: number;

  constructor(
    private readonly rate: () => number | undefined,
    private readonly clock: PrefetchClock,
    /** Seconds of traffic the bucket may save up while idle. */
    private readonly burstSeconds = 1,
  ) {
    this.last = clock.now();
  }

  /** Charges `n` bytes received. */
  consume(n: number): void {
    const r = this.refill();
    if (r === undefined) return;
    this.tokens = (this.tokens ?? 0) - n;
  }

  /** Waits until another request may start under the cap. */
  async wait(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const r = this.refill();
      if (r === undefined || (this.tokens ?? 0) >= 0) return;
      await sleepOn(this.clock, Math.max(1, Math.ceil((-(this.tokens ?? 0) / r) * 1000)), signal);
    }
  }

  private refill(): number | undefined {
    const r = this.rate();
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    if (!r || r <= 0) {
      this.tokens = undefined;
      return undefined;
    }
    // A full bucket to start with: the first request of a session goes at once.
    this.tokens = Math.min(r * this.burstSeconds, (this.tokens ?? r * this.burstSeconds) + (elapsed * r) / 1000);
    return r;
  }
}
