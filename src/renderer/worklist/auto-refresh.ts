/** Default period of the worklist's timed refresh. */
export const DEFAULT_REFRESH_INTERVAL_MS = 2 * 60_000;

export interface PageVisibility {
  isHidden(): boolean;
  /** Calls back when the page is hidden or shown; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

export interface AutoRefreshDeps {
  refresh: () => Promise<void>;
  /** When the last refresh started (manual ones too), so a click on Refresh pushes the next timed one back. */
  lastRefreshAt: () => number | undefined;
  visibility: PageVisibility;
  intervalMs?: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/**
 * Refreshes the worklist every `intervalMs` while the page is visible. A
 * hidden page (another tab, a minimised window) asks no site anything; when
 * it shows again and the list is older than the interval, it refreshes at
 * once. Returns a stop function.
 */
export function startAutoRefresh(deps: AutoRefreshDeps): () => void {
  const interval = deps.intervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
  const now = deps.now ?? Date.now;
  const setTimer = deps.setTimer ?? ((fn: () => void, ms: number): unknown => setTimeout(fn, ms));
  const clearTimer = deps.clearTimer ?? ((h: unknown): void => clearTimeout(h as ReturnType<typeof setTimeout>));
  let handle: unknown;
  let stopped = false;

  const schedule = (): void => {
    if (handle !== undefined) clearTimer(handle);
    handle = undefined;
    if (stopped || deps.visibility.isHidden()) return;
    const last = deps.lastRefreshAt();
    // The first load is the app's own (on mount); the timer only takes over from there.
    const due = last === undefined ? interval : Math.max(0, last + interval - now());
    handle = setTimer(tick, due);
  };
  const tick = (): void => {
    handle = undefined;
    if (stopped || deps.visibility.isHidden()) return;
    const last = deps.lastRefreshAt();
    if (last === undefined || now() - last >= interval) {
      // The refresh records its own start time; the next tick is planned from it.
      void deps.refresh().catch(() => undefined).then(schedule);
      return;
    }
    schedule();
  };

  const unsubscribe = deps.visibility.onChange(schedule);
  schedule();
  return () => {
    stopped = true;
    unsubscribe();
    if (handle !== undefined) clearTimer(handle);
    handle = undefined;
  };
}
