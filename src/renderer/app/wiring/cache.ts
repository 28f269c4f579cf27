import type { Logger } from '../../../shared/log';
import { createListeners } from '../../../shared/store/listeners';
import type { AuditReport } from '../../audit/audit-store';
import { retrievalAuditRecord } from '../../audit/audit-store';
import { CacheBudget } from '../../cache/cache-budget';
import { sealExistingRows } from '../../cache/sealing/seal-existing-rows';
import { StudyCache } from '../../cache/study-cache';
import { StudyRetriever } from '../../cache/study-retriever';
import type { TeleradDB } from '../../cache/telerad-db';
import type { TransfersStore } from '../../cache/transfers-store';
import { createTransfersStore } from '../../cache/transfers-store';
import type { DicomWebApiFactory } from '../../dicomweb/dicomweb-api';
import { createDicomWebApiFactory, instanceListsAfterTheFirstSlice } from '../../dicomweb/dicomweb-api';
import { hasUnsentReportWork } from '../../reports/report-status';
import type { Page } from './page';

/** Studies open in the viewer, counted (StrictMode opens twice): never evicted while on screen. */
export interface OpenStudies {
  isOpen(studyInstanceUID: string): boolean;
  opened(studyInstanceUID: string): void;
  closed(studyInstanceUID: string): void;
}

function createOpenStudies(): OpenStudies {
  const counts = new Map<string, number>();
  const isOpen = (uid: string): boolean => (counts.get(uid) ?? 0) > 0;
  return {
    isOpen,
    opened(uid) {
      counts.set(uid, (counts.get(uid) ?? 0) + 1);
    },
    closed(uid) {
      counts.set(uid, (counts.get(uid) ?? 1) - 1);
      if (!isOpen(uid)) counts.delete(uid);
    },
  };
}

export interface CacheWiring {
  openStudies: OpenStudies;
  budget: CacheBudget;
  cache: StudyCache;
  transfers: TransfersStore;
  retriever: StudyRetriever;
  /** DICOMweb per site, its instance queries held until the viewer's first slice of the study. */
  dicomweb: DicomWebApiFactory;
  /** False with `?open=complete`: the path before progressive reading, bench/progressive's baseline. */
  progressive: boolean;
  /** Cases evicted from the cache; the worklist and the storage panel, built after the cache, follow it. */
  onEvicted(listener: () => void): () => void;
}

/** The offline cache, its budget, the retriever filling it from the sites, and the transfers it shows. */
export function wireCache(deps: { db: TeleradDB; page: Page; log: Logger; auditReport: AuditReport }): CacheWiring {
  const { db, page, log, auditReport } = deps;
  const openStudies = createOpenStudies();
  // The budget tells of evictions to stores that read the cache, so are made after it: a late-bound subscription.
  const evictions = createListeners();
  const budget = new CacheBudget({
    db,
    log: log.child('storage'),
    storage: page.navigator.storage,
    isOpen: openStudies.isOpen,
    // A case with a report draft or an unsent outbox job keeps its images (signing and corrections read them).
    hasUnsentWork: (uid) => hasUnsentReportWork(db, uid),
    // Only a case the user is waiting for evicts others; prefetch stops at the budget rather than churn.
    mayEvictFor: openStudies.isOpen,
    onEvicted: () => evictions.notify(),
  });
  void budget.start();
  const cache = new StudyCache(db, page.now, budget);
  const siteDicomweb = createDicomWebApiFactory(page.window.location.origin, page.fetch);
  const transfers = createTransfersStore();
  const progressive = new URLSearchParams(page.window.location.search).get('open') !== 'complete';
  // Every retrieval from a site is an audit event (issue 9), prefetch included.
  // Request slots per site: the default (5) leaves one of the page's six connections to its origin for the rest.
  const retriever = new StudyRetriever({ cache, dicomweb: siteDicomweb, log: log.child('retrieve'), transfers, onStudyRetrieved: (e) => void auditReport(retrievalAuditRecord(e)) });
  // Everyone else's instance queries of a study wait for the viewer's first slice of it: the side panels
  // (referral, reports at the site, case thread) asked for theirs at the same moment, and a site answers a
  // 300-instance list in ≈ 0.2 s of work each — the first slice waited behind all four (bench/progressive).
  const dicomweb = instanceListsAfterTheFirstSlice(siteDicomweb, (uid) => retriever.firstSliceSettled(uid));
  // Back online: retrievals that failed on the way resume where they stopped.
  page.window.addEventListener('online', () => transfers.resumeFailed());
  return { openStudies, budget, cache, transfers, retriever, dicomweb, progressive, onEvicted: evictions.subscribe };
}

/** Rows cached before encryption at rest: sealed once, in the background (readable meanwhile). */
export function sealRowsCachedBeforeEncryption(db: TeleradDB, page: Page, log: Logger): void {
  void sealExistingRows(db, { log: log.child('sealing'), now: page.now }).catch((err: unknown) => log.error('Sealing the existing cache failed', err));
}
