import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { StudyCache } from '../cache/study-cache';
import type { TeleradDB } from '../cache/telerad-db';
import type { DicomWebApiFactory } from '../dicomweb/dicomweb-api';
import type { WorklistStore } from '../worklist';
import { selectWorklistRows } from '../worklist';
import { createPrefetchScheduler } from './prefetch-scheduler';
import type { NetworkStatus, PrefetchCandidate, PrefetchRetriever, PrefetchScheduler } from './prefetch-scheduler';
import { createPrefetchSettings } from './prefetch-settings';
import type { PrefetchSettingsStore } from './prefetch-settings';
import type { PrefetchClock } from './token-bucket';

export interface PrefetchWiringDeps {
  db: TeleradDB;
  cache: StudyCache;
  retriever: PrefetchRetriever;
  worklist: WorklistStore;
  dicomweb: DicomWebApiFactory;
  network: NetworkStatus;
  log: Logger;
  clock?: PrefetchClock;
  probeIntervalMs?: number;
}

export interface Prefetch {
  scheduler: PrefetchScheduler;
  settings: PrefetchSettingsStore;
}

/** The worklist's lines as prefetch candidates (the referral lookup gives the priority). */
export function worklistCandidates(worklist: WorklistStore): PrefetchCandidate[] {
  const s = worklist.getState();
  return selectWorklistRows(s).map((r) => ({
    siteId: r.siteId,
    ...(r.priority !== undefined ? { priority: r.priority } : {}),
    availableOffline: r.availableOffline,
    study: {
      studyInstanceUID: r.studyInstanceUID,
      siteId: r.siteId,
      patientName: r.patientName,
      patientId: r.patientId,
      studyDate: r.studyDate,
      modalities: r.modalities,
      description: r.description,
      numInstances: r.numInstances ?? 0,
    },
  }));
}

/** `navigator.onLine` and the window's online/offline events as a NetworkStatus. */
export function browserNetworkStatus(win: Window, nav: Navigator): NetworkStatus {
  return {
    isOnline: () => nav.onLine,
    subscribe(listener) {
      const on = (): void => listener(true);
      const off = (): void => listener(false);
      win.addEventListener('online', on);
      win.addEventListener('offline', off);
      return () => {
        win.removeEventListener('online', on);
        win.removeEventListener('offline', off);
      };
    },
  };
}

/** Builds the prefetch scheduler and its settings over the app's worklist, cache and retriever. */
export function createPrefetch(deps: PrefetchWiringDeps): Prefetch {
  const { worklist, dicomweb } = deps;
  const siteOf = (id: string): SiteSummary | undefined => worklist.getState().sites.find((s) => s.site.id === id)?.site;
  // Settings are created first; they kick the scheduler, which is built right after.
  const kick = { now: (): void => undefined };
  const settings = createPrefetchSettings(deps.db, deps.log, () => kick.now());
  const scheduler = createPrefetchScheduler({
    retriever: deps.retriever,
    cache: deps.cache,
    prefs: settings,
    candidates: () => worklistCandidates(worklist),
    site: siteOf,
    probe: async (site, signal) => {
      const aborted = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      await Promise.race([dicomweb(site).searchForStudies({ limit: '1' }), aborted]);
    },
    network: deps.network,
    log: deps.log,
    onStudyComplete: () => void worklist.refreshCached(),
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.probeIntervalMs !== undefined ? { probeIntervalMs: deps.probeIntervalMs } : {}),
  });
  kick.now = () => scheduler.kick();
  // The worklist changes often (referral answers land in batches): plan again at most every half second.
  let pending = false;
  worklist.subscribe(() => {
    if (pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      scheduler.kick();
    }, 500);
  });
  return { scheduler, settings };
}
