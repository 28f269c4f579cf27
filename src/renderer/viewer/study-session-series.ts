import type { InstanceRecord, ListedInstance, SeriesRecord } from '../cache/telerad-db';
import type { SeriesOption, StackInstance } from './study-session-types';

/**
 * Series the stack viewer does not show: structured reports, documents
 * (Encapsulated PDF), key-object selections and presentation states hold no
 * pixels; a referral packet's note and PDF open in the referral panel.
 */
const NON_IMAGE_MODALITIES: ReadonlySet<string> = new Set(['SR', 'DOC', 'KO', 'PR']);
/** Photos (external camera, other) sort after the study's diagnostic series: they open from the referral panel. */
const PHOTO_MODALITIES: ReadonlySet<string> = new Set(['XC', 'OT']);

/** The series select's options: image series only, the most slices first, photos last. */
export function listSeries(instances: StackInstance[], series: SeriesRecord[]): SeriesOption[] {
  const counts = new Map<string, number>();
  for (const i of instances) counts.set(i.seriesInstanceUID, (counts.get(i.seriesInstanceUID) ?? 0) + 1);
  const recOf = (uid: string): SeriesRecord | undefined => series.find((s) => s.seriesInstanceUID === uid);
  const isPhoto = (o: SeriesOption): number => (PHOTO_MODALITIES.has(o.modality) ? 1 : 0);
  return [...counts]
    .filter(([uid]) => !NON_IMAGE_MODALITIES.has(recOf(uid)?.modality ?? ''))
    .map(([uid, count]) => {
      const rec = recOf(uid);
      const modality = rec?.modality ?? '';
      const description = rec?.description ?? '';
      const label = [rec?.seriesNumber !== undefined ? `#${rec.seriesNumber}` : '', modality, description].filter(Boolean).join(' ');
      return {
        seriesInstanceUID: uid,
        label: `${label || uid} (${count})`,
        count,
        modality,
        description,
        ...(rec?.seriesNumber !== undefined ? { seriesNumber: rec.seriesNumber } : {}),
      };
    })
    .sort((a, b) => isPhoto(a) - isPhoto(b) || b.count - a.count);
}

/** The stored files as slices (their headers' geometry). */
export function fromRecords(records: readonly InstanceRecord[]): StackInstance[] {
  return records.map((r) => ({
    sopInstanceUID: r.sopInstanceUID,
    studyInstanceUID: r.studyInstanceUID,
    seriesInstanceUID: r.seriesInstanceUID,
    transferSyntaxUID: r.transferSyntaxUID,
    ...(r.instanceNumber !== undefined ? { instanceNumber: r.instanceNumber } : {}),
    ...(r.imagePositionPatient ? { imagePositionPatient: r.imagePositionPatient } : {}),
    ...(r.imageOrientationPatient ? { imageOrientationPatient: r.imageOrientationPatient } : {}),
  }));
}

/** The site's list orders the stack; what the stored files' headers say fills in what it left out. */
export function mergeListedWithHeaders(instances: readonly ListedInstance[], headers: ReadonlyMap<string, StackInstance>): StackInstance[] {
  return instances.map((i): StackInstance => {
    const h = headers.get(i.sopInstanceUID);
    return {
      ...i,
      ...(h?.transferSyntaxUID ? { transferSyntaxUID: h.transferSyntaxUID } : {}),
      ...(!i.imagePositionPatient && h?.imagePositionPatient ? { imagePositionPatient: h.imagePositionPatient } : {}),
      ...(!i.imageOrientationPatient && h?.imageOrientationPatient ? { imageOrientationPatient: h.imageOrientationPatient } : {}),
    };
  });
}
