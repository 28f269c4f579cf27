import { JPEGLS_ENCODER_WORKER_FILE } from '../../../shared/csp';
import type { Logger } from '../../../shared/log';
import type { AuditReport } from '../../audit/audit-store';
import type { TeleradDB } from '../../cache/telerad-db';
import { createWorkerFrameCodec } from '../../case-send/jpegls-codec';
import { lastDownloadBytesPerSecond, measuredBitsPerSecond } from '../../case-send/send-estimate';
import { loadDcmjs } from '../../lib/dicom/dcmjs-runtime';
import type { Outbox } from '../../outbox/outbox-scheduler';
import type { ReferralPanelStore } from '../../referral/referral-panel-store';
import { createReferralPanelStore } from '../../referral/referral-panel-store';
import type { ReferralLookup } from '../../referral/referral-reader';
import { createPdfAttachmentLoader } from '../../referral/referral-reader';
import type { ReferralCaseUi } from '../../referral-cases/referral-case-wiring';
import { createReferralCaseUi } from '../../referral-cases/referral-case-wiring';
import type { WorklistStore } from '../../worklist/worklist-store';
import type { CacheWiring } from './cache';
import type { Page } from './page';
import type { QualityWiring } from './quality';
import { worklistSite } from './worklist';

/** The referral side panel of the open study: its SR note and attached PDFs, cache first. */
export function wireReferralPanel(deps: { db: TeleradDB; log: Logger; cache: CacheWiring; referralLookup: ReferralLookup }): ReferralPanelStore {
  const { db, log, referralLookup } = deps;
  const { cache, dicomweb } = deps.cache;
  return createReferralPanelStore({
    lookup: referralLookup,
    loadPdf: createPdfAttachmentLoader({ cache, dicomweb, log: log.child('referral') }),
    cachedReferral: (studyUID) => db.referrals.get(studyUID),
    log: log.child('referral'),
  });
}

export interface ReferralCasesWiringDeps {
  db: TeleradDB;
  page: Page;
  log: Logger;
  cache: CacheWiring;
  worklist: WorklistStore;
  referralLookup: ReferralLookup;
  outbox: Outbox;
  quality: QualityWiring;
  auditReport: AuditReport;
}

/** Referral cases (issue 7): the wizard's import into the local cache, sending through the outbox, "My referrals". */
export function wireReferralCases(deps: ReferralCasesWiringDeps): ReferralCaseUi {
  const { db, page, log, worklist, referralLookup, outbox, quality, auditReport } = deps;
  const { cache, transfers } = deps.cache;
  // The JPEG-LS encoder worker starts on the first compressed send, not with the app.
  const jpeglsCodec = createWorkerFrameCodec(() => page.startWorker(new URL(`assets/${JPEGLS_ENCODER_WORKER_FILE}`, page.document.baseURI)));
  return createReferralCaseUi({
    db,
    cache,
    loadDcmjs,
    outbox,
    site: (id) => worklistSite(worklist, id),
    reportArrived: async (site, uid) => (await referralLookup(site, uid))?.hasReport ?? false,
    measuredBitsPerSecond: () =>
      measuredBitsPerSecond({ uploadBytesPerSecond: outbox.getState().lastUploadBytesPerSecond, downloadBytesPerSecond: lastDownloadBytesPerSecond(transfers.getState()) }),
    transcodeDeps: async () => ({ dcmjs: await loadDcmjs(), codec: jpeglsCodec }),
    now: page.now,
    randomUUID: page.randomUUID,
    log: log.child('referral-cases'),
    // The quality gate before sending (issue 8).
    quality: { checkInstances: (sops, context) => quality.service.checkInstances(sops, context) },
    audit: (event) => auditReport(event),
  });
}
