import { Tag, getNumber, getString } from '../../shared/dicom/dicomweb-json';
import type { DicomJsonDataset } from '../../shared/dicom/dicomweb-json';
import { hangingIndex, sortStack } from '../../shared/dicom/stack-order';
import type { OrderedSeries } from './retrieval-order';
import type { ListedInstance, SeriesRecord } from './telerad-db';

// Series planning of a retrieval: what the site's instance list says, before any pixel
// arrives — the reading order, the hanging slices, what is asked as stored, the preview raster.

/**
 * Instance-level QIDO fields: enough to build series records and order each
 * stack before any pixel arrives (position and orientation: Orthanc answers
 * them from its index; a PACS that leaves them out gets instance-number order),
 * and to ask previews in the image's aspect (rows, columns).
 */
const INSTANCE_FIELDS = [
  Tag.SeriesDescription,
  Tag.Modality,
  Tag.SeriesNumber,
  Tag.InstanceNumber,
  '00200032', // Image Position (Patient)
  '00200037', // Image Orientation (Patient)
  '00280010', // Rows
  '00280011', // Columns
  '00280008', // Number of Frames
];

const SOP_CLASS_UID = '00080016';

/** The QIDO-RS query of a study's instances (a fresh object each time: the API may keep it). */
export function instanceQuery(): { includefield: string[] } {
  return { includefield: [...INSTANCE_FIELDS, SOP_CLASS_UID] };
}

/**
 * SOP classes always fetched as stored, never asked for JPEG-LS:
 *  - no pixel data to transcode (SR, encapsulated PDF/CDA, presentation
 *    states, waveforms, RT plans/structures);
 *  - photographs (VL family 77.1.*, Secondary Capture 7*), which arrive as
 *    JPEG already: re-encoding them losslessly only makes them bigger.
 */
const AS_STORED_SOP_CLASS_PREFIXES = [
  '1.2.840.10008.5.1.4.1.1.77.1.',
  '1.2.840.10008.5.1.4.1.1.7',
  '1.2.840.10008.5.1.4.1.1.88.',
  '1.2.840.10008.5.1.4.1.1.104.',
  '1.2.840.10008.5.1.4.1.1.11.',
  '1.2.840.10008.5.1.4.1.1.9.',
  '1.2.840.10008.5.1.4.1.1.481.2',
  '1.2.840.10008.5.1.4.1.1.481.3',
  '1.2.840.10008.5.1.4.1.1.481.5',
];

export interface PlannedInstance extends ListedInstance {
  /** The series' hanging slice (what the viewer shows first). */
  firstOfSeries: boolean;
}

export function negotiatesTransferSyntax(sopClassUID: string | undefined): boolean {
  return !sopClassUID || !AS_STORED_SOP_CLASS_PREFIXES.some((p) => sopClassUID.startsWith(p));
}

/**
 * The study's instances as listed, each series in reading order (the
 * viewer's stack order: by position along the slice normal when the site
 * answers geometry, else by instance number), its hanging slice marked.
 */
export function planInstances(uid: string, listed: DicomJsonDataset[]): PlannedInstance[] {
  const bySeries = new Map<string, PlannedInstance[]>();
  for (const ds of listed) {
    const sop = getString(ds, Tag.SOPInstanceUID);
    const series = getString(ds, Tag.SeriesInstanceUID);
    if (!sop || !series) continue;
    const n = getNumber(ds, Tag.InstanceNumber);
    const sopClass = getString(ds, SOP_CLASS_UID);
    const position = numbersOf(ds, '00200032', 3);
    const orientation = numbersOf(ds, '00200037', 6);
    const rows = getNumber(ds, '00280010');
    const columns = getNumber(ds, '00280011');
    const frames = getNumber(ds, '00280008');
    const list = bySeries.get(series) ?? [];
    list.push({
      studyInstanceUID: uid,
      seriesInstanceUID: series,
      sopInstanceUID: sop,
      firstOfSeries: false,
      ...(n !== undefined ? { instanceNumber: n } : {}),
      ...(sopClass ? { sopClassUID: sopClass } : {}),
      ...(position ? { imagePositionPatient: position } : {}),
      ...(orientation ? { imageOrientationPatient: orientation } : {}),
      ...(rows !== undefined && rows > 0 ? { rows } : {}),
      ...(columns !== undefined && columns > 0 ? { columns } : {}),
      ...(frames !== undefined && frames > 0 ? { numberOfFrames: frames } : {}),
    });
    bySeries.set(series, list);
  }
  const out: PlannedInstance[] = [];
  // Largest series first: the viewer opens on it, so its hanging slice is fetched first.
  for (const list of [...bySeries.values()].sort((a, b) => b.length - a.length)) {
    const sorted = sortStack(list);
    sorted[hangingIndex(sorted.length)]!.firstOfSeries = true;
    out.push(...sorted);
  }
  return out;
}

function numbersOf(ds: DicomJsonDataset, tag: string, count: number): number[] | undefined {
  const v = (ds[tag]?.Value ?? []).map((x) => (typeof x === 'number' ? x : Number(x)));
  return v.length === count && v.every(Number.isFinite) ? v : undefined;
}

/** The series of a plan, in plan order, with their hanging slices (for the retrieval order). */
export function orderedSeries(planned: readonly PlannedInstance[]): OrderedSeries[] {
  const out: { seriesInstanceUID: string; sops: string[]; hanging: number }[] = [];
  for (const p of planned) {
    let s = out.at(-1);
    if (s?.seriesInstanceUID !== p.seriesInstanceUID) {
      s = { seriesInstanceUID: p.seriesInstanceUID, sops: [], hanging: 0 };
      out.push(s);
    }
    if (p.firstOfSeries) s.hanging = s.sops.length;
    s.sops.push(p.sopInstanceUID);
  }
  return out;
}

export function listedOf(p: PlannedInstance): ListedInstance {
  const { firstOfSeries: _hanging, ...listed } = p;
  return listed;
}

/**
 * The raster a preview is asked at: the image's aspect with its longer side
 * `size` (never more than the image itself), so the site's letterboxing adds
 * nothing and the preview maps back onto the image's own pixel grid. Square
 * when the site did not say the image's size.
 */
export function previewViewport(columns: number | undefined, rows: number | undefined, size: number): { width: number; height: number } {
  if (!columns || !rows) return { width: size, height: size };
  const scale = Math.min(1, size / Math.max(columns, rows));
  return { width: Math.max(1, Math.round(columns * scale)), height: Math.max(1, Math.round(rows * scale)) };
}

export function seriesFromQido(uid: string, listed: DicomJsonDataset[]): SeriesRecord[] {
  const bySeries = new Map<string, SeriesRecord>();
  for (const ds of listed) {
    const seriesUid = getString(ds, Tag.SeriesInstanceUID);
    if (!seriesUid || bySeries.has(seriesUid)) continue;
    const seriesNumber = getNumber(ds, Tag.SeriesNumber);
    bySeries.set(seriesUid, {
      seriesInstanceUID: seriesUid,
      studyInstanceUID: uid,
      modality: getString(ds, Tag.Modality) ?? '',
      description: getString(ds, Tag.SeriesDescription) ?? '',
      ...(seriesNumber !== undefined ? { seriesNumber } : {}),
    });
  }
  return [...bySeries.values()];
}
