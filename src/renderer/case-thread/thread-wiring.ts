import type { SiteSummary } from '../../shared/ipc/contract';
import type { EnqueueOutboxJob } from '../outbox';
import type { Logger } from '../../shared/log';
import type { StudyCache } from '../cache/study-cache';
import type { TeleradDB } from '../cache/telerad-db';
import type { DicomWebApiFactory } from '../dicomweb/dicomweb-api';
import { buildCaseNote } from '../lib/dicom/case-note-dicom';
import { pdfToDicom, photoToDicom } from '../case-import';
import { loadDcmjs } from '../lib/dicom/dcmjs-runtime';
import type { AttachmentLoader } from '../referral';
import { isReportSr, readReportSr } from '../lib/dicom/report-sr-reader';
import { studyContextFromPart10 } from '../lib/dicom/study-context';
import { createThreadActions } from './thread-actions';
import type { ThreadActions } from './thread-actions';
import { createCaseThreadStore } from './thread-store';
import { createComposeDrafts } from './compose-drafts';
import type { ComposeDrafts } from './compose-drafts';
import type { CaseThreadStore, ThreadAttachment } from './thread-store';

export interface CaseThreadDeps {
  db: TeleradDB;
  cache: StudyCache;
  dicomweb: DicomWebApiFactory;
  /** Loads a PDF of the study (cache, else the site into the cache). */
  loadPdf: AttachmentLoader;
  enqueueOutboxJob: EnqueueOutboxJob;
  randomUUID: () => string;
  now: () => number;
  log: Logger;
}

export interface CaseThread {
  store: CaseThreadStore;
  actions: ThreadActions;
  /** The composer's unsent text, kept as it is typed. */
  drafts: ComposeDrafts;
  loadPdf: (site: SiteSummary | undefined, studyInstanceUID: string, attachment: ThreadAttachment) => Promise<Uint8Array>;
}

/** The case thread (store, actions, PDF loader) from the app's services. */
export function createCaseThread(deps: CaseThreadDeps): CaseThread {
  const { db, cache, log } = deps;
  const store = createCaseThreadStore({ db, dicomweb: deps.dicomweb, cache, isReportSr, readReportSr, log: log.child('store') });
  const actions = createThreadActions({
    db,
    readInstanceBytes: (uid) => cache.readInstanceBytes(uid),
    studyContextFromPart10,
    buildCaseNote,
    async attachments() {
      const dcmjs = await loadDcmjs();
      return { photo: (bytes, mime, ctx) => photoToDicom(bytes, mime, ctx, { dcmjs }), pdf: (bytes, ctx) => pdfToDicom(bytes, ctx, { dcmjs }) };
    },
    cache,
    enqueueOutboxJob: deps.enqueueOutboxJob,
    now: deps.now,
    randomUUID: deps.randomUUID,
    log: log.child('actions'),
  });
  const drafts = createComposeDrafts({
    db,
    now: deps.now,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    log: log.child('drafts'),
  });
  return {
    store,
    actions,
    drafts,
    loadPdf: (site, studyUID, a) => deps.loadPdf(site, studyUID, { sopInstanceUID: a.sopInstanceUID, seriesInstanceUID: a.seriesInstanceUID, sopClassUID: a.sopClassUID, kind: 'pdf', title: 'Document' }),
  };
}
