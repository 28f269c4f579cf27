// Sending a referral case. Nothing here touches the network: every Part 10
// file is built in memory, then the outbox job, the case, the de-identification
// mapping and the referral note are written in ONE Dexie transaction (a crash
// leaves either a draft or a queued case with its job, never half of it), and
// the outbox delivers when the site answers.
import { CASE_NOTES_TABLE, addCaseNote } from '../case-thread';
import type { CaseNoteRecord, DeidMappingRecord, QualityOverride, ReferralCaseRecord } from '../cache/telerad-db';
import type { ImportResult } from '../case-import';
import { newUid } from '../lib/dicom/dcmjs-runtime';
import type { DcmjsRuntime, RawDict } from '../lib/dicom/dcmjs-runtime';
import { deidentifyCase } from '../deidentify';
import { buildCaseNote } from '../lib/dicom/case-note-dicom';
import type { NoteReference } from '../lib/dicom/case-note-types';
import { studyContextFromPart10 } from '../lib/dicom/study-context';
import { zeroPreamble } from '../../shared/dicom/preamble';
import { OUTBOX_TABLE } from '../outbox';
import { passQualityGate, problemsOf } from './referral-case-gate';
import { samePatient } from './referral-case-identity';
import { isAttachment } from './referral-case-store';
import { recordSentCase } from './referral-case-rows';
import type { CaseContext } from './referral-case-store';
import { SendRefusedError, referralLabel } from './referral-case-types';
import type { ReferralCaseDeps, SendFile, SendOptions } from './referral-case-types';

/** The file with its 128-byte preamble zeroed (a copy when it was not). */
function zeroedPreamble(bytes: ArrayBuffer): ArrayBuffer {
  const clean = zeroPreamble(new Uint8Array(bytes));
  return clean.byteOffset === 0 && clean.byteLength === clean.buffer.byteLength ? (clean.buffer as ArrayBuffer) : clean.slice().buffer;
}

/** The file as sent: the case's patient and study, when the original says otherwise. Originals are not touched. */
function rewrite(dcmjs: DcmjsRuntime, bytes: ArrayBuffer, patient: ReferralCaseRecord['patient'], studyUID: string): ArrayBuffer {
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
}

/**
 * Step 1: the originals as the site gets them. Each one naming another patient (a chosen
 * identity) or another study (a case is one study at the site) is rewritten on a copy.
 * Also the photos' and PDFs' SOP instance UIDs, for the note to reference.
 */
function filesAsSent(dcmjs: DcmjsRuntime, c: ReferralCaseRecord, result: ImportResult): { files: SendFile[]; attachmentRefs: string[] } {
  const attachment = isAttachment(c);
  const files: SendFile[] = [];
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
  return { files, attachmentRefs };
}

interface DeidentifiedCase {
  files: SendFile[];
  attachmentRefs: string[];
  sentStudyUID: string;
  mapping?: DeidMappingRecord['mapping'];
}

/** Step 2: de-identification when chosen, one run over the whole case, so one mapping and consistent UIDs. */
function deidentifyForSending(
  deps: Pick<ReferralCaseDeps, 'now'>,
  dcmjs: DcmjsRuntime,
  randomBytes: (n: number) => Uint8Array,
  c: ReferralCaseRecord,
  built: { files: SendFile[]; attachmentRefs: string[] },
): DeidentifiedCase {
  if (!c.deidentify.enabled) return { ...built, sentStudyUID: c.localStudyInstanceUID };
  const r = deidentifyCase(
    built.files.map((f) => f.bytes),
    { retainLongitudinalFullDates: c.deidentify.retainLongitudinalFullDates, cleanDescriptors: c.deidentify.cleanDescriptors },
    { dcmjs, randomBytes, now: () => new Date(deps.now()) },
  );
  const files = r.instances.map((d, k) => ({ sopInstanceUID: d.sopInstanceUID, seriesInstanceUID: d.seriesInstanceUID, sopClassUID: built.files[k]!.sopClassUID, bytes: d.bytes }));
  const remapped = new Map(r.instances.map((d) => [d.original.sopInstanceUID, d.sopInstanceUID]));
  return {
    files,
    attachmentRefs: built.attachmentRefs.map((uid) => remapped.get(uid) ?? uid),
    sentStudyUID: r.instances[0]?.studyInstanceUID ?? c.localStudyInstanceUID,
    mapping: r.mapping as unknown as DeidMappingRecord['mapping'],
  };
}

/**
 * Step 3: the referral note (Basic Text SR, LOINC 57133-1) written from the case as sent
 * (pseudonymous when de-identified), referencing the photos and PDFs.
 */
