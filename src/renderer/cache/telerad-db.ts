import Dexie from 'dexie';
import type { Table } from 'dexie';
import type { RowSealer } from './sealing/row-sealer';
import type { Sealing, SealingMarker, SealingPolicy, SealingState } from './sealing/sealing-middleware';
import { createSealing } from './sealing/sealing-middleware';
import type { AnnotationRecord, CriticalFinding, ReferralPriority, ReportKind, ReportPriority } from '../lib/clinical-types';

export type { AnnotationRecord, CriticalFinding, ReferralPriority, ReportKind, ReportPriority } from '../lib/clinical-types';

/**
 * The whole IndexedDB schema of the workstation, in one place, so every
 * version and its migration can be read top to bottom. Metadata and pixel
 * bytes live in separate tables: a worklist or a stack's sort order reads
 * `studies` / `instances` and never pulls megabytes of pixels into memory.
 */

export interface StudyRecord {
  studyInstanceUID: string;
  /** The site the study was retrieved from; the viewer goes back there for missing instances. */
  siteId: string;
  patientName: string;
  patientId: string;
  /** DICOM DA, `YYYYMMDD`, as the site sent it. */
  studyDate: string;
  modalities: string[];
  description: string;
  /** Instances the site reported for the study at the last retrieval (or in the worklist before one). */
  numInstances: number;
  /** True once every one of `numInstances` instances is stored; the viewer then needs no network. */
  complete: boolean;
  /** ms since epoch; undefined until the study is opened in the viewer. */
  lastOpenedAt?: number;
  storedAt: number;
  /** v3: the user pinned the study: never evicted. */
  pinned?: boolean;
  /** v3: last time the study was opened, prefetched or read (ms); the LRU eviction order. */
  lastAccessedAt?: number;
  /** v3: bytes of the study's instances in the cache (sum of `instances.size`), kept with every write. */
  storedBytes?: number;
}

/** v3: a study the user marked for prefetch (before the rule "every case of a keep-offline site"). */
export interface PrefetchMarkRecord {
  studyInstanceUID: string;
  siteId: string;
  markedAt: number;
}

/** v3: per-site preferences that live with the cache (not secrets, not site config). */
export interface SitePreferenceRecord {
  siteId: string;
  /** Prefetch every case of this site. */
  keepOffline: boolean;
}

/** v3: user settings of the cache and prefetch, one row per key. */
export interface CacheSettingRecord {
  key: 'budgetBytes' | 'bandwidthCapBytesPerSecond';
  value: number;
}

export interface SeriesRecord {
  seriesInstanceUID: string;
  studyInstanceUID: string;
  modality: string;
  seriesNumber?: number;
  description: string;
}

/** What the cache knows about one stored instance, without its bytes. */
export interface InstanceRecord {
  sopInstanceUID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  instanceNumber?: number;
  /** Bytes of the stored Part 10 file. */
  size: number;
  /** Hex SHA-256 of the stored bytes, checked on every read. */
  sha256: string;
  transferSyntaxUID: string;
  /** From the file header, for geometric stack order; absent for non-image objects. */
  imagePositionPatient?: number[];
  imageOrientationPatient?: number[];
  storedAt: number;
}

/**
 * v9: one instance as its site listed it (QIDO-RS), before or without its
 * bytes: enough to place it in its stack (order, geometry) and to ask for it.
 */
export interface ListedInstance {
  sopInstanceUID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopClassUID?: string;
  instanceNumber?: number;
  imagePositionPatient?: number[];
  imageOrientationPatient?: number[];
  rows?: number;
  columns?: number;
  numberOfFrames?: number;
}

/**
 * v9: a study's instance list as its site last answered it, in reading order
 * per series (the order the viewer shows and the retriever fetches around).
 * Kept so a study streamed part way opens again offline with its whole stack,
 * the slices not received marked as such.
 */
export interface StudyListingRecord {
  studyInstanceUID: string;
  siteId: string;
  instances: ListedInstance[];
  listedAt: number;
}

