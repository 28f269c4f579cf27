import type { Logger } from '../../shared/log';
import type { BrowserStorageInfo, CacheBudget } from '../cache/cache-budget';
import type { TeleradDB } from '../cache/telerad-db';
import { createListeners } from '../../shared/store/listeners';
import { errorMessage } from '../../shared/error-message';

/**
 * The storage panel's state and actions, outside React: what the offline
 * cache holds per site and per case, the budget, the browser's quota and
 * whether storage is persistent; evict, pin and "clear all".
 */

export interface StorageCaseRow {
  studyInstanceUID: string;
  siteId: string;
  patientName: string;
  description: string;
  studyDate: string;
  bytes: number;
  instancesStored: number;
  instancesTotal: number;
  complete: boolean;
  pinned: boolean;
  /** Open in the viewer: kept by eviction and by "clear all". */
  open: boolean;
  /** The site holds a report: among the first to be evicted. */
  reported: boolean;
  lastAccessedAt?: number;
}

export interface StorageSiteRow {
  siteId: string;
  siteName: string;
  bytes: number;
  cases: number;
}

export interface StorageState {
  /** Bumped on every change. */
  revision: number;
  loading: boolean;
  /** An action in progress (evict, clear, budget): buttons are disabled meanwhile. */
  busy: boolean;
  error?: string;
  budgetBytes: number;
  /** The budget is the default from the browser's estimate, not one the user set. */
  budgetIsDefault: boolean;
  usedBytes: number;
  browser: BrowserStorageInfo;
  /** Most bytes first. */
  sites: readonly StorageSiteRow[];
  /** Least recently used first: the order eviction takes them (pins and reports aside). */
  cases: readonly StorageCaseRow[];
  /** "Clear all" was asked for and waits for its confirmation. */
  confirmingClear: boolean;
}

export interface StorageStore {
  getState(): StorageState;
  subscribe(listener: () => void): () => void;
  refresh(): Promise<void>;
  /** Sets the budget in MB (evicts down to it at once). */
  setBudgetMB(mb: number): Promise<void>;
  evict(studyInstanceUID: string): Promise<void>;
  setPinned(studyInstanceUID: string, pinned: boolean): Promise<void>;
  askClearAll(): void;
  cancelClearAll(): void;
  confirmClearAll(): Promise<void>;
}

export interface StorageStoreDeps {
  db: TeleradDB;
  budget: CacheBudget;
  isOpen: (studyInstanceUID: string) => boolean;
  /** A site's display name; the id when unknown (a site removed since). */
  siteName: (siteId: string) => string | undefined;
  /** Told after the cache lost cases (the worklist's offline badges). */
  onCacheChanged?: () => void;
  log: Logger;
}

export const MB = 1024 * 1024;

export function createStorageStore(deps: StorageStoreDeps): StorageStore {
  const { db, budget, log } = deps;
  const listeners = createListeners();
  let state: StorageState = {
    revision: 0,
    loading: false,
    busy: false,
    budgetBytes: 0,
    budgetIsDefault: true,
    usedBytes: 0,
    browser: {},
    sites: [],
    cases: [],
    confirmingClear: false,
  };
  const set = (patch: Partial<StorageState>): void => {
    state = { ...state, ...patch, revision: state.revision + 1 };
    listeners.notify();
  };

  const load = async (): Promise<void> => {
    const [studies, reports, budgetBytes, isSet, browser] = await Promise.all([
      db.studies.toArray(),
      db.referrals.toArray(),
      budget.getBudget(),
      budget.isBudgetSet(),
      budget.browserInfo(),
    ]);
    const reported = new Set(reports.filter((r) => r.hasReport).map((r) => r.studyInstanceUID));
    const counts = await Promise.all(studies.map((s) => db.instances.where('studyInstanceUID').equals(s.studyInstanceUID).count()));
    const cases = studies
      .map(
        (s, i): StorageCaseRow => ({
          studyInstanceUID: s.studyInstanceUID,
          siteId: s.siteId,
          patientName: s.patientName,
          description: s.description,
          studyDate: s.studyDate,
          bytes: s.storedBytes ?? 0,
          instancesStored: counts[i] ?? 0,
          instancesTotal: s.numInstances,
          complete: s.complete,
          pinned: s.pinned ?? false,
          open: deps.isOpen(s.studyInstanceUID),
          reported: reported.has(s.studyInstanceUID),
          ...(s.lastAccessedAt !== undefined ? { lastAccessedAt: s.lastAccessedAt } : {}),
        }),
      )
      .sort((a, b) => (a.lastAccessedAt ?? 0) - (b.lastAccessedAt ?? 0));
    const bySite = new Map<string, StorageSiteRow>();
    for (const c of cases) {
      const row = bySite.get(c.siteId) ?? { siteId: c.siteId, siteName: deps.siteName(c.siteId) ?? c.siteId, bytes: 0, cases: 0 };
      row.bytes += c.bytes;
      row.cases += 1;
      bySite.set(c.siteId, row);
    }
    set({
      loading: false,
      budgetBytes,
      budgetIsDefault: !isSet,
      usedBytes: cases.reduce((n, c) => n + c.bytes, 0),
      browser,
      cases,
      sites: [...bySite.values()].sort((a, b) => b.bytes - a.bytes),
    });
  };

  const refresh = async (): Promise<void> => {
    set({ loading: true });
    try {
      await load();
    } catch (err) {
      log.warn('Reading the cache usage failed', err);
      set({ loading: false, error: `Could not read the cache: ${errorMessage(err)}` });
    }
  };

  /** Runs an action, then re-reads the cache; a failure is shown in the panel. */
  const act = async (what: string, fn: () => Promise<unknown>, changedCache: boolean): Promise<void> => {
    set({ busy: true, error: undefined });
    try {
      await fn();
      if (changedCache) deps.onCacheChanged?.();
    } catch (err) {
      log.warn(`${what} failed`, err);
      set({ error: `${what} failed: ${errorMessage(err)}` });
    } finally {
      set({ busy: false });
      await refresh();
    }
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    refresh,
    setBudgetMB: (mb) =>
      act(
        'Setting the budget',
        async () => {
          if (!Number.isFinite(mb) || mb <= 0) throw new Error('enter a number of MB above 0');
          await budget.setBudget(Math.round(mb * MB));
        },
        true,
      ),
    evict: (uid) =>
      act(
        'Evicting the case',
        async () => {
          if (!(await budget.evict(uid))) throw new Error('the case is open in the viewer; close it first');
        },
        true,
      ),
    setPinned: (uid, pinned) => act(pinned ? 'Pinning' : 'Unpinning', () => budget.setPinned(uid, pinned), false),
    askClearAll: () => set({ confirmingClear: true }),
    cancelClearAll: () => set({ confirmingClear: false }),
    confirmClearAll: () => {
      set({ confirmingClear: false });
      return act('Clearing the cache', () => budget.clearAll(), true);
    },
  };
}
