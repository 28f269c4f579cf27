import { describe, expect, it } from 'vitest';
import { createLogger, type LogRecord } from '../../../src/shared/log';
import { createStackPreloader, preloadOrder, preloadWindow, type StackPreloaderOptions } from '../../../src/renderer/viewer/stack-preloader';

/** A load whose every call waits until the test settles it, recording the order of calls. */
function controlledLoads(): {
  load(index: number): Promise<void>;
  started: number[];
  pending(): number[];
  resolve(index: number): Promise<void>;
  reject(index: number, err?: Error): Promise<void>;
} {
  const started: number[] = [];
  const waiting = new Map<number, { resolve(): void; reject(err: Error): void }>();
  // Settling runs the preloader's continuation on a later microtask: let it run before asserting.
  const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
  return {
    started,
    load(index) {
      started.push(index);
      return new Promise<void>((resolve, reject) => waiting.set(index, { resolve, reject }));
    },
    pending: () => [...waiting.keys()],
    async resolve(index) {
      waiting.get(index)!.resolve();
      waiting.delete(index);
      await flush();
    },
    async reject(index, err = new Error(`slice ${index} is corrupt`)) {
      waiting.get(index)!.reject(err);
      waiting.delete(index);
      await flush();
    },
  };
}

function preloader(loads: ReturnType<typeof controlledLoads>, opts: Partial<StackPreloaderOptions> = {}): ReturnType<typeof createStackPreloader> {
  return createStackPreloader({ count: 10, concurrency: 1, window: 10, load: (i) => loads.load(i), ...opts });
}

describe('preload order', () => {
  it('starts at the reader and goes ahead first, picking up the slices behind less often', () => {
    expect(preloadOrder(10, 4, 1, 10)).toEqual([4, 5, 6, 7, 3, 8, 9, 2, 1, 0]);
    expect(preloadOrder(10, 4, -1, 10)).toEqual([4, 3, 2, 1, 5, 0, 6, 7, 8, 9]);
  });

  it('alternates next and previous when the reader stands still, and stops at the window', () => {
    expect(preloadOrder(10, 4, 0, 5)).toEqual([4, 5, 3, 6, 2]);
    expect(preloadOrder(10, 0, 0, 3)).toEqual([0, 1, 2]);
  });

  it('fits the window to the decoded-image cache, at most the whole stack', () => {
    const slice = 512 * 512 * 2;
    expect(preloadWindow(300, slice, 512 * 1024 * 1024)).toBe(300);
    expect(preloadWindow(3000, slice, 512 * 1024 * 1024)).toBe(1024);
    expect(preloadWindow(3000, slice, 512 * 1024 * 1024, 4)).toBe(256);
  });
});

describe('stack preloader', () => {
  it('re-plans on a change of direction: the nearest unloaded slices the new way come next', async () => {
    const loads = controlledLoads();
    const p = preloader(loads);
    p.focus(5, 1);
    expect(loads.started).toEqual([5]);
    await loads.resolve(5);
    expect(loads.started).toEqual([5, 6]);
    p.focus(5, -1); // the reader turned round while 6 is loading
    await loads.resolve(6);
    await loads.resolve(4);
    await loads.resolve(3);
    expect(loads.started).toEqual([5, 6, 4, 3, 2]);
  });

  it('keeps at most `concurrency` loads in flight and tops up as each one finishes', async () => {
    const loads = controlledLoads();
    const p = preloader(loads, { concurrency: 3 });
    p.focus(0, 1);
    expect(loads.pending()).toEqual([0, 1, 2]);
    p.focus(1, 1);
    p.focus(2, 1);
    expect(loads.pending()).toHaveLength(3);
    await loads.resolve(1);
    expect(loads.pending()).toEqual([0, 2, 3]);
  });

  it('never loads a slice twice, whether loaded or still in flight, across many focus calls', async () => {
    const loads = controlledLoads();
    const p = preloader(loads, { concurrency: 2 });
    for (let step = 0; step < 30; step++) {
      p.focus(step % 10, step % 3 === 0 ? -1 : 1);
      const first = loads.pending()[0];
      if (first !== undefined) await loads.resolve(first);
    }
    while (loads.pending().length) await loads.resolve(loads.pending()[0]!);
    expect([...loads.started].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const calls = loads.started.length;
    p.focus(3, 1);
    p.focus(7, -1);
    expect(loads.started).toHaveLength(calls);
  });

  it('skips a failed slice, logs it once and does not retry it', async () => {
    const loads = controlledLoads();
    const records: LogRecord[] = [];
    const p = preloader(loads, { count: 4, window: 4, log: createLogger('viewer', (r) => records.push(r)) });
    p.focus(0, 1);
    await loads.resolve(0);
    await loads.reject(1);
    expect(loads.started).toEqual([0, 1, 2]);
    p.focus(1, 1);
    p.focus(0, 1);
    await loads.resolve(2);
    await loads.resolve(3);
    expect(loads.started).toEqual([0, 1, 2, 3]);
    expect(records.filter((r) => r.level === 'warn').map((r) => r.message)).toEqual([
      expect.stringMatching(/slice 2\/4 failed.*slice 1 is corrupt/),
    ]);
  });

  it('treats a load that throws at once like a failed one', async () => {
    const started: number[] = [];
    const p = createStackPreloader({
      count: 3,
      concurrency: 1,
      window: 3,
      load: (i) => {
        started.push(i);
        if (i === 0) throw new Error('no bytes');
        return Promise.resolve();
      },
    });
    p.focus(0, 1);
    await new Promise((r) => setTimeout(r, 0));
    expect(started).toEqual([0, 1, 2]);
  });

  it('loads only the window around the reader', async () => {
    const loads = controlledLoads();
    const p = preloader(loads, { count: 100, window: 4, concurrency: 4 });
    p.focus(50, 1);
    expect(loads.pending().sort((a, b) => a - b)).toEqual([50, 51, 52, 53]);
  });

  it('starts nothing after stop, while the loads in flight still finish', async () => {
    const loads = controlledLoads();
    const p = preloader(loads, { concurrency: 2 });
    p.focus(0, 1);
    p.stop();
    await loads.resolve(0);
    await loads.resolve(1);
    p.focus(5, 1);
    expect(loads.started).toEqual([0, 1]);
    expect(loads.pending()).toEqual([]);
  });
});
