import type { Logger } from '../../shared/log';

export interface StackPreloader {
  /** The reader is at `index`, moving in `direction`: load outward from there, ahead first. */
  focus(index: number, direction: 1 | -1 | 0): void;
  /** Stops further loads (the stack changed or the viewer closed); loads in flight are let finish. */
  stop(): void;
  /** Slice `index` got better bytes (its lossless file arrived): load it again when it is in the window. */
  invalidate(index: number): void;
}

export interface StackPreloaderOptions {
  count: number;
  /**
   * Reads, hash-checks, decodes and caches slice `index` (the viewer: cache bytes → imageId → loadAndCacheImage).
   * 'unavailable': nothing of it is stored yet — not a failure, tried again at a later focus.
   */
  load(index: number): Promise<void | 'unavailable'>;
  /** Loads in flight at once (≈ the decode workers). */
  concurrency: number;
  /** Slices around the focus to keep decoded (bounded by the decoded-image cache). */
  window: number;
  log?: Logger;
}

/**
 * How much farther a slice behind the reader may be than one ahead for the two
 * to be loaded in the same turn: a reader moving forward wants the slices ahead
 * first, but a stack scrolled back and forth needs its recent past too.
 */
const BEHIND_WEIGHT = 3;

/**
 * The slice indices in the order they should be loaded for a reader at `focus`
 * moving in `direction`, the first `window` of them (the focus itself first).
 * Ahead at distance d ranks as d, behind as d × BEHIND_WEIGHT; with no
 * direction both sides rank as d, the next slice before the previous one.
 */
export function preloadOrder(count: number, focus: number, direction: 1 | -1 | 0, window: number): number[] {
  const limit = Math.min(count, Math.max(0, Math.floor(window)));
  const order: number[] = [];
  if (limit === 0 || focus < 0 || focus >= count) return order;
  const forward = direction === -1 ? -1 : 1;
  const behindWeight = direction === 0 ? 1 : BEHIND_WEIGHT;
  order.push(focus);
  let ahead = 1;
  let behind = 1;
  while (order.length < limit) {
    const a = focus + forward * ahead;
    const b = focus - forward * behind;
    const aOk = a >= 0 && a < count;
    const bOk = b >= 0 && b < count;
    if (!aOk && !bOk) break;
    // Ties go ahead.
    if (aOk && (!bOk || ahead <= behind * behindWeight)) {
      order.push(a);
      ahead++;
    } else {
      order.push(b);
      behind++;
    }
  }
  return order;
}

/**
 * Slices of `bytesPerImage` decoded bytes that fit a decoded-image cache of
 * `cacheBytes` shared by `viewports` viewports, at most the whole stack: the
 * preloader's window, so it never decodes what the cache would evict again.
 */
export function preloadWindow(count: number, bytesPerImage: number, cacheBytes: number, viewports = 1): number {
  if (bytesPerImage <= 0) return count;
  return Math.max(1, Math.min(count, Math.floor(cacheBytes / Math.max(1, viewports) / bytesPerImage)));
}

type SliceState = 'loading' | 'loaded' | 'failed';

/**
 * Loads a stack's slices around the reader, nearest first in the direction of
 * travel, `concurrency` at a time. Each focus re-plans the order; each slice is
 * loaded at most once (a failure is remembered and logged once, not retried:
 * the viewer reports it if that slice is ever shown). Once every slice is
 * loaded or failed a focus returns at once.
 */
export function createStackPreloader(opts: StackPreloaderOptions): StackPreloader {
  const { count, load, log } = opts;
  const concurrency = Math.max(1, Math.floor(opts.concurrency));
  const states = new Map<number, SliceState>();
  let settled = 0; // loaded + failed
  const stale = new Set<number>();
  let inFlight = 0;
  let stopped = false;
  let order: number[] = [];
  let cursor = 0;

  const finish = (index: number, state: 'loaded' | 'failed' | 'unavailable', err?: unknown): void => {
    inFlight--;
    if (stale.delete(index)) {
      states.delete(index);
      cursor = 0;
      pump();
      return;
    }
    if (state === 'unavailable') {
      states.delete(index);
      skipped.add(index);
      pump();
      return;
    }
    states.set(index, state);
    settled++;
    if (state === 'failed') log?.warn(`Preloading slice ${index + 1}/${count} failed; not retried`, err);
    pump();
  };

  const start = (index: number): void => {
    states.set(index, 'loading');
    inFlight++;
    let p: Promise<void | 'unavailable'>;
    try {
      p = load(index);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (r) => finish(index, r === 'unavailable' ? 'unavailable' : 'loaded'),
      (err: unknown) => finish(index, 'failed', err),
    );
  };

  /** Slices found unavailable in this turn: not asked again until the next focus or invalidate. */
  let skipped = new Set<number>();

  function pump(): void {
    while (!stopped && inFlight < concurrency && cursor < order.length) {
      const index = order[cursor++]!;
      if (!states.has(index) && !skipped.has(index)) start(index);
    }
  }

  return {
    focus(index, direction) {
      if (stopped || settled >= count) return;
      order = preloadOrder(count, Math.max(0, Math.min(count - 1, Math.round(index))), direction, opts.window);
      cursor = 0;
      skipped = new Set();
      pump();
    },
    invalidate(index) {
      if (stopped) return;
      skipped.delete(index);
      if (states.get(index) === 'loading') stale.add(index);
      if (states.get(index) === 'loaded' || states.get(index) === 'failed') {
        states.delete(index);
        settled--;
      }
      // Only slices in the current window are loaded again; the rest wait for a focus near them.
      if (order.includes(index)) {
        cursor = 0;
        pump();
      }
    },
    stop() {
      stopped = true;
      order = [];
      cursor = 0;
    },
  };
}
