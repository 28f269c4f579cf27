import type { Logger } from '../../shared/log';
import { putCacheSetting } from '../cache/cache-budget';
import type { PrefetchMarkRecord, TeleradDB } from '../cache/telerad-db';
import type { PrefetchPrefs } from './prefetch-scheduler';
import { createListeners } from '../../shared/store/listeners';

export interface PrefetchSettingsState {
  /** Study UIDs the user marked for prefetch. */
  marks: ReadonlySet<string>;
  /** Sites whose every case is kept offline. */
  keepOffline: ReadonlySet<string>;
  /** Bytes per second; undefined: no cap. */
  bandwidthCap?: number;
  loaded: boolean;
  revision: number;
}

export interface PrefetchSettingsStore extends PrefetchPrefs {
  getState(): PrefetchSettingsState;
  subscribe(listener: () => void): () => void;
  load(): Promise<void>;
  setMark(siteId: string, studyInstanceUID: string, marked: boolean): Promise<void>;
  setKeepOffline(siteId: string, keepOffline: boolean): Promise<void>;
  /** Undefined or 0 removes the cap. */
  setBandwidthCap(bytesPerSecond: number | undefined): Promise<void>;
}

/**
 * The user's prefetch choices, kept in IndexedDB (prefetchMarks,
 * sitePreferences, cacheSettings) so they hold across sessions and offline,
 * with a copy in memory for the UI. `onChange` tells the scheduler to plan again.
 */
export function createPrefetchSettings(db: TeleradDB, log: Logger, onChange: () => void, now: () => number = Date.now): PrefetchSettingsStore {
  let state: PrefetchSettingsState = { marks: new Set(), keepOffline: new Set(), loaded: false, revision: 0 };
  const listeners = createListeners();
  const set = (patch: Partial<Omit<PrefetchSettingsState, 'revision'>>): void => {
    state = { ...state, ...patch, revision: state.revision + 1 };
    listeners.notify();
  };
  const changed = (): void => {
    try {
      onChange();
    } catch (err) {
      log.warn('Prefetch settings listener failed', err);
    }
  };

  const readCap = async (): Promise<number | undefined> => {
    const rec = await db.cacheSettings.get('bandwidthCapBytesPerSecond');
    return rec && rec.value > 0 ? rec.value : undefined;
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    async load() {
      const [marks, prefs, cap] = await Promise.all([db.prefetchMarks.toArray(), db.sitePreferences.toArray(), readCap()]);
      set({
        marks: new Set(marks.map((m) => m.studyInstanceUID)),
        keepOffline: new Set(prefs.filter((p) => p.keepOffline).map((p) => p.siteId)),
        ...(cap !== undefined ? { bandwidthCap: cap } : {}),
        loaded: true,
      });
    },
    async setMark(siteId, studyInstanceUID, marked) {
      // The checkbox reflects the click at once (a controlled input would otherwise snap back
      // until IndexedDB answers); a failed write puts it back and says so in the log.
      const before = state.marks;
      const marks = new Set(before);
      if (marked) marks.add(studyInstanceUID);
      else marks.delete(studyInstanceUID);
      set({ marks });
      try {
        if (marked) await db.prefetchMarks.put({ studyInstanceUID, siteId, markedAt: now() });
        else await db.prefetchMarks.delete(studyInstanceUID);
      } catch (err) {
        log.error(`Could not save the prefetch mark of ${studyInstanceUID}`, err);
        set({ marks: before });
        throw err;
      }
      changed();
    },
    async setKeepOffline(siteId, keepOffline) {
      await db.sitePreferences.put({ siteId, keepOffline });
      const next = new Set(state.keepOffline);
      if (keepOffline) next.add(siteId);
      else next.delete(siteId);
      set({ keepOffline: next });
      changed();
    },
    async setBandwidthCap(bytesPerSecond) {
      const value = bytesPerSecond !== undefined && bytesPerSecond > 0 ? Math.round(bytesPerSecond) : 0;
      await putCacheSetting(db, { key: 'bandwidthCapBytesPerSecond', value });
      const { bandwidthCap: _old, ...rest } = state;
      state = { ...rest, revision: state.revision };
      set(value > 0 ? { bandwidthCap: value } : {});
      changed();
    },
    marks: (): Promise<PrefetchMarkRecord[]> => db.prefetchMarks.toArray(),
    async keepOfflineSites() {
      const prefs = await db.sitePreferences.toArray();
      return new Set(prefs.filter((p) => p.keepOffline).map((p) => p.siteId));
    },
    bandwidthCap: readCap,
  };
}
