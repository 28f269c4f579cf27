import type { ServiceClient, SiteSummary } from '../../../shared/ipc/contract';
import type { Logger } from '../../../shared/log';
import type { TeleradDB } from '../../cache/telerad-db';
import { isOfflineFailure } from '../../dicomweb/site-error';
import type { Prefetch } from '../../prefetch/prefetch-wiring';
import { browserNetworkStatus, createPrefetch } from '../../prefetch/prefetch-wiring';
import type { ReferralLookup } from '../../referral/referral-reader';
import { createReferralLookup } from '../../referral/referral-reader';
import { LOCAL_SITE_ID } from '../../referral-cases/referral-case-repo';
import type { SitesStore } from '../../sites/sites-store';
import { createSitesStore } from '../../sites/sites-store';
import { startAutoRefresh } from '../../worklist/auto-refresh';
import { createCachedStudyBytes, createStoredInstanceCounts } from '../../worklist/cached-sizes';
import { classifyWorklistError, querySiteStudies } from '../../worklist/qido-worklist';
import type { WorklistStore } from '../../worklist/worklist-store';
import { createWorklistStore } from '../../worklist/worklist-store';
import type { ConnectivityStore } from '../connectivity';
import { createConnectivityStore, windowNetworkSignal } from '../connectivity';
import type { CacheWiring } from './cache';
import type { Page } from './page';

/** A site the worklist knows, by id (its name for the panels, the whole summary for sending). */
export function worklistSite(worklist: WorklistStore, siteId: string): SiteSummary | undefined {
  return worklist.getState().sites.find((s) => s.site.id === siteId)?.site;
}

/** Offline made visible: the browser's network signal plus what each site last answered. */
export function wireConnectivity(page: Page): ConnectivityStore {
  return createConnectivityStore(windowNetworkSignal(page.window, page.navigator));
}

export interface WorklistWiring {
  worklist: WorklistStore;
  /** A study's referral note (priority, status), cached; the referral panel and the referral cases read it too. */
  referralLookup: ReferralLookup;
}

/** The merged worklist over the sites and the cache, with its referral look-ups and timed refresh. */
export function wireWorklist(deps: { db: TeleradDB; client: ServiceClient; page: Page; log: Logger; cache: CacheWiring; connectivity: ConnectivityStore }): WorklistWiring {
  const { db, client, page, log, connectivity } = deps;
  const { cache, dicomweb } = deps.cache;
  const referralLookup = createReferralLookup({ db, dicomweb, log: log.child('referral') });
  const worklist = createWorklistStore({
    listSites: async () => {
      const listed = await client.sites.list({});
      connectivity.setSites(listed.map((s) => s.id));
      return listed;
    },
    queryStudies: (site) =>
      querySiteStudies(dicomweb(site), site).then(
        (answer) => {
          connectivity.reportSiteReachable(site.id, true);
          return answer;
        },
        (err: unknown) => {
          // A refused login or a bad answer still means the site was reached.
          connectivity.reportSiteReachable(site.id, !isOfflineFailure(classifyWorklistError(err)));
          throw err;
        },
      ),
    // Cases imported here for a referral are the rural side's own (My referrals), not studies to read.
    listCachedStudies: async () => (await cache.listCachedStudies()).filter((st) => st.siteId !== LOCAL_SITE_ID),
    cachedStudyBytes: createCachedStudyBytes(cache),
    storedInstanceCounts: createStoredInstanceCounts(db),
    lookupReferral: referralLookup,
    classifyError: classifyWorklistError,
    log: log.child('worklist'),
  });
  deps.cache.onEvicted(() => void worklist.refreshCached());
  // Timed refresh every 2 minutes, paused while the page is hidden; the first load is App's.
  const { document } = page;
  startAutoRefresh({
    refresh: () => worklist.refresh(),
    lastRefreshAt: () => worklist.getState().lastRefreshAt,
    visibility: {
      isHidden: () => document.visibilityState === 'hidden',
      onChange(listener) {
        document.addEventListener('visibilitychange', listener);
        return () => document.removeEventListener('visibilitychange', listener);
      },
    },
  });
  return { worklist, referralLookup };
}

/** Background download of STAT/urgent, marked and keep-offline cases; yields to the user's own retrievals. */
export function wirePrefetch(deps: { db: TeleradDB; page: Page; log: Logger; cache: CacheWiring; worklist: WorklistStore }): Prefetch {
  const { db, page, log, worklist } = deps;
  const { cache, retriever, dicomweb } = deps.cache;
  const prefetch = createPrefetch({ db, cache, retriever, worklist, dicomweb, network: browserNetworkStatus(page.window, page.navigator), log: log.child('prefetch') });
  void prefetch.settings.load().catch((err: unknown) => log.warn('Reading prefetch settings failed', err));
  prefetch.scheduler.start();
  return prefetch;
}

/** Site management (the header's "Sites"): a change refreshes the worklist. */
export function wireSites(deps: { client: ServiceClient; worklist: WorklistStore; log: Logger }): SitesStore {
  const { client, worklist, log } = deps;
  return createSitesStore({ client, onSitesChanged: () => void worklist.refresh(), log: log.child('sites') });
}
