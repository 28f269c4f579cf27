import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { StudyRecord } from '../cache/telerad-db';
import type { SiteFailure } from '../dicomweb/site-error';
import type { SiteStudies, StudyRow } from './qido-worklist';
import type { LookupReferral, ReferralEntry } from './referral-lookups';
import type { WorklistFilter, WorklistSort } from './worklist-filter';
import type { LocalCaseStatus } from './worklist-row';

export type SiteLoadState = 'loading' | 'ok' | 'error';

export interface SiteStatus {
  site: SiteSummary;
  state: SiteLoadState;
  /** For 'error': short reason, e.g. "authentication failed". */
  message?: string;
  /** The last answer of this site; emptied on error (stale rows would claim studies the site may no longer have). */
  rows: StudyRow[];
  /** Set when the site holds more studies than the worklist fetched (the per-site cap). */
  cappedAt?: number;
}

export interface WorklistState {
  /** Sites in the order the host lists them. */
  sites: SiteStatus[];
  /** Studies in the offline cache; listed whatever the sites say. */
  cached: StudyRecord[];
  /** Exact stored bytes of the cache's complete studies, by study UID. */
  cachedBytes: ReadonlyMap<string, number>;
  /** Instances stored per partly cached study (the "48 % offline" badge); complete studies are not listed. */
  storedCounts?: ReadonlyMap<string, number>;
  /** Referral answers by `referralKey(siteId, studyUID)`; they fill in after the rows. */
  referrals: ReadonlyMap<string, ReferralEntry>;
  /** Draft / queued / sent, by `referralKey(siteId, studyUID)`: what only this workstation knows. */
  localStatus: ReadonlyMap<string, LocalCaseStatus>;
  /** False when no referral lookup is wired: rows then never wait for one (routine, new). */
  referralLookups: boolean;
  filter: WorklistFilter;
  sort: WorklistSort;
  /** Set when the host could not even list the sites; cached studies still list. */
  hostError?: string;
  refreshing: boolean;
  /** When the last refresh started (ms since epoch), for the refresh timer. */
  lastRefreshAt?: number;
}

export interface WorklistDeps {
  listSites: () => Promise<SiteSummary[]>;
  queryStudies: (site: SiteSummary) => Promise<SiteStudies>;
  listCachedStudies: () => Promise<StudyRecord[]>;
  /** Exact bytes of cached studies (complete ones are asked for); optional: sizes stay estimates without it. */
  cachedStudyBytes?: (studyUIDs: readonly string[]) => Promise<ReadonlyMap<string, number>>;
  /** Instances stored per study (partly cached ones are asked for); optional: partial studies then show no share. */
  storedInstanceCounts?: (studyUIDs: readonly string[]) => Promise<ReadonlyMap<string, number>>;
  /** Reads a study's referral; without it every study counts as having none (routine, new). */
  lookupReferral?: LookupReferral;
  /** Referral lookups in flight at most; default 4. */
  referralConcurrency?: number;
  classifyError: (err: unknown) => SiteFailure;
  log: Logger;
  now?: () => number;
}
