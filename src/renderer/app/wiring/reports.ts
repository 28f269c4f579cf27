import type { Logger } from '../../../shared/log';
import type { AuditReport } from '../../audit/audit-store';
import type { StudyCache } from '../../cache/study-cache';
import type { StudyRetriever } from '../../cache/study-retriever';
import type { TeleradDB } from '../../cache/telerad-db';
import type { Outbox } from '../../outbox/outbox-scheduler';
import { createPdfAttachmentLoader } from '../../referral/referral-reader';
import type { LosslessGate } from '../../reports/lossless-gate';
import { createLosslessGate } from '../../reports/lossless-gate';
import type { Reports } from '../../reports/report-wiring';
import { createReports } from '../../reports/report-wiring';
import type { WorklistStore } from '../../worklist/worklist-store';
import type { CacheWiring } from './cache';
import type { Page } from './page';
import type { QualityWiring } from './quality';

export interface ReportsWiringDeps {
  db: TeleradDB;
  page: Page;
  log: Logger;
  cache: CacheWiring;
  worklist: WorklistStore;
  outbox: Outbox;
  quality: QualityWiring;
  auditReport: AuditReport;
}

/** Reports (issue 6): drafts, signing into the outbox, case statuses and the read-back of a site's reports. */
export function wireReports(deps: ReportsWiringDeps): Reports {
  const { db, page, log, worklist, outbox, quality, auditReport } = deps;
  const { cache, retriever, dicomweb } = deps.cache;
  return createReports({
    db,
    readInstanceBytes: (uid) => cache.readInstanceBytes(uid),
    dicomweb,
    loadSitePdf: createPdfAttachmentLoader({ cache, dicomweb, log: log.child('reports') }),
    worklist,
    enqueueOutboxJob: outbox.enqueue,
    audit: (event) => auditReport(event),
    randomUUID: page.randomUUID,
    now: page.now,
    log: log.child('reports'),
    quality: { checkStudy: (uid) => quality.service.checkStudy(uid) },
    losslessGate: signedOnLosslessImages(cache, retriever),
  });
}

/** Signed on lossless images only: a measured or key slice seen as a preview is waited for, first in the queue. */
function signedOnLosslessImages(cache: StudyCache, retriever: StudyRetriever): LosslessGate {
  return createLosslessGate({
    hasLossless: (sop) => cache.hasInstance(sop),
    hasPreview: (sop) => cache.hasPreview(sop),
    isStreaming: (uid) => retriever.isStreaming(uid),
    prioritize: (uid, sops) => retriever.prioritize(uid, sops),
    onStored: (listener) => retriever.onStored(listener),
  });
}

