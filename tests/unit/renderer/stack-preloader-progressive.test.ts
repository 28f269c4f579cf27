import { describe, expect, it } from 'vitest';
import { createLogger, type LogRecord } from '../../../src/shared/log';
import { createStackPreloader, type StackPreloaderOptions } from '../../../src/renderer/viewer/stack-preloader';

// The read-ahead while a study streams in: a slice with no bytes yet is not a
// failure (it is asked again later), and a slice that got better bytes (its
// preview, then its lossless file) is decoded again.

type Outcome = void | 'unavailable';

/** Loads the test settles one by one, recording the order they were asked in. */
function controlledLoads(): {
  load(index: number): Promise<Outcome>;
  started: number[];
  pending(): number[];
  resolve(index: number, outcome?: Outcome): Promise<void>;
  reject(index: number): Promise<void>;
} {
  const started: number[] = [];
  const waiting = new Map<number, { resolve(o: Outcome): void; reject(err: Error): void }>();
  const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
  return {
    started,
    load(index) {
      started.push(index);
      return new Promise<Outcome>((resolve, reject) => waiting.set(index, { resolve, reject }));
    },
    pending: () => [...waiting.keys()],
    async resolve(index, outcome) {
      waiting.get(index)!.resolve(outcome);
      waiting.delete(index);
      await flush();
    },
    async reject(index) {
      waiting.get(index)!.reject(new Error(`slice ${index} could not be decoded`));
      waiting.delete(index);
      await flush();
    },
  };
}

function preloader(loads: ReturnType<typeof controlledLoads>, opts: Partial<StackPreloaderOptions> = {}): ReturnType<typeof createStackPreloader> {
  return createStackPreloader({ count: 5, concurrency: 1, window: 5, load: (i) => loads.load(i), ...opts });
}

async function drain(loads: ReturnType<typeof controlledLoads>, unavailable: ReadonlySet<number> = new Set()): Promise<void> {
  for (let guard = 0; loads.pending().length > 0 && guard < 100; guard++) {
    const i = loads.pending()[0]!;
    await loads.resolve(i, unavailable.has(i) ? 'unavailable' : undefined);
  }
}

describe('stack preloader while the study streams in', () => {
  it('asks a slice that had not arrived again at the next focus, instead of giving it up', async () => {
    const loads = controlledLoads();
    const records: LogRecord[] = [];
    const p = preloader(loads, { log: createLogger('viewer', (r) => records.push(r)) });
    p.focus(2, 1);
    await drain(loads, new Set([3]));
    expect([...loads.started].sort()).toEqual([0, 1, 2, 3, 4]);
    p.focus(2, 1); // the reader scrolls on; slice 3 has landed since
    expect(loads.pending()).toEqual([3]);
    await drain(loads);
    expect(loads.started.filter((i) => i === 3)).toHaveLength(2);
    expect(records.filter((r) => r.level === 'warn')).toEqual([]); // not a failure
  });

  it('does not ask an unavailable slice again in the same turn (no busy loop on a missing slice)', async () => {
    const loads = controlledLoads();
    const p = preloader(loads, { window: 3 });
    p.focus(2, 1);
    await loads.resolve(2, 'unavailable');
    await loads.resolve(3, 'unavailable');
    await loads.resolve(4, 'unavailable');
    expect(loads.started).toEqual([2, 3, 4]);
    expect(loads.pending()).toEqual([]);
  });

  it('still loads a slice that arrived last, after every other slice was loaded', async () => {
    const loads = controlledLoads();
    const p = preloader(loads);
    p.focus(0, 1);
    await drain(loads, new Set([4]));
    p.focus(1, 1);
    expect(loads.pending()).toEqual([4]);
  });

  it('decodes a loaded slice again when it gets better bytes (its lossless file replaced the preview)', async () => {
    const loads = controlledLoads();
    const p = preloader(loads);
    p.focus(2, 0);
    await drain(loads);
    expect(loads.started).toHaveLength(5);
    p.invalidate(1);
    expect(loads.pending()).toEqual([1]);
    await drain(loads);
    expect(loads.started.filter((i) => i === 1)).toHaveLength(2);
  });

  it('asks at once a slice that was unavailable when its bytes land', async () => {
    const loads = controlledLoads();
    const p = preloader(loads);
    p.focus(2, 0);
    await drain(loads, new Set([4]));
    p.invalidate(4);
    expect(loads.pending()).toEqual([4]);
  });

  it('tries a slice whose preview failed to decode again when its lossless file lands', async () => {
    const loads = controlledLoads();
    const p = preloader(loads, { count: 3, window: 3 });
    p.focus(0, 1);
    await loads.reject(0);
    await drain(loads);
    p.invalidate(0);
    expect(loads.pending()).toEqual([0]);
  });

  it('leaves a slice outside the read-ahead window for a focus near it', async () => {
    const loads = controlledLoads();
    const p = preloader(loads, { count: 100, window: 3 });
    p.focus(50, 1);
    await drain(loads);
    p.invalidate(10);
    expect(loads.pending()).toEqual([]);
    p.focus(10, 0);
    expect(loads.pending()).toEqual([10]);
  });

  it('changes nothing once stopped', async () => {
    const loads = controlledLoads();
    const p = preloader(loads);
    p.focus(0, 1);
    await drain(loads);
    p.stop();
    p.invalidate(2);
    expect(loads.pending()).toEqual([]);
  });
});

describe('stack preloader: a slice that improves while it loads', () => {
  it('decodes again a slice whose lossless file landed while its preview was being decoded', async () => {
    const loads = controlledLoads();
    const p = preloader(loads);
    p.focus(2, 0);
    expect(loads.pending()).toEqual([2]); // decoding slice 2's preview
    p.invalidate(2); // its lossless file lands meanwhile
    await loads.resolve(2);
    await drain(loads);
    // The read-ahead should now hold the lossless image of slice 2; it holds the preview.
    expect(loads.started.filter((i) => i === 2)).toHaveLength(2);
  });
});
