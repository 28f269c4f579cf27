import type { Logger } from '../../shared/log';
import type { Finding } from '../../shared/quality';
import type {
  AnnotationRecord,
  ReportContent,
  ReportDraftRecord,
  QualityAcknowledgement,
  ReportKind,
  SignedReportRecord,
  TeleradDB,
  UserProfileRecord,
} from '../cache/telerad-db';
import type { BuiltReport, ImageReference, MeasurementFigures, ReportBuildInput, StudyContext } from '../lib/dicom/report-dicom-types';
import { isReportableMeasurement, measuredImageFromPart10, measurementCalibration } from './report-measurements';
import type { MeasuredImage } from './report-measurements';
import { reportTitle, templateById } from './report-templates';
import type { AuditRecordRequest } from '../../shared/ipc/contract';
import { LosslessRequiredError } from './lossless-gate';
import type { LosslessGate } from './lossless-gate';
import { OUTBOX_TABLE } from '../outbox';
import type { EnqueueOutboxJob } from '../outbox';
import { uuidToDicomUid } from '../lib/dicom/uid';

/** SOP Class of the report SR (Comprehensive SR): the predecessor reference of a correction names it. */
export const COMPREHENSIVE_SR_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.88.33';

/** A sign refused for a reason the user can fix (no profile, empty report, nothing cached): the message says how. */
export class SignRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignRefusedError';
  }
}

/**
 * Signing stopped until the reader acknowledges the study's quality findings
 * (issue 8): `findings` are the warnings and blockers to show and tick.
 */
export class QualityAcknowledgementRequiredError extends SignRefusedError {
  constructor(
    message: string,
    readonly findings: readonly Finding[],
  ) {
    super(message);
    this.name = 'QualityAcknowledgementRequiredError';
  }
}

/** "warning: Lossy compression": how an acknowledged finding is recorded on the signed report. */
export function qualityFindingLabel(f: Pick<Finding, 'severity' | 'title'>): string {
  return `${f.severity}: ${f.title}`;
}

/** What saving a draft did: written, or dropped because the stored one is newer or the draft is gone (signed). */
export type DraftSaveResult = 'saved' | 'stale' | 'gone';