async function referralNote(
  deps: Pick<ReferralCaseDeps, 'now'>,
  randomBytes: (n: number) => Uint8Array,
  c: ReferralCaseRecord,
  sent: DeidentifiedCase,
): Promise<{ note: Awaited<ReturnType<typeof buildCaseNote>>; author: string }> {
  const study = { ...studyContextFromPart10(sent.files[0]!.bytes), studyInstanceUID: sent.sentStudyUID };
  const bySop = new Map(sent.files.map((f) => [f.sopInstanceUID, f]));
  const attachments: NoteReference[] = sent.attachmentRefs.map((uid) => {
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
  return { note, author };
}

/**
 * The audit trail: the de-identification (under the real identity, kept here only) and the export itself,
 * with the reason when it went despite quality blockers. Never blocks the send: a failure is logged.
 */
function auditSent(
  deps: Pick<ReferralCaseDeps, 'audit' | 'log'>,
  c: ReferralCaseRecord,
  sent: { siteId: string; jobId: string; sentStudyUID: string; files: SendFile[]; deidentified: boolean; qualityOverride: QualityOverride | undefined },
): void {
  const { siteId, jobId, sentStudyUID, files, qualityOverride } = sent;
  const auditPatient = { id: c.patient.id, name: c.patient.name };
  if (sent.deidentified) void deps.audit?.({ action: 'deidentify', patient: auditPatient, studyInstanceUID: c.localStudyInstanceUID, outcome: 'success' });
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
    deps.log.info(
      `AUDIT referral sent despite quality blockers: case ${c.id}, outbox job ${jobId}, by ${JSON.stringify(qualityOverride.by)} at ${new Date(qualityOverride.at).toISOString()}; findings ${JSON.stringify(qualityOverride.findings)}; reason ${JSON.stringify(qualityOverride.reason)}`,
    );
  }
}

/**
 * Builds every file the site receives, then commits the case in ONE transaction, then wakes
 * the outbox. Steps, all in memory: 1. the originals (filesAsSent); 2. de-identification
 * (deidentifyForSending); 3. the referral note (referralNote); 4. optional JPEG-LS lossless
 * transcoding (deps.prepareForSending). Refused (QualityBlockedError) while a blocker stands,
 * unless `sendAnyway` gives a reason.
 */
export async function send(ctx: CaseContext, id: string, options: SendOptions | undefined): Promise<ReferralCaseRecord> {
  const { deps, randomBytes } = ctx;
  const { db, log } = deps;
  const c = await ctx.mustBeDraft(id);
  const problems = await problemsOf(ctx, c);
  if (problems.length > 0) throw new SendRefusedError(problems.join(' '));
  // The gate (issue 8) before any work: a blocker stops the case unless the user gives a reason.
  const qualityOverride = await passQualityGate(deps, c, options);
  const siteId = c.siteId!;
  const dcmjs = await deps.loadDcmjs();
  const result = await ctx.reread(c);
  if (result.instanceCount < c.sopInstanceUIDs.length) {
    throw new SendRefusedError(`${c.sopInstanceUIDs.length - result.instanceCount} of the case's files are no longer readable in the local cache: import them again.`);
  }
  const deidentified = deidentifyForSending(deps, dcmjs, randomBytes, c, filesAsSent(dcmjs, c, result));
  const { mapping, sentStudyUID } = deidentified;
  const { note, author } = await referralNote(deps, randomBytes, c, deidentified);
  const files = deps.prepareForSending ? await deps.prepareForSending(deidentified.files, { compress: c.compress }) : deidentified.files;
  files.push({ sopInstanceUID: note.sopInstanceUID, sopClassUID: note.sopClassUID, seriesInstanceUID: note.seriesInstanceUID, bytes: note.bytes });

  const jobId = deps.randomUUID();
  const t = deps.now();
  const noteRow: CaseNoteRecord = { sopInstanceUID: note.sopInstanceUID, studyInstanceUID: sentStudyUID, siteId, kind: 'referral', outboxJobId: jobId, author, createdAt: t };
  const sent: ReferralCaseRecord = { ...c, state: 'queued', outboxJobIds: [jobId], sentStudyInstanceUID: sentStudyUID, sentAt: t, updatedAt: t };
  // One transaction: the job, the queued case, the mapping and the note land together or not at all.
  await db.transaction('rw', [OUTBOX_TABLE, db.referralCases, db.deidMappings, CASE_NOTES_TABLE], async (tx) => {
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
    await recordSentCase(tx, sent, mapping ? { caseId: id, sentStudyInstanceUID: sentStudyUID, mapping, createdAt: t } : undefined);
    await addCaseNote(tx, noteRow);
  });
  log.info(`Case ${id} queued for ${siteId}: ${files.length} instance(s) in outbox job ${jobId}${mapping ? ', de-identified' : ''}`);
  auditSent(deps, c, { siteId, jobId, sentStudyUID, files, deidentified: Boolean(mapping), qualityOverride });
  return sent;
}