/**
 * v9: a small rendered preview of an instance (WADO-RS /rendered, JPEG, the
 * site's windowing) kept until its lossless file arrives — that write deletes
 * it. Never measured on, never a source of pixel figures.
 */
export interface InstancePreviewRecord {
  sopInstanceUID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  /** The JPEG as the site sent it. */
  bytes: ArrayBuffer;
  /** Size of the JPEG's raster (the requested viewport). */
  width: number;
  height: number;
  size: number;
  /** Hex SHA-256 of `bytes`, checked on read of a database in clear (GCM authenticates a sealed one). */
  sha256: string;
  storedAt: number;
}

export interface InstanceBytesRecord {
  sopInstanceUID: string;
  /**
   * The Part 10 file. An ArrayBuffer rather than a Blob: it clones the same in
   * every IndexedDB (Chromium, fake-indexeddb under Node), and the hash check
   * on read needs the bytes in memory anyway.
   */
  bytes: ArrayBuffer;
}

/** One object attached to a referral packet (PS3.3 Encapsulated PDF, VL Photographic, Secondary Capture). */
export interface ReferralAttachment {
  sopInstanceUID: string;
  seriesInstanceUID: string;
  sopClassUID: string;
  kind: 'pdf' | 'photo';
  /** Document Title (PDF) or Series Description (photo), for the list in the side panel. */
  title: string;
}

/**
 * What a study's referral note (Basic or Comprehensive SR titled LOINC
 * 57133-1 "Referral note") and its attachments say, read once and kept so the
 * worklist can sort by urgency offline without re-reading the SR.
 */
export interface ReferralRecord {
  studyInstanceUID: string;
  siteId: string;
  /** SOP Instance UID of the referral note; absent when the study has none. */
  noteSopInstanceUID?: string;
  priority?: ReferralPriority;
  clinicalQuestion?: string;
  history?: string;
  referringClinician?: string;
  requestedSpecialty?: string;
  attachments: ReferralAttachment[];
  /** True when the study at its site already holds a report (an SR other than the referral note). */
  hasReport: boolean;
  /** The study's latest note is a consult asking the referrer for more information (not indexed: no schema change). */
  moreInformationRequested?: boolean;
  fetchedAt: number;
}

/** What a site turned out to support, probed once and remembered (retrieval negotiates from it). */
export interface SiteCapabilityRecord {
  siteId: string;
  /** Whether WADO-RS answers with JPEG-LS lossless (1.2.840.10008.1.2.4.80) when asked. */
  jpegLsLossless?: boolean;
  /** Whether WADO-RS /rendered answers (previews); false once the site refused it (not indexed: no schema change). */
  rendered?: boolean;
  probedAt: number;
}

/** v4: an instance the reader flagged as a key image of its study. */
export interface KeyImageRecord {
  sopInstanceUID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  author: string;
  createdAt: number;
}

/**
 * v5: what a report says, the same shape in a draft and in a signed report.
 * `sections` are the template's narrative fields by id (findings, impression,
 * recommendation; a consult note's answer, ...).
 */
export interface ReportContent {
  templateId: string;
  sections: Record<string, string>;
  priority: ReportPriority;
  critical?: CriticalFinding;
  /** Annotation ids (table `annotations`) inserted as measurements. */
  measurementIds: string[];
  /** SOP Instance UIDs of key images attached (table `keyImages`). */
  keyImageSopInstanceUIDs: string[];
}

/**
 * v5: a report being written: autosaved every few seconds, so a crash or a
 * reload loses at most the last seconds of typing. Deleted when signed.
 */
export interface ReportDraftRecord {
  id: string;
  studyInstanceUID: string;
  siteId: string;
  kind: ReportKind;
  /** Addendum or amendment: the signed report (`reports.id`) it corrects. */
  predecessorReportId?: string;
  content: ReportContent;
  createdAt: number;
  updatedAt: number;
}

/** v5: who signs: the user's profile (one row, id 'me'). */
export interface UserProfileRecord {
  id: 'me';
  name: string;
  /** Credentials shown after the name: "MD, FRCR". */
  credentials: string;
  /** Optional identifiers: institution, specialty. */
  institution?: string;
  specialty?: string;
}

