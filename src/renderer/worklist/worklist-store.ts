import type { SiteSummary } from '../../shared/ipc/contract';
import type { StudyRecord } from '../cache/telerad-db';
import { createReferralLookups, referralKey } from './referral-lookups';
import { loadCached, querySite } from './worklist-loads';
import type { WorklistLoadContext } from './worklist-loads';
import type { ReferralEntry } from './referral-lookups';
import { DEFAULT_SORT, EMPTY_FILTER, filterRows, sortRows } from './worklist-filter';
import type { WorklistFilter, WorklistSort } from './worklist-filter';
import { deriveCaseStatus, estimateStudySize, patientAge, studyArrivedAt } from './worklist-row';
import type { LocalCaseStatus, WorklistRow } from './worklist-row';
import { createListeners } from '../../shared/store/listeners';
import { errorMessage } from '../../shared/error-message';

export type { WorklistRow } from './worklist-row';
import type { WorklistState, WorklistDeps } from './worklist-types';
export type { SiteLoadState, SiteStatus, WorklistState, WorklistDeps } from './worklist-types';


export interface WorklistStore {
  getState(): WorklistState;
  subscribe(listener: () => void): () => void;
  /** Lists the sites, then asks every site at once; each site's answer lands on its own. */
  refresh(): Promise<void>;
  /** Re-reads the cache only (after a study was retrieved), without asking any site. */
  refreshCached(): Promise<void>;
  setFilter(patch: Partial<WorklistFilter>): void;
  clearFilter(): void;
  setSort(sort: WorklistSort): void;
  /** The seam for later issues (report drafts, outbox): what this workstation is doing with a case; undefined clears it. */
  setLocalStatus(siteId: string, studyUID: string, status: LocalCaseStatus | undefined): void;
  /** Resolves once every referral lookup asked so far has answered and landed in the state. */
  referralsIdle(): Promise<void>;
}

/**
 * The worklist's state, outside React. Every site query carries a revision
 * number for its site; an answer whose revision is no longer the site's
 * latest is dropped, so a slow answer to an old refresh can never overwrite a
 * newer one. Sites are independent: one site hanging or failing leaves the
 * others' rows and statuses alone. Referral lookups start once rows are in
 * and never hold a refresh back; their answers merge in batches, each tied
 * to the study's instance count it was read at (see referral-lookups.ts).
 */
