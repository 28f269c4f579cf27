// @vitest-environment node
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startAutoRefresh } from '../../../src/renderer/worklist/auto-refresh';

function fakeVisibility(): { isHidden(): boolean; onChange(l: () => void): () => void; set(hidden: boolean): void } {
  let hidden = false;
  const listeners = new Set<() => void>();
  return {
    isHidden: () => hidden,
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    set(h) {
      hidden = h;
      for (const l of listeners) l();
    },
  };
}

describe('timed worklist refresh', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.UTC(2026, 0, 1));
  });
  afterEach(() => vi.useRealTimers());

  const MIN = 60_000;

  function setup(): { refreshes: () => number; manual(): void; visibility: ReturnType<typeof fakeVisibility>; stop: () => void } {
    let last: number | undefined = Date.now(); // the app's own first load
    let count = 0;
    const refresh = async (): Promise<void> => {
      count++;
      last = Date.now();
    };
    const visibility = fakeVisibility();
    const stop = startAutoRefresh({ refresh, lastRefreshAt: () => last, visibility, intervalMs: 2 * MIN });
    return { refreshes: () => count, manual: () => (last = Date.now()), visibility, stop };
  }

  it('refreshes every two minutes while the page is visible', async () => {
    const t = setup();
    await vi.advanceTimersByTimeAsync(2 * MIN - 1000);
    expect(t.refreshes()).toBe(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(t.refreshes()).toBe(1);
    await vi.advanceTimersByTimeAsync(4 * MIN);
    expect(t.refreshes()).toBe(3);
    t.stop();
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(t.refreshes()).toBe(3);
  });

  it('asks no site while the page is hidden, and catches up at once when it shows again', async () => {
    const t = setup();
    t.visibility.set(true);
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(t.refreshes()).toBe(0);
    t.visibility.set(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.refreshes()).toBe(1);
    t.stop();
  });

  it('counts the interval from a manual refresh', async () => {
    const t = setup();
    await vi.advanceTimersByTimeAsync(90_000);
    t.manual();
    await vi.advanceTimersByTimeAsync(60_000); // 2.5 min after start, 1 min after the click
    expect(t.refreshes()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.refreshes()).toBe(1);
    t.stop();
  });
});