/**
 * v5: a signed report. Immutable once written: corrections are new reports
 * of kind addendum or amendment whose `predecessorReportId` points here. The
 * UIDs are made once, at signing, so every retry sends the same instances.
 */
export interface SignedReportRecord {
  id: string;
  studyInstanceUID: string;
  siteId: string;
  kind: ReportKind;
  predecessorReportId?: string;
  content: ReportContent;
  /** Measurements as they were at signing (the annotation may change later; the report does not). */
  measurements: AnnotationRecord[];
  author: { name: string; credentials: string };
  signedAt: number;
  srSopInstanceUID: string;
  srSeriesInstanceUID: string;
  pdfSopInstanceUID: string;
  pdfSeriesInstanceUID: string;
  /** The outbox job that delivers it. */
  outboxJobId: string;
  /** The quality findings (warnings, blockers) the signer saw and acknowledged (issue 8; not indexed: no schema change). */
  qualityAcknowledged?: QualityAcknowledgement;
}

/** Issue 8: who accepted which quality findings, and when. */
export interface QualityAcknowledgement {
  /** "severity: title" of each finding shown. */
  findings: string[];
  by: string;
  at: number;
}

/** Issue 8: a referral sent despite blocking quality findings, with the sender's reason. */
export interface QualityOverride extends QualityAcknowledgement {
  reason: string;
}

/** v5: where an outbox job is. `sending` survives a crash and means "outcome unknown" on restart. */
export type OutboxJobState = 'queued' | 'sending' | 'sent' | 'failed';

/** v5: one DICOM instance an outbox job stores, with its Part 10 bytes, built once. */
export interface OutboxInstance {
  sopInstanceUID: string;
  sopClassUID: string;
  seriesInstanceUID: string;
  /** The DICOM Part 10 file. */
  bytes: ArrayBuffer;
  /** Per instance: a STOW answer can store some and fail others. */
  state: 'pending' | 'stored' | 'failed';
  error?: string;
}

/**
 * v5: a durable STOW-RS delivery, written before any network call. The
 * scheduler moves it queued → sending → sent, or failed (with a reason) →
 * queued again at `nextAttemptAt`.
 */
export interface OutboxJobRecord {
  id: string;
  siteId: string;
  studyInstanceUID: string;
  /** What it carries: a report (issue 6) or a referral case (issue 7). */
  kind: 'report' | 'referral';
  /** `reports.id` for a report. */
  reportId?: string;
  /** Shown in the outbox panel: "Report — CT chest, Doe^Jane". */
  label: string;
  instances: OutboxInstance[];
  state: OutboxJobState;
  attempts: number;
  lastError?: string;
  /** Epoch ms; the scheduler picks queued jobs whose time has come (index). */
  nextAttemptAt: number;
  /** A request went out and its outcome is unknown: ask the site for the UIDs before sending again. */
  uncertain: boolean;
  createdAt: number;
  updatedAt: number;
  sentAt?: number;
  /** Issue 8: sent despite blocking quality findings ("send anyway"): the reason, who, when (not indexed: no schema change). */
  qualityOverride?: QualityOverride;
}

/** v6: where a referral case built on this workstation is. */
export type ReferralCaseState = 'draft' | 'queued' | 'sent';

/** v6: PS3.15 Basic profile options chosen for a case (de-identification is optional). */
export interface DeidentifyChoice {
  enabled: boolean;
  retainLongitudinalFullDates: boolean;
  cleanDescriptors: boolean;
}

/**
 * v6: a referral case the rural side builds: imported images, photos and
 * PDFs (their instances sit in the local cache under `localStudyInstanceUID`,
 * so the viewer shows them before sending), the referral's fields, and, once
 * sent, the outbox jobs that carry it.
 */
