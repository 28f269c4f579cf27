// Referral cases built on this workstation (issue 7): drafts, import into the
// local cache, identity, and sending through the outbox. Nothing here touches
// the network: `send` builds every Part 10 file in memory, writes the outbox
// job, the case, the mapping and the note in ONE Dexie transaction, and only
// then wakes the outbox, which delivers when the site answers.
import type { Logger } from '../../shared/log';
import type { Finding } from '../../shared/quality';
import type { QualityContext, QualityService } from '../quality/study-quality';
import type {
  DeidMappingRecord,
  CaseNoteRecord,
  QualityOverride,
  ReferralCaseRecord,
  ReferralPriority,
  SeriesRecord,
  StudyRecord,
  TeleradDB,
} from '../cache/telerad-db';
import type { InstanceMeta, StudyUpsert } from '../cache/study-cache';
import { importFiles, identityConflicts } from '../case-import/import-files';
import type { IdentityGroup } from '../case-import/import-files';
import type { ImportEntry, ImportResult, ImportedInstance, PatientIdentity, SkippedFile } from '../case-import/import-types';
import { UnsupportedImageError, isPdf, pdfToDicom, photoToDicom } from '../case-import/attachments-to-dicom';
import type { BuiltObject, CaseDicomContext } from '../case-import/attachments-to-dicom';
import { newUid } from '../deidentify/dcmjs-runtime';
import type { DcmjsRuntime, RawDict } from '../deidentify/dcmjs-runtime';
import { deidentifyCase } from '../deidentify/deidentify';
import { ANNEX_E_TABLE } from '../deidentify/annex-e-table';
import { buildCaseNote } from '../case-notes/case-note-dicom';
import type { NoteReference } from '../case-notes/case-note-types';
import { studyContextFromPart10 } from '../reports/study-context';
import { zeroPreamble } from '../../shared/dicom/preamble';
import type { AuditRecordRequest } from '../../shared/ipc/contract';
import { errorMessage } from '../../shared/error-message';
import { OUTBOX_TABLE } from '../outbox/outbox-enqueue';
import type { EnqueueOutboxJob } from '../outbox/outbox-enqueue';

/** The file with its 128-byte preamble zeroed (a copy when it was not). */
function zeroedPreamble(bytes: ArrayBuffer): ArrayBuffer {
  const clean = zeroPreamble(new Uint8Array(bytes));
  return clean.byteOffset === 0 && clean.byteLength === clean.buffer.byteLength ? (clean.buffer as ArrayBuffer) : clean.slice().buffer;
}

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

