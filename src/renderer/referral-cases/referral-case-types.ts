// The referral-case API's types, errors and labels (issue 7), in a module of
// their own so the repo and its concern modules (import, identity, gate, send,
// preview) all share them without importing one another for them.
// referral-case-repo.ts re-exports everything here: callers import from there.
import type { Logger } from '../../shared/log';
import type { Finding } from '../../shared/quality';
import type { QualityService } from '../quality';
import type { ReferralCaseRecord, SeriesRecord, StudyRecord, TeleradDB } from '../cache/telerad-db';
import type { InstanceMeta, StudyUpsert } from '../cache/study-cache';
import type { IdentityGroup } from '../case-import';
import type { ImportEntry, PatientIdentity, SkippedFile } from '../case-import';
import type { DcmjsRuntime } from '../lib/dicom/dcmjs-runtime';
import type { AuditRecordRequest } from '../../shared/ipc/contract';
import type { EnqueueOutboxJob } from '../outbox';

/** The pseudo site imported cases live under in the cache: not a real site, so nothing is retrieved for them. */
export const LOCAL_SITE_ID = 'local';

/** A case the user cannot send yet, with what to fix. */
export class SendRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SendRefusedError';
  }
}

/** The shortest reason "Send anyway" accepts: a word or two is not a reason. */
export const MIN_OVERRIDE_REASON_LENGTH = 10;

/** Sending stopped by the quality gate (issue 8): blocking findings and no (or too short a) "send anyway" reason. */
export class QualityBlockedError extends SendRefusedError {
  constructor(
    message: string,
    readonly blockers: readonly Finding[],
  ) {
    super(message);
    this.name = 'QualityBlockedError';
  }
}

/** The quality service's part the gate needs. */
export type CaseQualityChecker = Pick<QualityService, 'checkInstances'>;

/** "blocker: Missing slices": how a finding is named in the outbox job, the audit line and an acknowledgement. */
export function findingLabel(f: Pick<Finding, 'severity' | 'title'>): string {
  return `${f.severity}: ${f.title}`;
}

/** The cache operations a case needs (StudyCache). */
export interface CaseCache {
  putInstances(items: ReadonlyArray<{ meta: InstanceMeta; bytes: ArrayBuffer }>): Promise<unknown>;
  upsertStudy(study: StudyUpsert): Promise<StudyRecord>;
  putSeries(series: readonly SeriesRecord[]): Promise<void>;
  readInstanceBytes(sopInstanceUID: string): Promise<ArrayBuffer | undefined>;
  markComplete(studyInstanceUID: string): Promise<boolean>;
}

/** One Part 10 file to send. */
export interface SendFile {
  sopInstanceUID: string;
  sopClassUID: string;
  seriesInstanceUID: string;
  bytes: ArrayBuffer;
}

export interface ReferralCaseDeps {
  db: TeleradDB;
  cache: CaseCache;
  loadDcmjs: () => Promise<DcmjsRuntime>;
  /** Puts the case's files and its referral note into the outbox, in the transaction that marks it queued. */
  enqueueOutboxJob: EnqueueOutboxJob;
  now: () => number;
  randomUUID: () => string;
  randomBytes?: (n: number) => Uint8Array;
  log: Logger;
  /**
   * Last step before the files are written to the outbox: JPEG-LS lossless
   * transcoding when the user asked for it (case-send's transcodeForSending).
   * Absent: the files go as imported.
   */
  prepareForSending?: (files: SendFile[], options: { compress: boolean }) => Promise<SendFile[]>;
  /** The quality gate (issue 8). Absent: cases are sent unchecked. */
  quality?: CaseQualityChecker;
  /** Records what left this workstation in main's audit trail (audit.record); absent in narrow tests. */
  audit?: (event: Omit<AuditRecordRequest, 'actor'>) => Promise<void>;
}

/** The user's choice to send a case despite blocking quality findings. */
export interface SendOptions {
  sendAnyway?: { reason: string };
}

/** The fields the wizard edits; everything else the repo sets. */
export type CaseFields = Pick<
  ReferralCaseRecord,
  'clinicalQuestion' | 'history' | 'urgency' | 'requestedSpecialty' | 'referringClinician' | 'siteId' | 'deidentify' | 'compress' | 'patient'