export interface ReferralCaseRecord {
  id: string;
  /** The study in the local cache (as imported, before any de-identification). */
  localStudyInstanceUID: string;
  /** The study UID the site receives (the de-identified one when de-identified); set when sent. */
  sentStudyInstanceUID?: string;
  siteId?: string;
  patient: { name: string; id: string; birthDate?: string; sex?: string };
  clinicalQuestion: string;
  history: string;
  urgency: ReferralPriority;
  requestedSpecialty: string;
  referringClinician?: string;
  deidentify: DeidentifyChoice;
  /** Send images JPEG-LS lossless compressed. */
  compress: boolean;
  /** SOP Instance UIDs (local cache) in the case. */
  sopInstanceUIDs: string[];
  /** What the import skipped and why, shown until sent. */
  skipped: { path: string; reason: string }[];
  state: ReferralCaseState;
  /** Photos and PDFs converted on this workstation (their SOP Instance UIDs are in `sopInstanceUIDs` too). */
  attachments?: { sopInstanceUID: string; kind: 'photo' | 'pdf'; title: string }[];
  /** How `patient` was settled: the images agreed, the user chose one of several, a split, or typed (photo-only). */
  identityResolution?: 'images' | 'chosen' | 'split' | 'typed';
  outboxJobIds: string[];
  createdAt: number;
  updatedAt: number;
  sentAt?: number;
}

/** v6: a case's de-identification mapping (original ↔ new UIDs and identity): kept here, never sent. */
export interface DeidMappingRecord {
  caseId: string;
  /** The de-identified study UID the site knows: an arriving answer is re-linked through it. */
  sentStudyInstanceUID: string;
  mapping: Record<string, unknown>;
  createdAt: number;
}

/**
 * v6: a note of a case's conversation written here (referral, consult, answer,
 * outcome), kept so the thread shows it before the site has it.
 */
export interface CaseNoteRecord {
  sopInstanceUID: string;
  /** The study as the site knows it. */
  studyInstanceUID: string;
  siteId: string;
  kind: 'referral' | 'consult' | 'answer' | 'outcome';
  /** The outbox job that delivers it (and its attachments). */
  outboxJobId: string;
  author: string;
  createdAt: number;
}

/** Current schema version; bump it with a new `version(n)` block below, never edit an old one. */
export const TELERAD_DB_VERSION = 10;

/** Index specs per version (Dexie syntax: primary key first, then indexes). Exported for the schema test. */
export const TELERAD_DB_SCHEMA_V1 = {
  studies: 'studyInstanceUID, siteId, lastOpenedAt, storedAt',
  series: 'seriesInstanceUID, studyInstanceUID',
  instances: 'sopInstanceUID, studyInstanceUID, seriesInstanceUID',
  instanceBytes: 'sopInstanceUID',
} as const;

/**
 * A later version's specs: the version before, with the tables this one adds or re-indexes laid over it,
 * so each version states only what changed and Dexie still gets every table of it.
 */
function schemaAfter<Before extends Readonly<Record<string, string>>, const Changes extends Readonly<Record<string, string>>>(
  before: Before,
  changes: Changes,
): Omit<Before, keyof Changes> & Changes {
  return { ...before, ...changes };
}

/** v2 adds referral summaries and per-site capabilities; v1 tables and their rows are untouched. */
export const TELERAD_DB_SCHEMA_V2 = schemaAfter(TELERAD_DB_SCHEMA_V1, { referrals: 'studyInstanceUID, siteId, priority', siteCapabilities: 'siteId' });

/** v3 (offline-first cache): LRU and pin indexes on studies; prefetch marks, site preferences, settings. */
export const TELERAD_DB_SCHEMA_V3 = schemaAfter(TELERAD_DB_SCHEMA_V2, {
  studies: 'studyInstanceUID, siteId, lastOpenedAt, storedAt, lastAccessedAt, pinned',
  prefetchMarks: 'studyInstanceUID, siteId',
  sitePreferences: 'siteId',
  cacheSettings: 'key',
});

/** v4 (reading viewer): measurements/annotations per instance and key images; new tables only. */
export const TELERAD_DB_SCHEMA_V4 = schemaAfter(TELERAD_DB_SCHEMA_V3, { annotations: 'id, studyInstanceUID, sopInstanceUID', keyImages: 'sopInstanceUID, studyInstanceUID' });

