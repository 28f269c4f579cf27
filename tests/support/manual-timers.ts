/**
 * Time that moves only when a test says so: timeouts and intervals fire in order as `advance` passes
 * them. With `zeroDelayOnEventLoop`, a timeout of 0 ms runs on the real event loop at once (the outbox
 * tests: "now" work should not wait for the test to advance).
 */
export class ManualTimers {
  t: number;
  private seq = 0;
  private timers: Array<{ id: number; at: number; fn: () => void; every?: number }> = [];
  private readonly zeroDelayOnEventLoop: boolean;

  constructor(options: { start?: number; zeroDelayOnEventLoop?: boolean } = {}) {
    this.t = options.start ?? 0;
    this.zeroDelayOnEventLoop = options.zeroDelayOnEventLoop ?? false;
  }

  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    if (ms <= 0 && this.zeroDelayOnEventLoop) {
      setTimeout(fn, 0);
      return id;
    }
    this.timers.push({ id, at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  setInterval = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.push({ id, at: this.t + ms, fn, every: ms });
    return id;
  };
  clearInterval = (h: unknown): void => this.clearTimeout(h);

  /** Moves time on, firing what falls due (in order). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.t = next.at;
      if (next.every) next.at += next.every;
      else this.timers.shift();
      next.fn();
    }
    this.t = end;
  }
}
