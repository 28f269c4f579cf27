/** Timers, injected so unit tests run on a fake clock. */
export interface OutboxClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}