/** v5 (reports and the outbox): drafts, signed reports, outbox jobs, the user profile; new tables only. */
export const TELERAD_DB_SCHEMA_V5 = schemaAfter(TELERAD_DB_SCHEMA_V4, {
  reportDrafts: 'id, studyInstanceUID',
  reports: 'id, studyInstanceUID, outboxJobId',
  outboxJobs: 'id, state, nextAttemptAt, studyInstanceUID, reportId',
  userProfile: 'id',
});

/** v6 (referral cases): cases built here, their de-identification mappings, notes written here; new tables only. */
export const TELERAD_DB_SCHEMA_V6 = schemaAfter(TELERAD_DB_SCHEMA_V5, {
  referralCases: 'id, localStudyInstanceUID, sentStudyInstanceUID, state, updatedAt',
  deidMappings: 'caseId, sentStudyInstanceUID',
  caseNotes: 'sopInstanceUID, studyInstanceUID, outboxJobId',
});

/** v7 (encryption at rest): where sealing existing rows stands; new table only (rows are sealed after unlock). */
export const TELERAD_DB_SCHEMA_V7 = schemaAfter(TELERAD_DB_SCHEMA_V6, { sealing: 'id' });

/** v8: what is being typed in a case thread's composer (question, answer, outcome), kept until it is sent. */
export const TELERAD_DB_SCHEMA_V8 = schemaAfter(TELERAD_DB_SCHEMA_V7, { composeDrafts: 'studyInstanceUID, updatedAt' });

/** v9 (progressive reading): a study's instance list and the previews of instances not yet received lossless; new tables only. */
export const TELERAD_DB_SCHEMA_V9 = schemaAfter(TELERAD_DB_SCHEMA_V8, { studyListings: 'studyInstanceUID, siteId', instancePreviews: 'sopInstanceUID, studyInstanceUID' });

/**
 * v10 (issue 18, on-disk integrity): the version registry of sealed rows (`rowVersions`, see
 * sealing/row-versions.ts), and the referral case's original↔sent Study UID link out of the clear: the
 * `localStudyInstanceUID` and `sentStudyInstanceUID` indexes of `referralCases`, and the
 * `sentStudyInstanceUID` index of `deidMappings`, are dropped, so both UIDs live only inside the sealed
 * part (nothing queried by them: the case list is read whole and opened). Rows stay as they are until the
 * re-seal at first unlock (seal-existing-rows.ts) moves those fields inside and authenticates the rest.
 */
export const TELERAD_DB_SCHEMA_V10 = schemaAfter(TELERAD_DB_SCHEMA_V9, {
  referralCases: 'id, state, updatedAt',
  deidMappings: 'caseId',
  rowVersions: 'id',
});

/** The unsent text of a case thread's composer: one per case (the panel has one form open at a time). */
export interface ComposeDraftRecord {
  studyInstanceUID: string;
  form: 'ask' | 'answer' | 'outcome';
  text: string;
  updatedAt: number;
}

/** Progress of sealing rows written before encryption (or under another key): done once per key. */
export interface SealingStateRecord extends SealingMarker {
  id: 'rows';
  keyId: string;
  sealedAt: number;
  /** Rows rewritten sealed by that pass. */
  rows: number;
  /** v10: 3 once every row is sealed with its clear fields authenticated (AAD) and versioned; absent before. */
  format?: number;
}

/**
 * Encryption at rest (issue 9): the tables holding patient or clinical content, the key that seals
 * them, and what stays in clear beside their indexed fields (which always do: queries need them).
 * Patient names, ids, dates of the study, descriptions, pixel bytes, measurements, report text,
 * referral questions and notes are all sealed. Outbox jobs use the outbox key, which stays in memory
 * while the app is locked so background sending goes on. Not sealed: site capabilities, prefetch
 * marks, site preferences, cache settings, the sealing state, the version registry (no clinical content;
 * the registry's rows are sealed by the registry itself).
 *
 * Issue 18: every sealed row authenticates its clear fields (AAD). `versioned` tables also carry a row
 * version checked against the version registry, so an old sealed copy is refused: everything a
 * clinician writes or the app acts on (outbox jobs, drafts, reports, annotations, key images, cases,
 * their mappings and notes, the profile). The cache of what sites hold is not versioned: pixel data and
 * previews are content-addressed (a SOP Instance UID names one object, so an "old copy" of a row is the
 * same object, bound to its UID by the AAD), and studies, series, instances, listings and referral
 * summaries are copies of the site's answer, never sent anywhere and refreshed from it; keeping a
 * registry for them would add a manifest write to every batch of every retrieval.
 */
