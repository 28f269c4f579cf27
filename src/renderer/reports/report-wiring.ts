import type { Logger } from '../../shared/log';
import type { EnqueueOutboxJob } from '../outbox';
import { findOutboxJob } from '../outbox';
import type { QualityService } from '../quality';
import type { TeleradDB } from '../cache/telerad-db';
import type { DicomWebApiFactory } from '../dicomweb/dicomweb-api';
import type { AttachmentLoader } from '../referral';
import { extractEncapsulatedPdf } from '../lib/dicom/encapsulated-pdf';
import { SopClass } from '../lib/dicom/referral-codes';
import type { WorklistStore } from '../worklist';
import { createNewReportNotices } from './new-report-notices';
import type { NewReportNotices } from './new-report-notices';
import { buildReportInstances } from '../lib/dicom/report-dicom';
import { measuredImageFromPart10, measurementCalibration, measurementLine } from './report-measurements';
import { createReportPanelStore } from './report-panel-store';
import type { ReportPanelStore } from './report-panel-store';
import { createReportReadback } from './report-readback';
import { createReportRepo } from './report-repo';
import type { ReportRepo, ReportRepoDeps } from './report-repo';
import type { LosslessGate } from './lossless-gate';
import { createStudyReportObserver, startReportStatusSync } from './report-status';
import { isReportSr, readReportSr } from '../lib/dicom/report-sr-reader';
import { studyContextFromPart10 } from '../lib/dicom/study-context';

export interface ReportsDeps {
  db: TeleradDB;
  readInstanceBytes: (sopInstanceUID: string) => Promise<ArrayBuffer | undefined>;
  dicomweb: DicomWebApiFactory;
  /** Loads a PDF at the site into the cache (the referral's attachment loader does exactly that). */
  loadSitePdf: AttachmentLoader;
  worklist: WorklistStore;
  /** The outbox's wake(): a signed report's job is waiting. */
  enqueueOutboxJob: EnqueueOutboxJob;
  /** main's audit trail (issue 9): signatures. */
  audit?: ReportRepoDeps['audit'];
  randomUUID: () => string;
  now: () => number;
  log: Logger;
  /** Signing waits for (or refuses) images the report names that are only previews here (issue 15). */
  losslessGate?: LosslessGate;
  /** The quality service (issue 8): warnings and blockers of a study are acknowledged before its report is signed. */
  quality?: Pick<QualityService, 'checkStudy'>;
}

export interface Reports {
  repo: ReportRepo;
  panel: ReportPanelStore;
  notices: NewReportNotices;
  /** Stops the status sync and the notices. */
  stop(): void;
}

/** Builds the report side (repo, panel, worklist status sync, new-report notices) from the app's services. */
export function createReports(deps: ReportsDeps): Reports {
  const { db, log } = deps;
  const repo = createReportRepo({
    db,
    readInstanceBytes: deps.readInstanceBytes,
    buildReportInstances,
    studyContextFromPart10,
    enqueueOutboxJob: deps.enqueueOutboxJob,
    ...(deps.audit ? { audit: deps.audit } : {}),
    now: deps.now,
    randomUUID: deps.randomUUID,
    log: log.child('repo'),
    ...(deps.quality ? { checkStudyQuality: (uid: string) => deps.quality!.checkStudy(uid) } : {}),
    ...(deps.losslessGate ? { losslessGate: deps.losslessGate } : {}),
  });
  const panel = createReportPanelStore({
    repo,
    observe: createStudyReportObserver(db),
    clinicalQuestion: async (uid) => (await db.referrals.get(uid))?.clinicalQuestion,
    async measurementLines(annotations) {
      const lines: string[] = [];
      for (const a of annotations) {
        const bytes = await deps.readInstanceBytes(a.sopInstanceUID);
        const img = bytes ? measuredImageFromPart10(bytes, a) : undefined;
        const onImage = await db.annotations.where('sopInstanceUID').equals(a.sopInstanceUID).toArray();
        lines.push(measurementLine(a, measurementCalibration(img?.calibration, a.sopInstanceUID, onImage), img?.instanceNumber));
      }
      return lines;
    },
    readSiteReports: createReportReadback({ dicomweb: deps.dicomweb, isReportSr, readReportSr, readCached: deps.readInstanceBytes, log: log.child('readback') }),
    async loadLocalPdf(report) {
      const job = await findOutboxJob(db, report.outboxJobId);
      const inst = job?.instances.find((i) => i.sopInstanceUID === report.pdfSopInstanceUID);
      if (inst?.bytes) return extractEncapsulatedPdf(inst.bytes);
      // The job was cleared after delivery: the site has the PDF.
      const cached = await deps.readInstanceBytes(report.pdfSopInstanceUID);
      if (cached) return extractEncapsulatedPdf(cached);
      throw new Error('The PDF of this report is neither in the outbox nor in the cache; open it from "At the site".');
    },
    loadSitePdf: (site, studyUID, pdf) =>
      deps.loadSitePdf(site, studyUID, { sopInstanceUID: pdf.sopInstanceUID, seriesInstanceUID: pdf.seriesInstanceUID, sopClassUID: SopClass.EncapsulatedPdf, kind: 'pdf', title: pdf.title }),
    now: deps.now,
    log: log.child('panel'),
  });
  const stopSync = startReportStatusSync({ db, setLocalStatus: deps.worklist.setLocalStatus, log: log.child('status') });
  const notices = createNewReportNotices({ worklist: deps.worklist, now: deps.now });
  return {
    repo,
    panel,
    notices,
    stop() {
      stopSync();
      notices.stop();
    },
  };
}
