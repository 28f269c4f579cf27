// What the wizard shows of a case before it is sent: its local studies, its
// size, and what de-identification would make of its descriptors. Read-only:
// nothing here writes the case or the cache.
import { deidentifyCase } from '../deidentify';
import type { RawDict } from '../lib/dicom/dcmjs-runtime';
import { ANNEX_E_TABLE } from '../deidentify';
import type { CaseStore } from './referral-case-store';
import type { CaseStudy, DeidentificationPreview } from './referral-case-types';

/** Attributes the Clean Descriptors option keeps (cleaned) instead of removing: what the preview lists. */
const DESCRIPTOR_TAGS = new Map(ANNEX_E_TABLE.filter(([tag, , option]) => option === 'C' && !tag.includes('x')).map(([tag, , , name]) => [tag.toUpperCase(), name]));

function textOf(dict: RawDict, tag: string): string | undefined {
  const v = dict[tag]?.Value;
  if (!v || v.length === 0) return undefined;
  const parts = v.filter((x): x is string => typeof x === 'string');
  return parts.length > 0 ? parts.join('\\') : undefined;
}

/** The case's local studies with their series (from the cache). */
export async function caseStudies(store: CaseStore, id: string): Promise<CaseStudy[]> {
  const { db } = store.deps;
  const c = await store.mustGet(id);
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
}

/** De-identification applied to one instance per series, to show the cleaned descriptors (Clean Descriptors is a heuristic). */
export async function previewDeidentification(store: CaseStore, id: string): Promise<DeidentificationPreview> {
  const { deps, randomBytes } = store;
  const { db, cache } = deps;
  const c = await store.mustGet(id);
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
}

/** Instances and bytes that would be sent (before compression, note excluded). */
export async function sizeOf(store: CaseStore, id: string): Promise<{ instances: number; bytes: number }> {
  const c = await store.mustGet(id);
  const rows = await store.deps.db.instances.bulkGet(c.sopInstanceUIDs);
  return { instances: c.sopInstanceUIDs.length, bytes: rows.reduce((n, r) => n + (r?.size ?? 0), 0) };
}
