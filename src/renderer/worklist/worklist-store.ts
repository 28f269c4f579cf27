import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { StudyRecord } from '../cache/telerad-db';
import type { SiteFailure } from '../dicomweb/site-error';
import type { StudyRow } from './qido-worklist';

export type SiteLoadState = 'loading' | 'ok' | 'error';

export interface SiteStatus {
  site: SiteSummary;
  state: SiteLoadState;
  /** For 'error': short reason, e.g. "authentication failed". */
  message?: string;
  /** The last answer of this site; emptied on error (stale rows would claim studies the site may no longer have). */
  rows: StudyRow[];
}

export interface WorklistState {
  /** Sites in the order the host lists them. */
  sites: SiteStatus[];
  /** Studies in the offline cache; listed whatever the sites say. */
  cached: StudyRecord[];
  /** Set when the host could not even list the sites; cached studies still list. */
  hostError?: string;
  refreshing: boolean;
}

/** A worklist line: a site's study, a cached one, or both merged. */
export interface WorklistRow {
  key: string;
  siteId: string;
  studyInstanceUID: string;
  patientName: string;
  patientId: string;
  studyDate: string;
  modalities: string[];
  description: string;
  numInstances?: number;
  /** Every instance is in the cache: it opens with the network gone. */
  availableOffline: boolean;
  /** True when the row is known only from the cache (its site did not list it this time). */
  fromCacheOnly: boolean;
}

export interface WorklistDeps {
  listSites: () => Promise<SiteSummary[]>;
  queryStudies: (site: SiteSummary) => Promise<StudyRow[]>;
  listCachedStudies: () => Promise<StudyRecord[]>;
  classifyError: (err: unknown) => SiteFailure;
  log: Logger;
}

export interface WorklistStore {
  getState(): WorklistState;
  subscribe(listener: () => void): () => void;
  /** Lists the sites, then asks every site at once; each site's answer lands on its own. */
  refresh(): Promise<void>;
  /** Re-reads the cache only (after a study was retrieved), without asking any site. */
  refreshCached(): Promise<void>;
}

/**
 * The worklist's state, outside React. Every site query carries a revision
 * number for its site; an answer whose revision is no longer the site's
 * latest is dropped, so a slow answer to an old refresh can never overwrite a
 * newer one. Sites are independent: one site hanging or failing leaves the
 * others' rows and statuses alone.
 */
export function createWorklistStore(deps: WorklistDeps): WorklistStore {
  let state: WorklistState = { sites: [], cached: [], refreshing: false };
  const listeners = new Set<() => void>();
  const siteRevision = new Map<string, number>();
  let cacheRevision = 0;
  let refreshRevision = 0;

  const set = (next: WorklistState): void => {
    state = next;
    for (const l of [...listeners]) l();
  };
  const updateSite = (siteId: string, patch: Partial<SiteStatus>): void => {
    set({ ...state, sites: state.sites.map((s) => (s.site.id === siteId ? { ...s, ...patch } : s)) });
  };

  const refreshCached = async (): Promise<void> => {
    const rev = ++cacheRevision;
    try {
      const cached = await deps.listCachedStudies();
      if (rev === cacheRevision) set({ ...state, cached });
    } catch (err) {
      deps.log.error('Reading cached studies failed', err);
    }
  };

  const querySite = async (site: SiteSummary): Promise<void> => {
    const rev = (siteRevision.get(site.id) ?? 0) + 1;
    siteRevision.set(site.id, rev);
    const current = (): boolean => siteRevision.get(site.id) === rev;
    updateSite(site.id, { state: 'loading' });
    try {
      const rows = await deps.queryStudies(site);
      if (!current()) return;
      const { message: _drop, ...rest } = state.sites.find((s) => s.site.id === site.id) ?? { site, rows: [], state: 'ok' };
      set({ ...state, sites: state.sites.map((s) => (s.site.id === site.id ? { ...rest, site, state: 'ok', rows } : s)) });
    } catch (err) {
      if (!current()) return;
      const failure = deps.classifyError(err);
      deps.log.warn(`Worklist query at ${site.id} failed: ${failure.message}`);
      updateSite(site.id, { state: 'error', message: failure.message, rows: [] });
    }
  };

  const refresh = async (): Promise<void> => {
    const rev = ++refreshRevision;
    set({ ...state, refreshing: true });
    const cachedDone = refreshCached();
    let sites: SiteSummary[];
    try {
      sites = await deps.listSites();
    } catch (err) {
      if (rev !== refreshRevision) return;
      deps.log.error('Listing sites failed', err);
      set({ ...state, hostError: err instanceof Error ? err.message : String(err), refreshing: false });
      await cachedDone;
      return;
    }
    if (rev !== refreshRevision) return;
    // Keep each known site's last rows while it reloads: the list does not blink empty on Refresh.
    const previous = new Map(state.sites.map((s) => [s.site.id, s]));
    set({
      ...state,
      hostError: undefined,
      sites: sites.map((site) => ({ ...(previous.get(site.id) ?? { rows: [] }), site, state: 'loading' as const })),
    });
    await Promise.all([cachedDone, ...sites.map(querySite)]);
    if (rev === refreshRevision) set({ ...state, refreshing: false });
  };

  return {
    getState: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    refresh,
    refreshCached,
  };
}

/**
 * Every site's rows merged with the cache: a study a site listed shows the
 * site's (fresher) fields and the cache's offline flag; a cached study no
 * site listed this time still shows, from the cache. Newest study first.
 */
export function selectWorklistRows(state: WorklistState): WorklistRow[] {
  const cachedByUid = new Map(state.cached.map((c) => [c.studyInstanceUID, c]));
  const seen = new Set<string>();
  const rows: WorklistRow[] = [];
  for (const s of state.sites) {
    for (const r of s.rows) {
      const key = `${r.siteId}|${r.studyInstanceUID}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const cached = cachedByUid.get(r.studyInstanceUID);
      rows.push({
        key,
        siteId: r.siteId,
        studyInstanceUID: r.studyInstanceUID,
        patientName: r.patientName,
        patientId: r.patientId,
        studyDate: r.studyDate,
        modalities: r.modalities,
        description: r.description,
        ...(r.numInstances !== undefined ? { numInstances: r.numInstances } : {}),
        // The cache is keyed by study UID alone; the same study at two sites is the same pixels.
        availableOffline: cached?.complete === true,
        fromCacheOnly: false,
      });
    }
  }
  const listedUids = new Set(rows.map((r) => r.studyInstanceUID));
  for (const c of state.cached) {
    if (listedUids.has(c.studyInstanceUID)) continue;
    rows.push({
      key: `${c.siteId}|${c.studyInstanceUID}`,
      siteId: c.siteId,
      studyInstanceUID: c.studyInstanceUID,
      patientName: c.patientName,
      patientId: c.patientId,
      studyDate: c.studyDate,
      modalities: c.modalities,
      description: c.description,
      numInstances: c.numInstances,
      availableOffline: c.complete,
      fromCacheOnly: true,
    });
  }
  return rows.sort(
    (a, b) => b.studyDate.localeCompare(a.studyDate) || a.patientName.localeCompare(b.patientName) || a.key.localeCompare(b.key),
  );
}