export const SEALING_POLICY: SealingPolicy = {
  studies: { key: 'data', clear: ['complete', 'numInstances', 'storedBytes'] },
  series: { key: 'data', clear: [] },
  instances: { key: 'data', clear: ['size', 'storedAt', 'transferSyntaxUID'] },
  instanceBytes: { key: 'data', clear: [] },
  referrals: { key: 'data', clear: ['hasReport', 'moreInformationRequested', 'fetchedAt'] },
  annotations: { key: 'data', clear: ['seriesInstanceUID', 'tool', 'createdAt', 'updatedAt', 'locked'], versioned: true },
  keyImages: { key: 'data', clear: ['seriesInstanceUID', 'createdAt'], versioned: true },
  reportDrafts: { key: 'data', clear: ['siteId', 'kind', 'predecessorReportId', 'createdAt', 'updatedAt'], versioned: true },
  reports: {
    key: 'data',
    clear: ['siteId', 'kind', 'predecessorReportId', 'signedAt', 'srSopInstanceUID', 'srSeriesInstanceUID', 'pdfSopInstanceUID', 'pdfSeriesInstanceUID'],
    versioned: true,
  },
  outboxJobs: { key: 'outbox', clear: ['siteId', 'kind', 'attempts', 'uncertain', 'createdAt', 'updatedAt', 'sentAt'], versioned: true },
  userProfile: { key: 'data', clear: [], versioned: true },
  referralCases: { key: 'data', clear: ['siteId', 'urgency', 'compress', 'createdAt', 'sentAt'], versioned: true },
  deidMappings: { key: 'data', clear: ['createdAt'], versioned: true },
  caseNotes: { key: 'data', clear: ['siteId', 'kind', 'createdAt'], versioned: true },
  composeDrafts: { key: 'data', clear: ['form'], versioned: true },
  studyListings: { key: 'data', clear: ['listedAt'] },
  instancePreviews: { key: 'data', clear: ['size', 'storedAt'] },
};

export interface TeleradDBOptions {
  /**
   * Seals the SEALING_POLICY tables. The app always passes one (made from the vault's keys at unlock);
   * `null` keeps rows in clear — fast unit tests of logic that does not depend on it.
   */
  sealer: RowSealer | null;
}

export class TeleradDB extends Dexie {
  studies!: Table<StudyRecord, string>;
  series!: Table<SeriesRecord, string>;
  instances!: Table<InstanceRecord, string>;
  instanceBytes!: Table<InstanceBytesRecord, string>;
  referrals!: Table<ReferralRecord, string>;
  siteCapabilities!: Table<SiteCapabilityRecord, string>;
  prefetchMarks!: Table<PrefetchMarkRecord, string>;
  sitePreferences!: Table<SitePreferenceRecord, string>;
  cacheSettings!: Table<CacheSettingRecord, string>;
  annotations!: Table<AnnotationRecord, string>;
  keyImages!: Table<KeyImageRecord, string>;
  reportDrafts!: Table<ReportDraftRecord, string>;
  reports!: Table<SignedReportRecord, string>;
  outboxJobs!: Table<OutboxJobRecord, string>;
  userProfile!: Table<UserProfileRecord, string>;
  referralCases!: Table<ReferralCaseRecord, string>;
  deidMappings!: Table<DeidMappingRecord, string>;
  caseNotes!: Table<CaseNoteRecord, string>;
  sealing!: Table<SealingStateRecord, string>;
  /** v10: the version registry (sealed by the sealing layer itself; never read or written through this). */
  rowVersions!: Table<{ id: string }, string>;
  composeDrafts!: Table<ComposeDraftRecord, string>;
  studyListings!: Table<StudyListingRecord, string>;
  instancePreviews!: Table<InstancePreviewRecord, string>;
  /** The sealer this database was opened with, if any. */
  readonly sealer: RowSealer | null;
  /** The sealing layer's view of the store (sealed or not) and its registry; null without a sealer. */
  readonly sealingLayer: Sealing | null;