export interface ReferralCases {
  list(): Promise<ReferralCaseRecord[]>;
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

const EMPTY_PATIENT = { name: '', id: '' };

/** Attributes the Clean Descriptors option keeps (cleaned) instead of removing: what the preview lists. */
const DESCRIPTOR_TAGS = new Map(ANNEX_E_TABLE.filter(([tag, , option]) => option === 'C' && !tag.includes('x')).map(([tag, , , name]) => [tag.toUpperCase(), name]));

function textOf(dict: RawDict, tag: string): string | undefined {
  const v = dict[tag]?.Value;
  if (!v || v.length === 0) return undefined;
  const parts = v.filter((x): x is string => typeof x === 'string');
  return parts.length > 0 ? parts.join('\\') : undefined;
}

function samePatient(a: PatientIdentity | ReferralCaseRecord['patient'], b: ReferralCaseRecord['patient']): boolean {
  const norm = (s: string | undefined): string => (s ?? '').toUpperCase().replace(/\^+$/, '').trim();
  return norm(a.name) === norm(b.name) && norm(a.id) === norm(b.id) && norm(a.birthDate) === norm(b.birthDate);
}

function asCasePatient(p: PatientIdentity): ReferralCaseRecord['patient'] {
  return { name: p.name, id: p.id, ...(p.birthDate ? { birthDate: p.birthDate } : {}), ...(p.sex ? { sex: p.sex } : {}) };
}

/** "Referral — NDLOVU^SIPHO · Is this a fracture of the…" */
export function referralLabel(patientName: string, question: string): string {
  const q = question.trim().replace(/\s+/g, ' ');
  return `Referral — ${patientName || 'unknown patient'} · ${q.length > 40 ? `${q.slice(0, 40)}…` : q}`;
}


function sizeOfAll(result: ImportResult): number {
  let n = 0;
  for (const st of result.studies) for (const se of st.series) n += se.instances.reduce((k, i) => k + i.size, 0);
  return n;
}

export function createReferralCases(deps: ReferralCaseDeps): ReferralCases {
  const { db, cache, log } = deps;
  const randomBytes = deps.randomBytes ?? ((n: number): Uint8Array => globalThis.crypto.getRandomValues(new Uint8Array(n)));

  const mustGet = async (id: string): Promise<ReferralCaseRecord> => {
    const c = await db.referralCases.get(id);
    if (!c) throw new Error(`Referral case ${id} not found`);
    return c;
  };
  const mustBeDraft = async (id: string): Promise<ReferralCaseRecord> => {
    const c = await mustGet(id);
    if (c.state !== 'draft') throw new SendRefusedError('This case has been sent: it cannot be changed any more.');
    return c;
  };
  const update = async (id: string, patch: Partial<ReferralCaseRecord>): Promise<ReferralCaseRecord> => {
    const c = await mustGet(id);
    const next = { ...c, ...patch, updatedAt: deps.now() };
    await db.referralCases.put(next);
    return next;
  };

  /** The case's instances read back from the local cache, as the import reads them (identity, UIDs). */
  const reread = async (c: ReferralCaseRecord, only?: (uid: string) => boolean): Promise<ImportResult> => {
    const entries: ImportEntry[] = c.sopInstanceUIDs
      .filter((uid) => !only || only(uid))
      .map((uid) => ({
        path: uid,
        size: 0,
        read: async (): Promise<ArrayBuffer> => {
          const bytes = await cache.readInstanceBytes(uid);
          if (!bytes) throw new Error(`instance ${uid} is no longer in the local cache`);
          return bytes;
        },
      }));
    return importFiles(entries, { log });
  };
  // Reading a 300-slice case for its identities on every keystroke of the question would be wasteful: kept per instance set.
  const identityMemo = new Map<string, { key: string; groups: IdentityGroup[] }>();
  const identitiesOf = async (c: ReferralCaseRecord): Promise<IdentityGroup[]> => {
    const key = `${c.sopInstanceUIDs.length}:${c.sopInstanceUIDs.join(',')}`;
    const memo = identityMemo.get(c.id);
    if (memo?.key === key) return memo.groups;
    const groups = identityConflicts(await reread(c, (uid) => !isAttachment(c)(uid)));
    identityMemo.set(c.id, { key, groups });
    return groups;
  };
  const isAttachment = (c: ReferralCaseRecord): ((uid: string) => boolean) => {
    const set = new Set((c.attachments ?? []).map((a) => a.sopInstanceUID));
    return (uid) => set.has(uid);
  };

  /** Stores instances of one study under the local pseudo site, pinned (a case being built is never evicted). */
  const storeLocal = async (
    studyUID: string,
    study: { patient: PatientIdentity | ReferralCaseRecord['patient']; studyDate: string; description: string },
    series: SeriesRecord[],
    items: { meta: InstanceMeta; bytes: ArrayBuffer }[],
  ): Promise<void> => {
    await cache.putInstances(items);
    await cache.putSeries(series);
    const all = await db.instances.where('studyInstanceUID').equals(studyUID).toArray();
    const seriesRows = await db.series.where('studyInstanceUID').equals(studyUID).toArray();
    await cache.upsertStudy({
      studyInstanceUID: studyUID,
      siteId: LOCAL_SITE_ID,
      patientName: study.patient.name,
      patientId: study.patient.id,
      studyDate: study.studyDate,
      modalities: [...new Set(seriesRows.map((s) => s.modality).filter(Boolean))],
      description: study.description,
      numInstances: all.length,
      pinned: true,
    });
    await cache.markComplete(studyUID);
  };

  const problemsOf = async (c: ReferralCaseRecord): Promise<string[]> => {
    const out: string[] = [];
    if (c.sopInstanceUIDs.length === 0) out.push('Import images, photos or PDFs first.');
    if (!c.clinicalQuestion.trim()) out.push('Write the clinical question.');
    if (!c.siteId) out.push('Choose the site to send to.');
    if (!c.referringClinician?.trim()) out.push('Name the referring clinician.');
    const dicom = c.sopInstanceUIDs.filter((uid) => !isAttachment(c)(uid));
    if (dicom.length > 0) {
      const groups = await identitiesOf(c);
      if (groups.length > 1 && !(c.identityResolution === 'chosen' && groups.some((g) => samePatient(g.identity, c.patient)))) {
        out.push(`The images name ${groups.length} different patients: choose one, or split the case.`);
      }
    } else if (!c.patient.name.trim() || !c.patient.id.trim()) {
      out.push("Type the patient's name and ID (the case has photos or PDFs only).");
    }
    return out;
  };

  /** The file as sent: the case's patient and study, when the original says otherwise. Originals are not touched. */
  const rewrite = (dcmjs: DcmjsRuntime, bytes: ArrayBuffer, patient: ReferralCaseRecord['patient'], studyUID: string): ArrayBuffer => {
    const { DicomMessage, DicomDict } = dcmjs.data;
    const { meta, dict } = DicomMessage.readFile(bytes);
    const out: RawDict = { ...dict };
    out['00100010'] = { vr: 'PN', Value: [{ Alphabetic: patient.name }] };
    out['00100020'] = { vr: 'LO', Value: [patient.id] };
    out['00100030'] = { vr: 'DA', Value: patient.birthDate ? [patient.birthDate] : [] };
    out['00100040'] = { vr: 'CS', Value: patient.sex ? [patient.sex] : [] };
    out['0020000D'] = { vr: 'UI', Value: [studyUID] };
    // The new values may hold any character: say UTF-8, as dcmjs writes strings.
    out['00080005'] = { vr: 'CS', Value: ['ISO_IR 192'] };
    const written = new DicomDict(meta);
    written.dict = out;
    return written.write({ fragmentMultiframe: false });
  };

  /**
   * The images (not the photos and PDFs made here) checked with the case as context. Once the
   * user chose the patient, the sent copies all carry that identity: the originals' disagreement
   * was resolved in the wizard's patient step and is not a finding about what is sent.
   */
  const qualityOf = async (c: ReferralCaseRecord): Promise<Finding[] | undefined> => {
    if (!deps.quality) return undefined;
    const images = c.sopInstanceUIDs.filter((uid) => !isAttachment(c)(uid));
    if (images.length === 0) return [];
    const p = c.patient;
    const referral: NonNullable<QualityContext['referral']> = {
      ...(p.id ? { patientId: p.id } : {}),
      ...(p.name ? { patientName: p.name } : {}),
      ...(p.birthDate ? { birthDate: p.birthDate } : {}),
      ...(p.sex ? { sex: p.sex } : {}),
    };
    const { findings } = await deps.quality.checkInstances(images, { deidentify: c.deidentify.enabled, referral });
    const resolved = c.identityResolution === 'chosen' ? new Set(['identity.study-consistency', 'identity.referral']) : new Set<string>();
    return findings.filter((f) => !resolved.has(f.checkId));
  };

  /** Who is sending: the user profile's name, else the referring clinician typed in the case. */
  const sender = async (c: ReferralCaseRecord): Promise<string> => {
    const p = await db.userProfile.get('me');
    return p?.name.trim() || c.referringClinician?.trim() || 'unknown user';
  };

  const caseStudyContext = (c: ReferralCaseRecord): CaseDicomContext => ({
    patientName: c.patient.name,
    patientId: c.patient.id,
    ...(c.patient.birthDate ? { patientBirthDate: c.patient.birthDate } : {}),
    ...(c.patient.sex ? { patientSex: c.patient.sex } : {}),
    studyInstanceUID: c.localStudyInstanceUID,
    ...(c.referringClinician ? { referringPhysicianName: c.referringClinician } : {}),
  });

  return {
    list: () => db.referralCases.orderBy('updatedAt').reverse().toArray(),
    get: (id) => db.referralCases.get(id),

    async createDraft(defaults) {
      const t = deps.now();
      const c: ReferralCaseRecord = {
        id: deps.randomUUID(),
        // Made once: a photo-only case is this study; a case with images takes its first imported study.
        localStudyInstanceUID: newUid(randomBytes),
        patient: { ...EMPTY_PATIENT },
        clinicalQuestion: '',
        history: '',
        urgency: 'routine' as ReferralPriority,
        requestedSpecialty: '',
        ...(defaults?.referringClinician ? { referringClinician: defaults.referringClinician } : {}),
        deidentify: { enabled: false, retainLongitudinalFullDates: false, cleanDescriptors: false },
        compress: false,
        sopInstanceUIDs: [],
        skipped: [],
        attachments: [],
        state: 'draft',
        outboxJobIds: [],
        createdAt: t,
        updatedAt: t,
      };
      await db.referralCases.add(c);
      return c;
    },

    async saveFields(id, fields) {
      const c = await mustBeDraft(id);
      const patch: Partial<ReferralCaseRecord> = { ...fields };
      // Typing the patient is how a photo-only case gets one.
      if (fields.patient && c.sopInstanceUIDs.every((uid) => isAttachment(c)(uid))) patch.identityResolution = 'typed';
      return update(id, patch);
    },

    async discardDraft(id) {
      await mustBeDraft(id);
      await db.referralCases.delete(id);
    },

    async importDicom(id, entries) {
      let c = await mustBeDraft(id);
      const result = await importFiles(entries, { log });
      const hadDicom = c.sopInstanceUIDs.some((uid) => !isAttachment(c)(uid));
      for (const st of result.studies) {
        const series: SeriesRecord[] = st.series.map((s) => ({
          seriesInstanceUID: s.seriesInstanceUID,
          studyInstanceUID: st.studyInstanceUID,
          modality: s.modality,
          ...(s.seriesNumber !== undefined ? { seriesNumber: s.seriesNumber } : {}),
          description: s.description,
        }));
        const items = st.series.flatMap((s) =>
          s.instances.map((i: ImportedInstance) => ({
            meta: {
              sopInstanceUID: i.sopInstanceUID,
              studyInstanceUID: st.studyInstanceUID,
              seriesInstanceUID: s.seriesInstanceUID,
              ...(i.instanceNumber !== undefined ? { instanceNumber: i.instanceNumber } : {}),
              transferSyntaxUID: i.transferSyntaxUID,
            },
            bytes: i.bytes,
          })),
        );
        await storeLocal(st.studyInstanceUID, st, series, items);
      }
      const added = result.studies.flatMap((st) => st.series.flatMap((s) => s.instances.map((i) => i.sopInstanceUID)));
      const sops = [...new Set([...c.sopInstanceUIDs, ...added])];
      c = await mustGet(id);
      const patch: Partial<ReferralCaseRecord> = {
        sopInstanceUIDs: sops,
        skipped: [...c.skipped, ...result.skipped.map((s) => ({ path: s.path, reason: s.reason }))],
      };
      const first = result.studies[0];
      if (!hadDicom && first) patch.localStudyInstanceUID = first.studyInstanceUID;
      const groups = identityConflicts(await reread({ ...c, ...patch }, (uid) => !isAttachment(c)(uid)));
      if (groups.length === 1) {
        patch.patient = asCasePatient(groups[0]!.identity);
        patch.identityResolution = 'images';
      } else if (groups.length > 1 && c.identityResolution !== 'chosen') {
        patch.patient = { ...EMPTY_PATIENT };
      }
      await update(id, patch);
      log.info(`Case ${id}: imported ${result.instanceCount} instance(s) in ${result.studies.length} study(ies), ${sizeOfAll(result)} bytes; skipped ${result.skipped.length}`);
      return {
        studies: result.studies.map((st) => ({
          studyInstanceUID: st.studyInstanceUID,
          description: st.description,
          patient: st.patient,
          series: st.series.map((s) => ({ modality: s.modality, description: s.description, count: s.instances.length })),
        })),
        skipped: result.skipped,
        instanceCount: result.instanceCount,
      };
    },

    async addAttachments(id, files) {
      const c = await mustBeDraft(id);
      const dcmjs = await deps.loadDcmjs();
      const skipped: SkippedFile[] = [];
      const built: { obj: BuiltObject; kind: 'photo' | 'pdf'; title: string }[] = [];
      const base = caseStudyContext(c);
      const seriesOffset = (c.attachments ?? []).length;
      for (const [k, f] of files.entries()) {
        const title = f.name.replace(/\.[^.]+$/, '') || (f.type === 'application/pdf' ? 'PDF document' : 'Photo');
        const ctx: CaseDicomContext = { ...base, description: title, seriesNumber: 900 + seriesOffset + k };
        try {
          if (f.type === 'application/pdf' || isPdf(f.bytes)) built.push({ obj: pdfToDicom(f.bytes, ctx, { dcmjs, randomBytes }), kind: 'pdf', title });
          else built.push({ obj: photoToDicom(f.bytes, f.type, ctx, { dcmjs, randomBytes }), kind: 'photo', title });
        } catch (err) {
          const reason = err instanceof UnsupportedImageError ? err.message : `could not be converted: ${errorMessage(err)}`;
          log.warn(`Case ${id}: attachment ${f.name} skipped: ${reason}`);
          skipped.push({ path: f.name, kind: 'unreadable', reason });
        }
      }
      if (built.length > 0) {
        const series: SeriesRecord[] = built.map((b, k) => ({
          seriesInstanceUID: b.obj.seriesInstanceUID,
          studyInstanceUID: c.localStudyInstanceUID,
          modality: b.kind === 'pdf' ? 'DOC' : 'XC',
          seriesNumber: 900 + seriesOffset + k,
          description: b.title,
        }));
        const items = built.map((b) => ({
          meta: { sopInstanceUID: b.obj.sopInstanceUID, studyInstanceUID: c.localStudyInstanceUID, seriesInstanceUID: b.obj.seriesInstanceUID, instanceNumber: 1, transferSyntaxUID: b.obj.transferSyntaxUID },
          bytes: b.obj.bytes,
        }));
        const existing = await db.studies.get(c.localStudyInstanceUID);
        await storeLocal(
          c.localStudyInstanceUID,
          { patient: c.patient, studyDate: existing?.studyDate ?? '', description: existing?.description || 'Referral attachments' },
          series,
          items,
        );
      }
      const fresh = await mustGet(id);
      await update(id, {
        sopInstanceUIDs: [...fresh.sopInstanceUIDs, ...built.map((b) => b.obj.sopInstanceUID)],
        attachments: [...(fresh.attachments ?? []), ...built.map((b) => ({ sopInstanceUID: b.obj.sopInstanceUID, kind: b.kind, title: b.title }))],
        skipped: [...fresh.skipped, ...skipped.map((s) => ({ path: s.path, reason: s.reason }))],
      });
      return { added: built.length, skipped };
    },

    async identities(id) {
      return identitiesOf(await mustGet(id));
    },

    async chooseIdentity(id, identity) {
      await mustBeDraft(id);
      log.info(`Case ${id}: identity chosen among several; the sent copies carry it, the local originals are unchanged`);
      return update(id, { patient: asCasePatient(identity), identityResolution: 'chosen' });
    },

    async splitByIdentity(id) {
      const c = await mustBeDraft(id);
      const attachment = isAttachment(c);
      const result = await reread(c, (uid) => !attachment(uid));
      const groups = identityConflicts(result);
      if (groups.length < 2) return [c];
      const sopsOf = (identity: PatientIdentity): string[] =>
        result.studies.flatMap((st) => st.series.flatMap((s) => s.instances.filter((i) => samePatient(i.patient, asCasePatient(identity))).map((i) => i.sopInstanceUID)));
      const studyOf = (identity: PatientIdentity): string =>
        result.studies.find((st) => st.series.some((s) => s.instances.some((i) => samePatient(i.patient, asCasePatient(identity)))))?.studyInstanceUID ?? newUid(randomBytes);
      const t = deps.now();
      const [first, ...rest] = groups;
      const kept: ReferralCaseRecord = {
        ...c,
        // The attachments stay with the case they were added to.
        sopInstanceUIDs: [...sopsOf(first!.identity), ...(c.attachments ?? []).map((a) => a.sopInstanceUID)],
        patient: asCasePatient(first!.identity),
        localStudyInstanceUID: studyOf(first!.identity),
        identityResolution: 'split',
        updatedAt: t,
      };
      const others: ReferralCaseRecord[] = rest.map((g) => ({
        ...c,
        id: deps.randomUUID(),
        sopInstanceUIDs: sopsOf(g.identity),
        attachments: [],
        skipped: [],
        patient: asCasePatient(g.identity),
        localStudyInstanceUID: studyOf(g.identity),
        identityResolution: 'split',
        createdAt: t,
        updatedAt: t,
      }));
      await db.transaction('rw', db.referralCases, async () => {
        await db.referralCases.put(kept);
        await db.referralCases.bulkAdd(others);
      });
      log.info(`Case ${id} split into ${groups.length} cases, one per patient`);
      return [kept, ...others];
    },

    async problems(id) {
      return problemsOf(await mustGet(id));
    },

    async studies(id) {
      const c = await mustGet(id);
      const rows = (await db.instances.bulkGet(c.sopInstanceUIDs)).filter((r) => r !== undefined);
      const out: CaseStudy[] = [];
      for (const studyUID of new Set(rows.map((r) => r.studyInstanceUID))) {
        const st = await db.studies.get(studyUID);
        const series = await db.series.where('studyInstanceUID').equals(studyUID).toArray();
        const mine = rows.filter((r) => r.studyInstanceUID === studyUID);
        out.push({
          studyInstanceUID: studyUID,
          description: st?.description ?? '',
          patientName: st?.patientName ?? '',
          series: series
            .map((se) => ({ modality: se.modality, description: se.description, count: mine.filter((r) => r.seriesInstanceUID === se.seriesInstanceUID).length }))
            .filter((se) => se.count > 0),
        });
      }
      return out;
    },

    async previewDeidentification(id) {
      const c = await mustGet(id);
      const dcmjs = await deps.loadDcmjs();
      const rows = (await db.instances.bulkGet(c.sopInstanceUIDs)).filter((r) => r !== undefined);
      const firstOfSeries = [...new Map(rows.map((r) => [r.seriesInstanceUID, r.sopInstanceUID])).values()];
      const originals: ArrayBuffer[] = [];
      for (const uid of firstOfSeries) {
        const bytes = await cache.readInstanceBytes(uid);
        if (bytes) originals.push(bytes);
      }
      const r = deidentifyCase(originals, { retainLongitudinalFullDates: c.deidentify.retainLongitudinalFullDates, cleanDescriptors: c.deidentify.cleanDescriptors }, { dcmjs, randomBytes });
      const seen = new Set<string>();
      const descriptors: DeidentificationPreview['descriptors'] = [];
      originals.forEach((bytes, k) => {
        const before = dcmjs.data.DicomMessage.readFile(bytes).dict;
        const after = dcmjs.data.DicomMessage.readFile(r.instances[k]!.bytes).dict;
        for (const [tag, name] of DESCRIPTOR_TAGS) {
          const b = textOf(before, tag);
          if (b === undefined) continue;
          const a = textOf(after, tag) ?? '(removed)';
          const key = `${tag}|${b}|${a}`;
          if (seen.has(key)) continue;
          seen.add(key);
          descriptors.push({ name, before: b, after: a });
        }
      });
      return { pseudonym: r.mapping.patients[0]?.pseudonym ?? { name: '', id: '' }, descriptors };
    },

    async sizeOf(id) {
      const c = await mustGet(id);
      const rows = await db.instances.bulkGet(c.sopInstanceUIDs);
      return { instances: c.sopInstanceUIDs.length, bytes: rows.reduce((n, r) => n + (r?.size ?? 0), 0) };
    },

    /**
     * Builds every file the site receives, then commits the case in ONE
     * transaction, then wakes the outbox. Steps, all in memory:
     * 1. the originals from the local cache; each one naming another patient
     *    (a chosen identity) or another study (a case is one study at the
     *    site) is rewritten on a copy;
     * 2. de-identification when chosen: one run over the whole case, so one
     *    mapping and consistent UIDs;
     * 3. the referral note (Basic Text SR, LOINC 57133-1) written from the
     *    case as sent (pseudonymous when de-identified), referencing the
     *    photos and PDFs;
     * 4. optional JPEG-LS lossless transcoding (prepareForSending).
     */
    quality: async (id) => qualityOf(await mustGet(id)),

    async send(id, options) {
      const c = await mustBeDraft(id);
      const problems = await problemsOf(c);
      if (problems.length > 0) throw new SendRefusedError(problems.join(' '));
      // The gate (issue 8) before any work: a blocker stops the case unless the user gives a reason.
      const blockers = ((await qualityOf(c)) ?? []).filter((f) => f.severity === 'blocker');
      let qualityOverride: QualityOverride | undefined;
      if (blockers.length > 0) {
        const titles = [...new Set(blockers.map(findingLabel))];
        const reason = options?.sendAnyway?.reason.trim() ?? '';
        if (!options?.sendAnyway) {
          throw new QualityBlockedError(`Not sent: the quality checks found ${blockers.length} blocking problem(s) (${blockers.map((f) => f.title).join('; ')}). Fix them, or choose "Send anyway" and give a reason.`, blockers);
        }
        if (reason.length < MIN_OVERRIDE_REASON_LENGTH) {
          throw new QualityBlockedError(`"Send anyway" needs a reason of at least ${MIN_OVERRIDE_REASON_LENGTH} characters: it is kept with the outbox item and in the audit log.`, blockers);
        }
        qualityOverride = { reason, by: await sender(c), at: deps.now(), findings: titles };
      }
      const siteId = c.siteId!;
      const dcmjs = await deps.loadDcmjs();
      const attachment = isAttachment(c);
      const result = await reread(c);
      if (result.instanceCount < c.sopInstanceUIDs.length) {
        throw new SendRefusedError(`${c.sopInstanceUIDs.length - result.instanceCount} of the case's files are no longer readable in the local cache: import them again.`);
      }
      let files: SendFile[] = [];
      const attachmentRefs: string[] = [];
      for (const st of result.studies) {
        for (const s of st.series) {
          for (const i of s.instances) {
            const needsRewrite = st.studyInstanceUID !== c.localStudyInstanceUID || !samePatient(i.patient, c.patient) || (c.patient.sex ?? '') !== i.patient.sex;
            files.push({
              sopInstanceUID: i.sopInstanceUID,
              sopClassUID: i.sopClassUID,
              seriesInstanceUID: i.seriesInstanceUID,
              // Forwarded as it came only with its preamble zeroed (DICOM/executable polyglots, CVE-2019-11687).
              bytes: needsRewrite ? rewrite(dcmjs, i.bytes, c.patient, c.localStudyInstanceUID) : zeroedPreamble(i.bytes),
            });
            if (attachment(i.sopInstanceUID)) attachmentRefs.push(i.sopInstanceUID);
          }
        }
      }

      let mapping: DeidMappingRecord['mapping'] | undefined;
      let sentStudyUID = c.localStudyInstanceUID;
      if (c.deidentify.enabled) {
        const r = deidentifyCase(
          files.map((f) => f.bytes),
          { retainLongitudinalFullDates: c.deidentify.retainLongitudinalFullDates, cleanDescriptors: c.deidentify.cleanDescriptors },
          { dcmjs, randomBytes, now: () => new Date(deps.now()) },
        );
        files = r.instances.map((d, k) => ({ sopInstanceUID: d.sopInstanceUID, seriesInstanceUID: d.seriesInstanceUID, sopClassUID: files[k]!.sopClassUID, bytes: d.bytes }));
        const remapped = new Map(r.instances.map((d) => [d.original.sopInstanceUID, d.sopInstanceUID]));
        attachmentRefs.splice(0, attachmentRefs.length, ...attachmentRefs.map((uid) => remapped.get(uid) ?? uid));
        sentStudyUID = r.instances[0]?.studyInstanceUID ?? sentStudyUID;
        mapping = r.mapping as unknown as DeidMappingRecord['mapping'];
      }

      const study = { ...studyContextFromPart10(files[0]!.bytes), studyInstanceUID: sentStudyUID };
      const bySop = new Map(files.map((f) => [f.sopInstanceUID, f]));
      const attachments: NoteReference[] = attachmentRefs.map((uid) => {
        const f = bySop.get(uid)!;
        return { sopInstanceUID: f.sopInstanceUID, sopClassUID: f.sopClassUID, seriesInstanceUID: f.seriesInstanceUID };
      });
      const writtenAt = deps.now();
      const author = c.referringClinician!.trim();
      const note = await buildCaseNote({
        kind: 'referral',
        study,
        sopInstanceUID: newUid(randomBytes),
        seriesInstanceUID: newUid(randomBytes),
        author: { name: author },
        writtenAt,
        referral: {
          clinicalQuestion: c.clinicalQuestion.trim(),
          ...(c.history.trim() ? { history: c.history.trim() } : {}),
          priority: c.urgency,
          ...(c.requestedSpecialty.trim() ? { requestedSpecialty: c.requestedSpecialty.trim() } : {}),
        },
        attachments,
      });
      files = deps.prepareForSending ? await deps.prepareForSending(files, { compress: c.compress }) : files;
      files.push({ sopInstanceUID: note.sopInstanceUID, sopClassUID: note.sopClassUID, seriesInstanceUID: note.seriesInstanceUID, bytes: note.bytes });

      const jobId = deps.randomUUID();
      const t = deps.now();
      const noteRow: CaseNoteRecord = { sopInstanceUID: note.sopInstanceUID, studyInstanceUID: sentStudyUID, siteId, kind: 'referral', outboxJobId: jobId, author, createdAt: t };
      const sent: ReferralCaseRecord = { ...c, state: 'queued', outboxJobIds: [jobId], sentStudyInstanceUID: sentStudyUID, sentAt: t, updatedAt: t };
      await db.transaction('rw', [OUTBOX_TABLE, db.referralCases, db.deidMappings, db.caseNotes], async (tx) => {
        const now = await db.referralCases.get(id);
        if (now?.state !== 'draft') throw new SendRefusedError('This case was sent meanwhile.');
        await deps.enqueueOutboxJob(tx, {
          id: jobId,
          siteId,
          studyInstanceUID: sentStudyUID,
          kind: 'referral',
          label: referralLabel(c.patient.name, c.clinicalQuestion),
          instances: files,
          createdAt: t,
          ...(qualityOverride ? { qualityOverride } : {}),
        });
        await db.referralCases.put(sent);
        if (mapping) await db.deidMappings.put({ caseId: id, sentStudyInstanceUID: sentStudyUID, mapping, createdAt: t });
        await db.caseNotes.put(noteRow);
      });
      log.info(`Case ${id} queued for ${siteId}: ${files.length} instance(s) in outbox job ${jobId}${mapping ? ', de-identified' : ''}`);
      // The audit trail: the de-identification (under the real identity, kept here only) and the export itself,
      // with the reason when it went despite quality blockers. Never blocks the send: a failure is logged.
      const auditPatient = { id: c.patient.id, name: c.patient.name };
      if (mapping) void deps.audit?.({ action: 'deidentify', patient: auditPatient, studyInstanceUID: c.localStudyInstanceUID, outcome: 'success' });
      void deps.audit?.({
        action: 'export',
        patient: auditPatient,
        studyInstanceUID: sentStudyUID,
        siteId,
        sopInstanceUIDs: files.map((f) => f.sopInstanceUID).slice(0, 10_000),
        outcome: 'success',
        ...(qualityOverride
          ? { reason: `queued despite quality blockers (${qualityOverride.findings.join('; ')}); reason given: ${qualityOverride.reason}`.slice(0, 1000) }
          : {}),
      });
      if (qualityOverride) {
        // Also one fixed-prefix line of the app log, next to the case's other log lines.
        log.info(
          `AUDIT referral sent despite quality blockers: case ${id}, outbox job ${jobId}, by ${JSON.stringify(qualityOverride.by)} at ${new Date(qualityOverride.at).toISOString()}; findings ${JSON.stringify(qualityOverride.findings)}; reason ${JSON.stringify(qualityOverride.reason)}`,
        );
      }
      return sent;
    },

    async settleDelivered() {
      const queued = await db.referralCases.where('state').equals('queued').toArray();
      for (const c of queued) {
        const jobs = await db.outboxJobs.bulkGet(c.outboxJobIds);
        if (jobs.length > 0 && jobs.every((j) => j?.state === 'sent')) {
          await db.referralCases.update(c.id, { state: 'sent', updatedAt: deps.now() });
        }
      }
    },
  };
}
