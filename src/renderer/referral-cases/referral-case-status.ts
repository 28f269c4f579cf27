// Where a case is, as the referrer follows it: a draft; queued (n of N
// instances at the site so far); received by the site (every job delivered);
// report arrived (the site holds a report for the sent study). Derived from
// the case, its outbox jobs and the referral lookup, never stored twice.
import { createListeners } from '../../shared/store/listeners';
import type { Logger } from '../../shared/log';
import type { OutboxJobState, ReferralCaseRecord } from '../cache/telerad-db';
import type { ReferralCases } from './referral-case-repo';
import { errorMessage } from '../../shared/error-message';

export type CaseProgress =
  | { state: 'draft' }
  | { state: 'queued'; stored: number; total: number; jobState: OutboxJobState; lastError?: string }
  | { state: 'received' }
  | { state: 'reported' };

/** The part of an outbox job the progress needs (a job record or the outbox panel's view of it). */
export interface JobProgressView {
  id: string;
  state: OutboxJobState;
  lastError?: string;
  instances: readonly { state: 'pending' | 'stored' | 'failed' }[];
}

export function caseProgress(c: ReferralCaseRecord, jobs: readonly JobProgressView[], reported: boolean): CaseProgress {
  if (c.state === 'draft') return { state: 'draft' };
  const mine = jobs.filter((j) => c.outboxJobIds.includes(j.id));
  const delivered = c.state === 'sent' || (mine.length === c.outboxJobIds.length && mine.every((j) => j.state === 'sent'));
  if (delivered) return reported ? { state: 'reported' } : { state: 'received' };
  const total = mine.reduce((n, j) => n + j.instances.length, 0);
  const stored = mine.reduce((n, j) => n + j.instances.filter((i) => i.state === 'stored').length, 0);
  const failing = mine.find((j) => j.state === 'failed' || j.lastError);
  return {
    state: 'queued',
    stored,
    total,
    jobState: mine.find((j) => j.state !== 'sent')?.state ?? 'queued',
    ...(failing?.lastError ? { lastError: failing.lastError } : {}),
  };
}

export function describeProgress(p: CaseProgress): string {
  switch (p.state) {
    case 'draft':
      return 'draft';
    case 'queued':
      return `queued: ${p.stored} of ${p.total} instances sent${p.jobState === 'sending' ? ' (sending)' : ''}`;
    case 'received':
      return 'received by the site';
    case 'reported':
      return 'report arrived';
  }
}

export interface MyReferralRow {
  record: ReferralCaseRecord;
  progress: CaseProgress;
}

export interface MyReferralsState {
  rows: MyReferralRow[];
  loaded: boolean;
  error?: string;
  /** Cases that could not be opened: their stored row was changed outside the app (kept, not listed). */
  unreadable?: number;
}

export interface MyReferralsStore {
  getState(): MyReferralsState;
  subscribe(listener: () => void): () => void;
  /** Reads the cases again (and asks the sites for answers to delivered ones). */
  refresh(): Promise<void>;
}

export interface MyReferralsDeps {
  cases: Pick<ReferralCases, 'list' | 'settleDelivered'>;
  /** The outbox's jobs as it knows them now (its per-instance states included). */
  jobs: () => readonly JobProgressView[];
  /** Whether the site holds a report for the sent study (referral lookup / worklist); false when it cannot say. */
  reportArrived: (siteId: string, studyInstanceUID: string) => Promise<boolean>;
  log: Logger;
}

/** The "My referrals" list. A revision counter keeps a slow refresh from overwriting a newer one. */
export function createMyReferralsStore(deps: MyReferralsDeps): MyReferralsStore {
  let state: MyReferralsState = { rows: [], loaded: false };
  const listeners = createListeners();
  let revision = 0;
  const reported = new Set<string>();
  const set = (next: MyReferralsState): void => {
    state = next;
    listeners.notify();
  };
  const rowsOf = (records: ReferralCaseRecord[]): MyReferralRow[] =>
    records.map((record) => ({ record, progress: caseProgress(record, deps.jobs(), reported.has(record.id)) }));

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    async refresh() {
      const mine = ++revision;
      try {
        await deps.cases.settleDelivered();
        const { cases: records, unreadable } = await deps.cases.list();
        if (mine !== revision) return;
        const found = unreadable > 0 ? { unreadable } : {};
        set({ rows: rowsOf(records), loaded: true, ...found });
        const delivered = records.filter((r) => r.state === 'sent' && r.siteId && r.sentStudyInstanceUID && !reported.has(r.id));
        for (const r of delivered) {
          const has = await deps.reportArrived(r.siteId!, r.sentStudyInstanceUID!).catch((err: unknown) => {
            deps.log.warn(`Asking ${r.siteId} for the answer to case ${r.id} failed`, err);
            return false;
          });
          if (has) reported.add(r.id);
        }
        if (mine !== revision) return;
        set({ rows: rowsOf(records), loaded: true, ...found });
      } catch (err) {
        if (mine !== revision) return;
        deps.log.warn('Reading the referral cases failed', err);
        set({ ...state, loaded: true, error: `Could not read the referral cases: ${errorMessage(err)}` });
      }
    },
  };
}