  /**
   * @param name database name; the app uses one fixed name, tests a unique one each.
   * @param options the sealer (see TeleradDBOptions); none → rows in clear.
   */
  constructor(name: string, options: TeleradDBOptions = { sealer: null }) {
    super(name);
    this.sealer = options.sealer;
    this.sealingLayer = options.sealer ? createSealing(SEALING_POLICY, options.sealer) : null;
    if (this.sealingLayer) {
      const layer = this.sealingLayer;
      this.use(layer.middleware);
      // Before any other request: is the store sealed (rows without an envelope refused from here on)?
      this.on('ready', () => layer.loadState(), true);
      // A database created now holds nothing written before sealing: sealed from its first row.
      this.on('populate', (tx) => {
        layer.state.strict = true;
        tx.table('sealing').put({ id: 'rows', keyId: options.sealer!.keyId, sealedAt: 0, rows: 0, format: 3 } satisfies SealingStateRecord);
      });
    }
    this.version(1).stores(TELERAD_DB_SCHEMA_V1);
    // v2: new tables only, so no upgrade function: drafts and cached studies pass through as they are.
    this.version(2).stores(TELERAD_DB_SCHEMA_V2);
    // v3: back-fill what eviction needs for studies cached before it: their stored bytes and a
    // last-access time (the last opening, else when they were stored).
    this.version(3)
      .stores(TELERAD_DB_SCHEMA_V3)
      .upgrade(async (tx) => {
        const bytesByStudy = new Map<string, number>();
        await tx
          .table('instances')
          .each((i: InstanceRecord) => bytesByStudy.set(i.studyInstanceUID, (bytesByStudy.get(i.studyInstanceUID) ?? 0) + i.size));
        await tx
          .table('studies')
          .toCollection()
          .modify((st: StudyRecord) => {
            st.storedBytes = bytesByStudy.get(st.studyInstanceUID) ?? 0;
            st.lastAccessedAt = st.lastOpenedAt ?? st.storedAt;
          });
      });
    // v4: new tables only: every cached study and setting passes through untouched.
    this.version(4).stores(TELERAD_DB_SCHEMA_V4);
    // v5: new tables only: annotations, key images and the cache pass through untouched.
    this.version(5).stores(TELERAD_DB_SCHEMA_V5);
    // v6: new tables only: reports, drafts and outbox jobs pass through untouched.
    this.version(6).stores(TELERAD_DB_SCHEMA_V6);
    // v7: a new table only; rows written before are sealed by sealExistingRows() after the first unlock,
    // and read as they are until then, so no draft or cached case is unreadable at any moment.
    this.version(7).stores(TELERAD_DB_SCHEMA_V7);
    // v8: a new table only (the case thread's unsent text); everything else passes through untouched.
    this.version(8).stores(TELERAD_DB_SCHEMA_V8);
    // v9: new tables only (instance lists and previews for progressive reading); cached studies, drafts and
    // the outbox pass through untouched. A study cached before has no listing: it opens from its instances.
    this.version(9).stores(TELERAD_DB_SCHEMA_V9);
    // v10 (issue 18): the row version registry; the referral case's UID indexes dropped (their fields move
    // inside the sealed part). No upgrade function: it may run locked (outbox key only), so the rows are
    // re-sealed with AAD and versions by sealExistingRows() after the next unlock, read as they are until then.
    this.version(10).stores(TELERAD_DB_SCHEMA_V10);
  }

  /** Whether the store is sealed: rows without an envelope (or sealed before AAD) are refused. */
  get sealingState(): SealingState | undefined {
    return this.sealingLayer?.state;
  }
}
