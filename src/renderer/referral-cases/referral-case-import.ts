// Getting a referral case's content into the local cache: DICOM from a folder,
// a DICOMDIR or zips, and photos/PDFs converted to DICOM of the case's study.
// All of it lives under the local pseudo site, pinned, until the case is sent.
import type { ReferralCaseRecord, SeriesRecord } from '../cache/telerad-db';
import type { InstanceMeta } from '../cache/study-cache';
import { importFiles, identityConflicts } from '../case-import';
import type { ImportEntry, ImportResult, ImportedInstance, PatientIdentity, SkippedFile } from '../case-import';
import { UnsupportedImageError, isPdf, pdfToDicom, photoToDicom } from '../case-import';
import type { BuiltObject, CaseDicomContext } from '../case-import';
import { errorMessage } from '../../shared/error-message';
import { EMPTY_PATIENT, asCasePatient } from './referral-case-identity';
import { isAttachment } from './referral-case-store';
import type { CaseStore } from './referral-case-store';
import { LOCAL_SITE_ID } from './referral-case-types';
import type { AttachmentFile, ImportSummary, ReferralCaseDeps } from './referral-case-types';

function sizeOfAll(result: ImportResult): number {
  let n = 0;
  for (const st of result.studies) for (const se of st.series) n += se.instances.reduce((k, i) => k + i.size, 0);
  return n;
}

/** Stores instances of one study under the local pseudo site, pinned (a case being built is never evicted). */
async function storeLocal(
  deps: Pick<ReferralCaseDeps, 'db' | 'cache'>,
  studyUID: string,
  study: { patient: PatientIdentity | ReferralCaseRecord['patient']; studyDate: string; description: string },
  series: SeriesRecord[],
  items: { meta: InstanceMeta; bytes: ArrayBuffer }[],
): Promise<void> {
  const { db, cache } = deps;
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
}

function caseStudyContext(c: ReferralCaseRecord): CaseDicomContext {
  return {
    patientName: c.patient.name,
    patientId: c.patient.id,
    ...(c.patient.birthDate ? { patientBirthDate: c.patient.birthDate } : {}),
    ...(c.patient.sex ? { patientSex: c.patient.sex } : {}),
    studyInstanceUID: c.localStudyInstanceUID,
    ...(c.referringClinician ? { referringPhysicianName: c.referringClinician } : {}),
  };
}

/** DICOM from a folder, a DICOMDIR on CD/USB, or zips: into the local cache, added to the case. */
export async function importDicom(store: CaseStore, id: string, entries: readonly ImportEntry[]): Promise<ImportSummary> {
  const { deps } = store;
  const { log } = deps;
  let c = await store.mustBeDraft(id);
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
    await storeLocal(deps, st.studyInstanceUID, st, series, items);
  }
  const added = result.studies.flatMap((st) => st.series.flatMap((s) => s.instances.map((i) => i.sopInstanceUID)));
  const sops = [...new Set([...c.sopInstanceUIDs, ...added])];
  c = await store.mustGet(id);
  const patch: Partial<ReferralCaseRecord> = {
    sopInstanceUIDs: sops,
    skipped: [...c.skipped, ...result.skipped.map((s) => ({ path: s.path, reason: s.reason }))],
  };
  const first = result.studies[0];
  if (!hadDicom && first) patch.localStudyInstanceUID = first.studyInstanceUID;
  const groups = identityConflicts(await store.reread({ ...c, ...patch }, (uid) => !isAttachment(c)(uid)));
  if (groups.length === 1) {
    patch.patient = asCasePatient(groups[0]!.identity);
    patch.identityResolution = 'images';
  } else if (groups.length > 1 && c.identityResolution !== 'chosen') {
    patch.patient = { ...EMPTY_PATIENT };
  }
  await store.update(id, patch);
  log.info(`Case ${id}: imported ${result.instanceCount} instance(s) in ${result.studies.length} study(ies), ${sizeOfAll(result)} bytes; skipped ${result.skipped.length}`);
  return {
    studies: result.studies.map((st) => ({
      studyInstanceUID: st.studyInstanceUID,
      description: st.description,
      patient: st.patient,
      series: st.series.map((s) => ({ modality: s.modality, description: s.description, count: s.instances.length })),
    })),
    skipped: result.skipped,
    indexes: result.indexes,
    instanceCount: result.instanceCount,
  };
}

/** Photos (JPEG/PNG) and PDFs: converted to DICOM of the case's study, into the local cache. */
export async function addAttachments(store: CaseStore, id: string, files: readonly AttachmentFile[]): Promise<{ added: number; skipped: SkippedFile[] }> {
  const { deps, randomBytes } = store;
  const { db, log } = deps;
  const c = await store.mustBeDraft(id);
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
      deps,
      c.localStudyInstanceUID,
      { patient: c.patient, studyDate: existing?.studyDate ?? '', description: existing?.description || 'Referral attachments' },
      series,
      items,
    );
  }
  const fresh = await store.mustGet(id);
  await store.update(id, {
    sopInstanceUIDs: [...fresh.sopInstanceUIDs, ...built.map((b) => b.obj.sopInstanceUID)],
    attachments: [...(fresh.attachments ?? []), ...built.map((b) => ({ sopInstanceUID: b.obj.sopInstanceUID, kind: b.kind, title: b.title }))],
    skipped: [...fresh.skipped, ...skipped.map((s) => ({ path: s.path, reason: s.reason }))],
  });
  return { added: built.length, skipped };
}
