import type { Logger } from '../../shared/log';
import type { Finding } from '../../shared/quality';
import type { AuditRecordRequest } from '../../shared/ipc/contract';
import type { ReportContent, ReportDraftRecord, ReportKind, SignedReportRecord, TeleradDB, UserProfileRecord } from '../cache/telerad-db';
import type { BuiltReport, ReportBuildInput, StudyContext } from '../lib/dicom/report-dicom-types';
import type { EnqueueOutboxJob } from '../outbox';
import type { LosslessGate } from './lossless-gate';

/** What saving a draft did: written, or dropped because the stored one is newer or the draft is gone (signed). */
export type DraftSaveResult = 'saved' | 'stale' | 'gone';

export interface ReportRepoDeps {
  db: TeleradDB;
  /** The cached Part 10 bytes of an instance (StudyCache.readInstanceBytes). */
  readInstanceBytes: (sopInstanceUID: string) => Promise<ArrayBuffer | undefined>;
  /** E1's builder: the TID 1500 SR and the Encapsulated PDF, from given UIDs. */
  buildReportInstances: (input: ReportBuildInput) => Promise<BuiltReport>;
  studyContextFromPart10: (bytes: ArrayBuffer) => StudyContext;
  /** Puts the signed report's SR and PDF into the outbox, in the signing transaction. */
  enqueueOutboxJob: EnqueueOutboxJob;
  /** main's audit trail (issue 9): a signature is recorded once it is committed. Absent in narrow tests. */
  audit?: (event: Omit<AuditRecordRequest, 'actor'>) => Promise<void>;
  now: () => number;
  /** A fresh random UUID (crypto.randomUUID). */
  randomUUID: () => string;
  log: Logger;
  /** The study's quality findings (src/renderer/quality's checkStudy). Absent: reports are signed without the quality step. */
  checkStudyQuality?: (studyInstanceUID: string) => Promise<{ findings: Finding[] }>;
  /**
   * Waits for (or refuses) images the report names that are in the cache only as previews (issue 15:
   * lossless-gate.ts). Absent: the images are read as they are (and a missing one refuses the signature).
   */
  losslessGate?: LosslessGate;
}

export interface SignOptions {
  /** Labels (qualityFindingLabel) of the quality findings the reader ticked as seen. */
  acknowledgedQuality?: readonly string[];
  /** Told while the signature waits for the lossless images of measured or key slices. */
  onWaiting?: (note: string) => void;
}

export interface NewDraft {
  studyInstanceUID: string;
  siteId: string;
  templateId: string;
  /** The referral's clinical question: a consult note quotes it. */
  clinicalQuestion?: string;
}

export interface ReportRepo {
  getProfile(): Promise<UserProfileRecord | undefined>;
  saveProfile(profile: Omit<UserProfileRecord, 'id'>): Promise<void>;
  draftsOfStudy(studyInstanceUID: string): Promise<ReportDraftRecord[]>;
  reportsOfStudy(studyInstanceUID: string): Promise<SignedReportRecord[]>;
  createDraft(input: NewDraft): Promise<ReportDraftRecord>;
  /** Writes a draft's content unless the stored draft is newer (`stale`) or gone (`gone`: signed or discarded meanwhile). */
  saveDraft(id: string, content: ReportContent, updatedAt: number): Promise<DraftSaveResult>;
  discardDraft(id: string): Promise<void>;
  /** A new draft that corrects a signed report: an addendum (adds to it) or an amendment (replaces its text). */
  startCorrection(reportId: string, kind: Exclude<ReportKind, 'report'>): Promise<ReportDraftRecord>;
  /** Refused (QualityAcknowledgementRequiredError) while the study has warnings or blockers not acknowledged in `options`. */
  sign(draftId: string, options?: SignOptions): Promise<SignedReportRecord>;
}