export interface ReportRepoDeps {
  db: TeleradDB;
  /** The cached Part 10 bytes of an instance (StudyCache.readInstanceBytes). */
  readInstanceBytes: (sopInstanceUID: string) => Promise<ArrayBuffer | undefined>;
  /** E1's builder: the TID 1500 SR and the Encapsulated PDF, from given UIDs. */
  buildReportInstances: (input: ReportBuildInput) => Promise<BuiltReport>;
  studyContextFromPart10: (bytes: ArrayBuffer) => StudyContext;
  /** Tells the outbox scheduler a job is waiting (it may be asleep in a backoff). */
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

const KIND_LABEL: Record<ReportKind, string> = { report: 'Report', addendum: 'Addendum', amendment: 'Amendment' };

/** The outbox panel's line: "Report — CT CHEST · DOE^JANE". */
export function outboxLabel(kind: ReportKind, study: Pick<StudyContext, 'studyDescription' | 'patientName'>): string {
  const what = study.studyDescription?.trim() || 'study';
  return `${KIND_LABEL[kind]} — ${what} · ${study.patientName || 'unknown patient'}`;
}

function nonEmptyText(content: ReportContent, readOnlyIds: readonly string[]): boolean {
  return Object.entries(content.sections).some(([id, text]) => !readOnlyIds.includes(id) && text.trim().length > 0);
}

/**
 * Drafts, the profile and signing, over Dexie. Nothing here touches the
 * network: a report is signed the same on a train without signal as at a
 * desk, and the outbox delivers it when the site can be reached.
 */
export function createReportRepo(deps: ReportRepoDeps): ReportRepo {
  const { db, log } = deps;

  const measuredImage = async (ref: { sopInstanceUID: string; seriesInstanceUID: string }, what: string): Promise<MeasuredImage> => {
    const bytes = await deps.readInstanceBytes(ref.sopInstanceUID);
    if (!bytes) throw new SignRefusedError(`The image of ${what} is no longer in the local cache: open the study once more, then sign.`);
    return measuredImageFromPart10(bytes, ref);
  };
  const imageOf = async (ref: { sopInstanceUID: string; seriesInstanceUID: string }, what: string): Promise<ImageReference> =>
    (await measuredImage(ref, what)).image;

  const studyContext = async (studyUID: string): Promise<StudyContext> => {
    const instances = await db.instances.where('studyInstanceUID').equals(studyUID).toArray();
    for (const inst of instances) {
      const bytes = await deps.readInstanceBytes(inst.sopInstanceUID);
      if (bytes) return deps.studyContextFromPart10(bytes);
    }
    throw new SignRefusedError('No image of this study is in the local cache, so the report cannot name its patient: open the study, then sign.');
  };

  return {
    getProfile: () => db.userProfile.get('me'),
    async saveProfile(profile) {
      await db.userProfile.put({ ...profile, name: profile.name.trim(), credentials: profile.credentials.trim(), id: 'me' });
    },
    draftsOfStudy: (uid) => db.reportDrafts.where('studyInstanceUID').equals(uid).sortBy('createdAt'),
    reportsOfStudy: (uid) => db.reports.where('studyInstanceUID').equals(uid).sortBy('signedAt'),

    async createDraft(input) {
      const t = deps.now();
      const template = templateById(input.templateId);
      const sections: Record<string, string> = {};
      for (const s of template.sections) sections[s.id] = '';
      if (template.readOnlySectionIds.includes('question')) sections['question'] = input.clinicalQuestion?.trim() ?? '';
      const draft: ReportDraftRecord = {
        id: deps.randomUUID(),
        studyInstanceUID: input.studyInstanceUID,
        siteId: input.siteId,
        kind: 'report',
        content: { templateId: template.id, sections, priority: 'routine', measurementIds: [], keyImageSopInstanceUIDs: [] },
        createdAt: t,
        updatedAt: t,
      };
      await db.reportDrafts.add(draft);
      return draft;
    },

    saveDraft(id, content, updatedAt) {
      return db.transaction('rw', db.reportDrafts, async (): Promise<DraftSaveResult> => {
        const stored = await db.reportDrafts.get(id);
        if (!stored) return 'gone';
        if (stored.updatedAt > updatedAt) return 'stale';
        await db.reportDrafts.put({ ...stored, content, updatedAt });
        return 'saved';
      });
    },

    async discardDraft(id) {
      await db.reportDrafts.delete(id);
    },

    async startCorrection(reportId, kind) {
      const original = await db.reports.get(reportId);
      if (!original) throw new Error(`Signed report ${reportId} not found`);
      const t = deps.now();
      const template = templateById(original.content.templateId);
      // An amendment restates the report (its text is the starting point); an addendum only adds.
      const sections: Record<string, string> =
        kind === 'amendment' ? { ...original.content.sections } : Object.fromEntries(template.sections.map((s) => [s.id, '']));
      if (kind === 'addendum' && template.readOnlySectionIds.includes('question')) sections['question'] = original.content.sections['question'] ?? '';
      const draft: ReportDraftRecord = {
        id: deps.randomUUID(),
        studyInstanceUID: original.studyInstanceUID,
        siteId: original.siteId,
        kind,
        predecessorReportId: original.id,
        content: {
          ...original.content,
          sections,
          ...(kind === 'addendum' ? { measurementIds: [], keyImageSopInstanceUIDs: [] } : {}),
        },
        createdAt: t,
        updatedAt: t,
      };
      await db.reportDrafts.add(draft);
      return draft;
    },

    /**
     * Signs a draft. Offline behaviour: works with no network at all. The
     * author comes from the local profile, the patient and study from a
     * cached instance, the images from the cache; the SR and PDF are built
     * in memory with UIDs made here, once. Then ONE Dexie transaction writes
     * the immutable signed report and the outbox job carrying both instances
     * (state queued) and deletes the draft: after a crash either all of it
     * happened or none did. Only after that commits is the outbox woken; it
     * sends when the site answers, always these same UIDs.
     */
    async sign(draftId, options) {
      const profile = await db.userProfile.get('me');
      if (!profile?.name.trim() || !profile.credentials.trim()) {
        throw new SignRefusedError('Add your name and credentials in your profile before signing: a report names who signed it.');
      }
      const draft = await db.reportDrafts.get(draftId);
      if (!draft) throw new SignRefusedError('This draft no longer exists (already signed or discarded).');
      const template = templateById(draft.content.templateId);
      if (!nonEmptyText(draft.content, template.readOnlySectionIds)) throw new SignRefusedError('The report is empty: write at least one section before signing.');
      let qualityAcknowledged: QualityAcknowledgement | undefined;
      if (deps.checkStudyQuality) {
        const { findings } = await deps.checkStudyQuality(draft.studyInstanceUID);
        const notable = findings.filter((f) => f.severity === 'warning' || f.severity === 'blocker');
        const labels = [...new Set(notable.map(qualityFindingLabel))];
        const seen = new Set(options?.acknowledgedQuality ?? []);
        if (labels.some((l) => !seen.has(l))) {
          throw new QualityAcknowledgementRequiredError(
            `The study has ${notable.length} quality finding(s) (${labels.join('; ')}): tick "I have seen these quality findings" before signing.`,
            notable,
          );
        }
        if (labels.length > 0) qualityAcknowledged = { findings: labels, by: profile.name.trim(), at: deps.now() };
      }

      const found = await db.annotations.bulkGet(draft.content.measurementIds);
      const annotations = found.filter((a): a is AnnotationRecord => a !== undefined && isReportableMeasurement(a));
      if (annotations.length < draft.content.measurementIds.length) {
        log.warn(`Signing ${draftId}: ${draft.content.measurementIds.length - annotations.length} inserted measurement(s) were deleted since and are left out`);
      }
      // Signed on lossless images only: a slice the reader saw as a preview is waited for, or the signature refused.
      if (deps.losslessGate) {
        const named = [
          ...annotations.map((a) => ({ studyInstanceUID: a.studyInstanceUID, sopInstanceUID: a.sopInstanceUID, what: `a ${a.tool} measurement` })),
          ...draft.content.keyImageSopInstanceUIDs.map((sop) => ({ studyInstanceUID: draft.studyInstanceUID, sopInstanceUID: sop, what: 'a key image' })),
        ];
        try {
          await deps.losslessGate(named, options?.onWaiting);
        } catch (err) {
          if (err instanceof LosslessRequiredError) throw new SignRefusedError(err.message);
          throw err;
        }
      }
      const measurements: ReportBuildInput['measurements'] = [];
      for (const a of annotations) {
        const m = await measuredImage(a, `a ${a.tool} measurement`);
        const onImage = await db.annotations.where('sopInstanceUID').equals(a.sopInstanceUID).toArray();
        const calibration = measurementCalibration(m.calibration, a.sopInstanceUID, onImage);
        const px = a.pixelFigures;
        const figures: MeasurementFigures = {
          ...(calibration ? { calibration } : {}),
          ...(m.modality ? { modality: m.modality } : {}),
          ...(px?.stats ? { stats: px.stats } : {}),
          ...(px?.probeValue !== undefined ? { probeValue: px.probeValue } : {}),
        };
        measurements.push({ annotation: a, image: m.image, figures });
      }
      const keyImages: ImageReference[] = [];
      for (const uid of draft.content.keyImageSopInstanceUIDs) {
        const k = await db.keyImages.get(uid);
        if (k) keyImages.push(await imageOf(k, 'a key image'));
      }
      const study = await studyContext(draft.studyInstanceUID);

      let predecessor: ReportBuildInput['predecessor'];
      if (draft.predecessorReportId) {
        const earlier = await db.reports.get(draft.predecessorReportId);
        if (!earlier) throw new SignRefusedError('The report this corrects is no longer on this workstation.');
        predecessor = {
          studyInstanceUID: earlier.studyInstanceUID,
          seriesInstanceUID: earlier.srSeriesInstanceUID,
          sopInstanceUID: earlier.srSopInstanceUID,
          sopClassUID: COMPREHENSIVE_SR_SOP_CLASS,
          signedAt: earlier.signedAt,
        };
      }

      const signedAt = deps.now();
      const uids = {
        srSopInstanceUID: uuidToDicomUid(deps.randomUUID()),
        srSeriesInstanceUID: uuidToDicomUid(deps.randomUUID()),
        pdfSopInstanceUID: uuidToDicomUid(deps.randomUUID()),
        pdfSeriesInstanceUID: uuidToDicomUid(deps.randomUUID()),
      };
      const author = { name: profile.name.trim(), credentials: profile.credentials.trim() };
      const institution = profile.institution?.trim();
      const built = await deps.buildReportInstances({
        kind: draft.kind,
        title: reportTitle(template, study.studyDescription),
        sections: [...template.sections],
        text: draft.content.sections,
        priority: draft.content.priority,
        ...(draft.content.critical ? { critical: draft.content.critical } : {}),
        measurements,
        keyImages,
        author: { ...author, ...(institution ? { institution } : {}) },
        signedAt,
        study,
        ...uids,
        ...(predecessor ? { predecessor } : {}),
      });

      const jobId = deps.randomUUID();
      const report: SignedReportRecord = {
        // The draft's id: signing the same draft twice (two clicks, two tabs) cannot make two reports.
        id: draft.id,
        studyInstanceUID: draft.studyInstanceUID,
        siteId: draft.siteId,
        kind: draft.kind,
        ...(draft.predecessorReportId ? { predecessorReportId: draft.predecessorReportId } : {}),
        content: { ...draft.content, measurementIds: annotations.map((a) => a.id) },
        measurements: annotations,
        author,
        signedAt,
        ...uids,
        outboxJobId: jobId,
        ...(qualityAcknowledged ? { qualityAcknowledged } : {}),
      };
      await db.transaction('rw', [db.reports, OUTBOX_TABLE, db.reportDrafts], async (tx) => {
        if (!(await db.reportDrafts.get(draftId))) throw new SignRefusedError('This draft was signed or discarded meanwhile.');
        await db.reports.add(report);
        await deps.enqueueOutboxJob(tx, {
          id: jobId,
          siteId: draft.siteId,
          studyInstanceUID: draft.studyInstanceUID,
          kind: 'report',
          reportId: report.id,
          label: outboxLabel(draft.kind, study),
          instances: [built.sr, built.pdf],
          createdAt: signedAt,
        });
        await db.reportDrafts.delete(draftId);
      });
      log.info(`Signed ${draft.kind} ${report.id} of ${draft.studyInstanceUID}: SR ${uids.srSopInstanceUID}, PDF ${uids.pdfSopInstanceUID}, outbox job ${jobId}`);
      void deps.audit?.({
        action: 'report.sign',
        patient: { ...(study.patientId ? { id: study.patientId } : {}), ...(study.patientName ? { name: study.patientName } : {}) },
        studyInstanceUID: draft.studyInstanceUID,
        sopInstanceUIDs: [uids.srSopInstanceUID, uids.pdfSopInstanceUID],
        siteId: draft.siteId,
        outcome: 'success',
      });
      return report;
    },
  };
}