export function createWorklistStore(deps: WorklistDeps): WorklistStore {
  const now = deps.now ?? Date.now;
  let state: WorklistState = {
    sites: [],
    cached: [],
    cachedBytes: new Map(),
    referrals: new Map(),
    localStatus: new Map(),
    referralLookups: deps.lookupReferral !== undefined,
    filter: EMPTY_FILTER,
    sort: DEFAULT_SORT,
    refreshing: false,
  };
  const listeners = createListeners();
  let refreshRevision = 0;

  const set = (next: WorklistState): void => {
    state = next;
    listeners.notify();
  };

  const lookup = deps.lookupReferral;
  const lookups = lookup
    ? createReferralLookups({
        lookup,
        concurrency: deps.referralConcurrency ?? 4,
        log: deps.log,
        onResults: (results) => set({ ...state, referrals: new Map([...state.referrals, ...results]) }),
      })
    : undefined;

  /** Asks for the referral of every listed or cached study not read at its current instance count. */
  const requestReferrals = (): void => {
    if (!lookups) return;
    const pending = lookups.request(referralRequests(state), state.referrals);
    if (pending.size > 0) set({ ...state, referrals: new Map([...state.referrals, ...pending]) });
  };
  const loads: WorklistLoadContext = { deps, state: () => state, set, requestReferrals, siteRevision: new Map(), revisions: { cache: 0 } };
  const refreshCached = (): Promise<void> => loadCached(loads);

  const refresh = async (): Promise<void> => {
    const rev = ++refreshRevision;
    set({ ...state, refreshing: true, lastRefreshAt: now() });
    const cachedDone = refreshCached();
    let sites: SiteSummary[];
    try {
      sites = await deps.listSites();
    } catch (err) {
      if (rev !== refreshRevision) return;
      deps.log.error('Listing sites failed', err);
      set({ ...state, hostError: errorMessage(err), refreshing: false });
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
    await Promise.all([cachedDone, ...sites.map((site) => querySite(loads, site))]);
    if (rev === refreshRevision) set({ ...state, refreshing: false });
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    refresh,
    refreshCached,
    setFilter(patch) {
      set({ ...state, filter: { ...state.filter, ...patch } });
    },
    clearFilter() {
      set({ ...state, filter: EMPTY_FILTER });
    },
    setSort(sort) {
      set({ ...state, sort });
    },
    setLocalStatus(siteId, studyUID, status) {
      const localStatus = new Map(state.localStatus);
      if (status) localStatus.set(referralKey(siteId, studyUID), status);
      else localStatus.delete(referralKey(siteId, studyUID));
      set({ ...state, localStatus });
    },
    async referralsIdle() {
      await lookups?.idle();
    },
  };
}

/** Every listed study, then every cached one no site listed (if its site is still configured), at its instance count. */
function referralRequests(state: WorklistState): { site: SiteSummary; studyUID: string; version: string }[] {
  const sitesById = new Map(state.sites.map((s) => [s.site.id, s.site]));
  const items: { site: SiteSummary; studyUID: string; version: string }[] = [];
  const listed = new Set<string>();
  for (const s of state.sites) {
    for (const r of s.rows) {
      listed.add(r.studyInstanceUID);
      items.push({ site: s.site, studyUID: r.studyInstanceUID, version: String(r.numInstances ?? '') });
    }
  }
  for (const c of state.cached) {
    const site = sitesById.get(c.siteId);
    if (site && !listed.has(c.studyInstanceUID)) items.push({ site, studyUID: c.studyInstanceUID, version: String(c.numInstances) });
  }
  return items;
}

/** The inputs of the merged rows; filter and sort changes leave them alone, so the merge is not redone on every keystroke. */
export type WorklistRowInputs = Pick<WorklistState, 'sites' | 'cached' | 'cachedBytes' | 'storedCounts' | 'referrals' | 'localStatus' | 'referralLookups'>;

/** Priority, lookup state and case status of one line, from its referral answer (if in) and local state. */
function referralOf(
  inputs: WorklistRowInputs,
  key: string,
): Pick<WorklistRow, 'priority' | 'referralState' | 'status'> & { record?: ReferralEntry['record'] } {
  const entry = inputs.referrals.get(key);
  const local = inputs.localStatus.get(key);
  if (!entry) {
    return inputs.referralLookups
      ? { referralState: 'pending', status: deriveCaseStatus(undefined, local) }
      : { referralState: 'done', priority: 'routine', status: deriveCaseStatus(undefined, local) };
  }
  if (entry.state !== 'done') return { referralState: entry.state, status: deriveCaseStatus(undefined, local) };
  const record = entry.record;
  return { referralState: 'done', priority: record?.priority ?? 'routine', status: deriveCaseStatus(record, local) };
}

/**
 * Every site's rows merged with the cache: a study a site listed shows the
 * site's (fresher) fields and the cache's offline flag; a cached study no
 * site listed this time still shows, from the cache. Priority and status
 * come from the referral answers that are in so far. Unsorted: the view
 * sorts (selectVisibleRows).
 */
/** The share of a partly cached study's instances that is stored, for its "48 % offline" badge. */
function offlineShare(inputs: WorklistRowInputs, cached: StudyRecord | undefined): { offlineFraction?: number } {
  if (!cached || cached.complete || cached.numInstances <= 0) return {};
  const stored = inputs.storedCounts?.get(cached.studyInstanceUID);
  if (!stored) return {};
  return { offlineFraction: Math.min(1, stored / cached.numInstances) };
}

export function selectWorklistRows(inputs: WorklistRowInputs): WorklistRow[] {
  const cachedByUid = new Map(inputs.cached.map((c) => [c.studyInstanceUID, c]));
  const seen = new Set<string>();
  const rows: WorklistRow[] = [];
  for (const s of inputs.sites) {
    for (const r of s.rows) {
      const key = referralKey(r.siteId, r.studyInstanceUID);
      if (seen.has(key)) continue;
      seen.add(key);
      const cached = cachedByUid.get(r.studyInstanceUID);
      const age = patientAge(r.patientAge, r.patientBirthDate, r.studyDate);
      const size = estimateStudySize(r.modalities, r.numInstances, cached?.complete ? inputs.cachedBytes.get(r.studyInstanceUID) : undefined);
      const arrivedAt = studyArrivedAt(r.studyDate, r.studyTime, r.timezoneOffset);
      const { record: _record, ...referral } = referralOf(inputs, key);
      rows.push({
        key,
        siteId: r.siteId,
        studyInstanceUID: r.studyInstanceUID,
        patientName: r.patientName,
        patientId: r.patientId,
        patientSex: r.patientSex,
        age: age.label,
        ...(age.days !== undefined ? { ageDays: age.days } : {}),
        studyDate: r.studyDate,
        studyTime: r.studyTime ?? '',
        modalities: r.modalities,
        bodyPart: r.bodyPart ?? '',
        description: r.description,
        accessionNumber: r.accessionNumber,
        ...(r.numInstances !== undefined ? { numInstances: r.numInstances } : {}),
        ...(size ? { size } : {}),
        ...referral,
        ...(arrivedAt !== undefined ? { arrivedAt } : {}),
        // The cache is keyed by study UID alone; the same study at two sites is the same pixels.
        availableOffline: cached?.complete === true,
        ...offlineShare(inputs, cached),
        fromCacheOnly: false,
      });
    }
  }
  const listedUids = new Set(rows.map((r) => r.studyInstanceUID));
  for (const c of inputs.cached) {
    if (listedUids.has(c.studyInstanceUID)) continue;
    const key = referralKey(c.siteId, c.studyInstanceUID);
    const size = estimateStudySize(c.modalities, c.numInstances, c.complete ? inputs.cachedBytes.get(c.studyInstanceUID) : undefined);
    const arrivedAt = studyArrivedAt(c.studyDate, undefined);
    const { record: _record, ...referral } = referralOf(inputs, key);
    rows.push({
      key,
      siteId: c.siteId,
      studyInstanceUID: c.studyInstanceUID,
      patientName: c.patientName,
      patientId: c.patientId,
      patientSex: '',
      age: '',
      studyDate: c.studyDate,
      studyTime: '',
      modalities: c.modalities,
      bodyPart: '',
      description: c.description,
      accessionNumber: '',
      numInstances: c.numInstances,
      ...(size ? { size } : {}),
      ...referral,
      ...(arrivedAt !== undefined ? { arrivedAt } : {}),
      availableOffline: c.complete,
      ...offlineShare(inputs, c),
      fromCacheOnly: true,
    });
  }
  return rows;
}

/** What the list shows: the merged rows, filtered and sorted as the state says, at time `now`. */
export function selectVisibleRows(
  rows: readonly WorklistRow[],
  state: Pick<WorklistState, 'filter' | 'sort' | 'sites'>,
  now: number,
): WorklistRow[] {
  const names = new Map(state.sites.map((s) => [s.site.id, s.site.name]));
  return sortRows(filterRows(rows, state.filter), state.sort, now, (id) => names.get(id) ?? id);
}
