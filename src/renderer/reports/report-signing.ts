import type {
  AnnotationRecord,
  QualityAcknowledgement,
  ReportContent,
  ReportDraftRecord,
  ReportKind,
  SignedReportRecord,
  UserProfileRecord,
} from '../cache/telerad-db';
import type { BuiltReport, ImageReference, MeasurementFigures, ReportBuildInput, StudyContext } from '../lib/dicom/report-dicom-types';
import { uuidToDicomUid } from '../lib/dicom/uid';
import { LosslessRequiredError } from './lossless-gate';
import { isReportableMeasurement, measuredImageFromPart10, measurementCalibration } from './report-measurements';
import type { MeasuredImage } from './report-measurements';
import type { ReportRepoDeps, SignOptions } from './report-repo-types';
import { QualityAcknowledgementRequiredError, SignRefusedError, qualityFindingLabel } from './report-sign-errors';
import { reportTitle, templateById } from './report-templates';
import type { ReportTemplate } from './report-templates';

/** SOP Class of the report SR (Comprehensive SR): the predecessor reference of a correction names it. */
export const COMPREHENSIVE_SR_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.88.33';

const KIND_LABEL: Record<ReportKind, string> = { report: 'Report', addendum: 'Addendum', amendment: 'Amendment' };

/** The outbox panel's line: "Report — CT CHEST · DOE^JANE". */
export function outboxLabel(kind: ReportKind, study: Pick<StudyContext, 'studyDescription' | 'patientName'>): string {
  const what = study.studyDescription?.trim() || 'study';
  return `${KIND_LABEL[kind]} — ${what} · ${study.patientName || 'unknown patient'}`;
}

function nonEmptyText(content: ReportContent, readOnlyIds: readonly string[]): boolean {
  return Object.entries(content.sections).some(([id, text]) => !readOnlyIds.includes(id) && text.trim().length > 0);
}

type ImageRef = { sopInstanceUID: string; seriesInstanceUID: string };

async function cachedMeasuredImage(deps: ReportRepoDeps, ref: ImageRef, what: string): Promise<MeasuredImage> {
  const bytes = await deps.readInstanceBytes(ref.sopInstanceUID);
  if (!bytes) throw new SignRefusedError(`The image of ${what} is no longer in the local cache: open the study once more, then sign.`);
  return measuredImageFromPart10(bytes, ref);
}

/** The patient and study, from the first instance of the study still readable in the cache. */
async function cachedStudyContext(deps: ReportRepoDeps, studyUID: string): Promise<StudyContext> {
  const instances = await deps.db.instances.where('studyInstanceUID').equals(studyUID).toArray();
  for (const inst of instances) {
    const bytes = await deps.readInstanceBytes(inst.sopInstanceUID);
    if (bytes) return deps.studyContextFromPart10(bytes);
  }
  throw new SignRefusedError('No image of this study is in the local cache, so the report cannot name its patient: open the study, then sign.');
}

/** Who signs and what: refused without a profile, without the draft, or with nothing written. */
async function signableDraft(deps: ReportRepoDeps, draftId: string): Promise<{ profile: UserProfileRecord; draft: ReportDraftRecord; template: ReportTemplate }> {
  const { db } = deps;
  const profile = await db.userProfile.get('me');
  if (!profile?.name.trim() || !profile.credentials.trim()) {
    throw new SignRefusedError('Add your name and credentials in your profile before signing: a report names who signed it.');
  }
  const draft = await db.reportDrafts.get(draftId);
  if (!draft) throw new SignRefusedError('This draft no longer exists (already signed or discarded).');
  const template = templateById(draft.content.templateId);
  if (!nonEmptyText(draft.content, template.readOnlySectionIds)) throw new SignRefusedError('The report is empty: write at least one section before signing.');
  return { profile, draft, template };
}

/** Refuses while a warning or blocker of the study is not ticked as seen; what was ticked is recorded on the report. */
async function acknowledgedQuality(
  deps: ReportRepoDeps,
  draft: ReportDraftRecord,
  profile: UserProfileRecord,
  options: SignOptions | undefined,
): Promise<QualityAcknowledgement | undefined> {
  if (!deps.checkStudyQuality) return undefined;
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
  return labels.length > 0 ? { findings: labels, by: profile.name.trim(), at: deps.now() } : undefined;
}

