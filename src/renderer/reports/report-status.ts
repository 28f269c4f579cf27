import { liveQuery } from 'dexie';
import type { Logger } from '../../shared/log';
import type {
  AnnotationRecord,
  KeyImageRecord,
  OutboxJobRecord,
  OutboxJobState,
  ReportDraftRecord,
  SignedReportRecord,
  TeleradDB,
} from '../cache/telerad-db';
import { outboxJobDeliveries, studyHasUnsentOutboxJob, studyOutboxJobs } from '../outbox';
import type { LocalCaseStatus } from '../worklist';

/**
 * What this workstation is doing with a case, derived from its report drafts
 * and report outbox jobs, and pushed into the worklist's local status. The
 * outbox scheduler changes job states in Dexie; a Dexie live query sees every
 * such change (from this tab or another), so nothing has to call back here.
 */

/** A case's local status: unsent work first (queued), then writing (draft), then delivered (reported). */
export function localStatusOf(drafts: readonly Pick<ReportDraftRecord, 'id'>[], jobStates: readonly OutboxJobState[]): LocalCaseStatus | undefined {
  if (jobStates.some((s) => s === 'queued' || s === 'sending' || s === 'failed')) return 'queued';
  if (drafts.length > 0) return 'draft';
  if (jobStates.some((s) => s === 'sent')) return 'reported';
  return undefined;
}

/** Local status per `siteId|studyUID`, over every draft and report job. */
export function localStatuses(
  drafts: readonly Pick<ReportDraftRecord, 'id' | 'siteId' | 'studyInstanceUID'>[],
  jobs: readonly Pick<OutboxJobRecord, 'kind' | 'siteId' | 'studyInstanceUID' | 'state'>[],
): Map<string, { siteId: string; studyInstanceUID: string; status: LocalCaseStatus }> {
  const cases = new Map<string, { siteId: string; studyInstanceUID: string; drafts: { id: string }[]; states: OutboxJobState[] }>();
  const caseOf = (siteId: string, studyInstanceUID: string): { drafts: { id: string }[]; states: OutboxJobState[] } => {
    const key = `${siteId}|${studyInstanceUID}`;
    let c = cases.get(key);
    if (!c) cases.set(key, (c = { siteId, studyInstanceUID, drafts: [], states: [] }));
    return c;
  };
  for (const d of drafts) caseOf(d.siteId, d.studyInstanceUID).drafts.push(d);
  for (const j of jobs) if (j.kind === 'report') caseOf(j.siteId, j.studyInstanceUID).states.push(j.state);
  const out = new Map<string, { siteId: string; studyInstanceUID: string; status: LocalCaseStatus }>();
  for (const [key, c] of cases) {
    const status = localStatusOf(c.drafts, c.states);
    if (status) out.set(key, { siteId: c.siteId, studyInstanceUID: c.studyInstanceUID, status });
  }
  return out;
}

export interface ReportStatusSyncDeps {
  db: TeleradDB;
  setLocalStatus: (siteId: string, studyUID: string, status: LocalCaseStatus | undefined) => void;
  log: Logger;
}

/** Keeps the worklist's local statuses in step with drafts and report jobs; returns the function that stops. */
export function startReportStatusSync(deps: ReportStatusSyncDeps): () => void {
  const { db } = deps;
  let shown = new Map<string, { siteId: string; studyInstanceUID: string; status: LocalCaseStatus }>();
  const sub = liveQuery(async () => {
    // Job metadata only: the bytes of every queued report need not be read to know their states.
    const jobs = await outboxJobDeliveries(db);
    const drafts = await db.reportDrafts.toArray();
    return localStatuses(drafts, jobs);
  }).subscribe({
    next: (next) => {
      for (const [key, c] of shown) if (!next.has(key)) deps.setLocalStatus(c.siteId, c.studyInstanceUID, undefined);
      for (const [key, c] of next) if (shown.get(key)?.status !== c.status) deps.setLocalStatus(c.siteId, c.studyInstanceUID, c.status);
      shown = next;
    },
    error: (err: unknown) => deps.log.error('Watching report drafts and outbox jobs failed', err),
  });
  return () => sub.unsubscribe();
}

/** What the report panel shows of one study besides the draft: signed reports, their delivery, what can be inserted. */
export interface StudyReportSnapshot {
  reports: SignedReportRecord[];
  /** Delivery of each report's job, by job id (bytes left out). */
  jobs: Record<string, Omit<OutboxJobRecord, 'instances'>>;
  annotations: AnnotationRecord[];
  keyImages: KeyImageRecord[];
}

export type ObserveStudyReports = (studyInstanceUID: string, onChange: (snapshot: StudyReportSnapshot) => void, onError: (err: unknown) => void) => () => void;

/** A live view of one study's reports, jobs, annotations and key images (Dexie live query). */
export function createStudyReportObserver(db: TeleradDB): ObserveStudyReports {
  return (studyUID, onChange, onError) => {
    const sub = liveQuery(async (): Promise<StudyReportSnapshot> => {
      const reports = await db.reports.where('studyInstanceUID').equals(studyUID).sortBy('signedAt');
      const jobs: StudyReportSnapshot['jobs'] = {};
      for (const meta of await studyOutboxJobs(db, studyUID)) jobs[meta.id] = meta;
      const annotations = await db.annotations.where('studyInstanceUID').equals(studyUID).sortBy('createdAt');
      const keyImages = await db.keyImages.where('studyInstanceUID').equals(studyUID).sortBy('createdAt');
      return { reports, jobs, annotations, keyImages };
    }).subscribe({ next: onChange, error: onError });
    return () => sub.unsubscribe();
  };
}

/**
 * Whether a study has work not yet at its site: a report draft, or an outbox
 * job not yet sent. The cache budget never evicts such a study: signing needs
 * its cached images, and a correction its predecessor's.
 */
export async function hasUnsentReportWork(db: TeleradDB, studyInstanceUID: string): Promise<boolean> {
  if ((await db.reportDrafts.where('studyInstanceUID').equals(studyInstanceUID).count()) > 0) return true;
  return studyHasUnsentOutboxJob(db, studyInstanceUID);
}