>;

export interface ImportSummary {
  studies: { studyInstanceUID: string; description: string; patient: PatientIdentity; series: { modality: string; description: string; count: number }[] }[];
  skipped: SkippedFile[];
  /** Index files (DICOMDIR) read for the file list: information, not problems. */
  indexes: { path: string; note: string }[];
  instanceCount: number;
}

/** A local study of a case, as the cache holds it (the wizard's "View" buttons and import list). */
export interface CaseStudy {
  studyInstanceUID: string;
  description: string;
  patientName: string;
  series: { modality: string; description: string; count: number }[];
}

/** What de-identification would send, shown before sending: the pseudonym and every cleaned descriptor. */
export interface DeidentificationPreview {
  pseudonym: { name: string; id: string };
  descriptors: { name: string; before: string; after: string }[];
}

export interface AttachmentFile {
  name: string;
  type: string;
  bytes: Uint8Array;
}

/** The cases, newest first, and how many could not be opened. */
export interface ReferralCaseList {
  cases: ReferralCaseRecord[];
  /** Cases whose stored row failed its integrity check (changed outside the app): kept on disk, not listed. */
  unreadable: number;
}

export interface ReferralCases {
  /** One case changed outside the app does not hide the others (cache/sealing/openable-rows.ts). */
  list(): Promise<ReferralCaseList>;
  get(id: string): Promise<ReferralCaseRecord | undefined>;
  createDraft(defaults?: { referringClinician?: string }): Promise<ReferralCaseRecord>;
  /** Writes what the wizard typed (drafts only). */
  saveFields(id: string, fields: Partial<CaseFields>): Promise<ReferralCaseRecord>;
  discardDraft(id: string): Promise<void>;
  /** DICOM from a folder, a DICOMDIR on CD/USB, or zips: into the local cache, added to the case. */
  importDicom(id: string, entries: readonly ImportEntry[]): Promise<ImportSummary>;
  /** Photos (JPEG/PNG) and PDFs: converted to DICOM of the case's study, into the local cache. */
  addAttachments(id: string, files: readonly AttachmentFile[]): Promise<{ added: number; skipped: SkippedFile[] }>;
  /** The distinct patient identities of the case's imported images (attachments excluded). */
  identities(id: string): Promise<IdentityGroup[]>;
  /** The case is sent under this identity: the sent copies are rewritten, the local originals stay. */
  chooseIdentity(id: string, identity: PatientIdentity): Promise<ReferralCaseRecord>;
  /** One case per identity: this case keeps the first, new drafts get the others. */
  splitByIdentity(id: string): Promise<ReferralCaseRecord[]>;
  /** What stops the case from being sent, in words; empty when it can go. */
  problems(id: string): Promise<string[]>;
  /** The case's local studies with their series (from the cache). */
  studies(id: string): Promise<CaseStudy[]>;
  /** De-identification applied to one instance per series, to show the cleaned descriptors (Clean Descriptors is a heuristic). */
  previewDeidentification(id: string): Promise<DeidentificationPreview>;
  /** Instances and bytes that would be sent (before compression, note excluded). */
  sizeOf(id: string): Promise<{ instances: number; bytes: number }>;
  /**
   * The quality findings of the case's images as they would be sent (de-identification
   * and the case's patient as context); undefined when no quality checker is wired.
   */
  quality(id: string): Promise<Finding[] | undefined>;
  /** Refused (QualityBlockedError) while a blocker stands, unless `sendAnyway` gives a reason. */
  send(id: string, options?: SendOptions): Promise<ReferralCaseRecord>;
  /** A queued case whose jobs have all been delivered becomes 'sent'. */
  settleDelivered(): Promise<void>;
}

/** "Referral — NDLOVU^SIPHO · Is this a fracture of the…" */
export function referralLabel(patientName: string, question: string): string {
  const q = question.trim().replace(/\s+/g, ' ');
  return `Referral — ${patientName || 'unknown patient'} · ${q.length > 40 ? `${q.slice(0, 40)}…` : q}`;
}