/** The inserted measurements still there: one deleted since is left out (and logged). */
async function reportedMeasurements(deps: ReportRepoDeps, draftId: string, draft: ReportDraftRecord): Promise<AnnotationRecord[]> {
  const found = await deps.db.annotations.bulkGet(draft.content.measurementIds);
  const annotations = found.filter((a): a is AnnotationRecord => a !== undefined && isReportableMeasurement(a));
  if (annotations.length < draft.content.measurementIds.length) {
    deps.log.warn(`Signing ${draftId}: ${draft.content.measurementIds.length - annotations.length} inserted measurement(s) were deleted since and are left out`);
  }
  return annotations;
}

/** Signed on lossless images only: a slice the reader saw as a preview is waited for, or the signature refused. */
async function awaitLosslessImages(deps: ReportRepoDeps, draft: ReportDraftRecord, annotations: readonly AnnotationRecord[], onWaiting: SignOptions['onWaiting']): Promise<void> {
  if (!deps.losslessGate) return;
  const named = [
    ...annotations.map((a) => ({ studyInstanceUID: a.studyInstanceUID, sopInstanceUID: a.sopInstanceUID, what: `a ${a.tool} measurement` })),
    ...draft.content.keyImageSopInstanceUIDs.map((sop) => ({ studyInstanceUID: draft.studyInstanceUID, sopInstanceUID: sop, what: 'a key image' })),
  ];
  try {
    await deps.losslessGate(named, onWaiting);
  } catch (err) {
    if (err instanceof LosslessRequiredError) throw new SignRefusedError(err.message);
    throw err;
  }
}

/** Each measurement with its image and the figures the SR states (calibration, modality, pixel statistics). */
async function measurementInputs(deps: ReportRepoDeps, annotations: readonly AnnotationRecord[]): Promise<ReportBuildInput['measurements']> {
  const measurements: ReportBuildInput['measurements'] = [];
  for (const a of annotations) {
    const m = await cachedMeasuredImage(deps, a, `a ${a.tool} measurement`);
    const onImage = await deps.db.annotations.where('sopInstanceUID').equals(a.sopInstanceUID).toArray();
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
  return measurements;
}

async function keyImageReferences(deps: ReportRepoDeps, draft: ReportDraftRecord): Promise<ImageReference[]> {
  const keyImages: ImageReference[] = [];
  for (const uid of draft.content.keyImageSopInstanceUIDs) {
    const k = await deps.db.keyImages.get(uid);
    if (k) keyImages.push((await cachedMeasuredImage(deps, k, 'a key image')).image);
  }
  return keyImages;
}

/** The signed report a correction (addendum, amendment) refers to, as its SR names it. */
async function predecessorReference(deps: ReportRepoDeps, draft: ReportDraftRecord): Promise<ReportBuildInput['predecessor']> {
  if (!draft.predecessorReportId) return undefined;
  const earlier = await deps.db.reports.get(draft.predecessorReportId);
  if (!earlier) throw new SignRefusedError('The report this corrects is no longer on this workstation.');
  return {
    studyInstanceUID: earlier.studyInstanceUID,
    seriesInstanceUID: earlier.srSeriesInstanceUID,
    sopInstanceUID: earlier.srSopInstanceUID,
    sopClassUID: COMPREHENSIVE_SR_SOP_CLASS,
    signedAt: earlier.signedAt,
  };
}

/** Everything signing commits: the signed report's row, its outbox job's parts, and what the log and audit name. */
export interface PreparedSignature {
  draft: ReportDraftRecord;
  study: StudyContext;
  uids: { srSopInstanceUID: string; srSeriesInstanceUID: string; pdfSopInstanceUID: string; pdfSeriesInstanceUID: string };
  signedAt: number;
  built: BuiltReport;
  jobId: string;
  report: SignedReportRecord;
}

/**
 * Everything before the commit of a signature, all of it local: the gates
 * (profile, text, quality, lossless images), then the SR and PDF built in
 * memory with UIDs made here, once, and the immutable report row. Writes
 * nothing: the caller commits it in one transaction.
 */
export async function prepareSignature(deps: ReportRepoDeps, draftId: string, options?: SignOptions): Promise<PreparedSignature> {
  const { profile, draft, template } = await signableDraft(deps, draftId);
  const qualityAcknowledged = await acknowledgedQuality(deps, draft, profile, options);
  const annotations = await reportedMeasurements(deps, draftId, draft);
  await awaitLosslessImages(deps, draft, annotations, options?.onWaiting);
  const measurements = await measurementInputs(deps, annotations);
  const keyImages = await keyImageReferences(deps, draft);
  const study = await cachedStudyContext(deps, draft.studyInstanceUID);
  const predecessor = await predecessorReference(deps, draft);

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
  return { draft, study, uids, signedAt, built, jobId, report };
}
