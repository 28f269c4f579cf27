// IHE PDI media: the DICOMDIR's directory records and the files they reference.
// In shared (pure, no DOM, no Node) because the app's import and the `npm run qc` command both read DICOMDIRs.
import type { DataSet } from 'dicom-parser';

export interface DicomdirReference {
  recordType: string;
  /** Referenced File ID components joined with '/', as written (e.g. `IMAGES/CT/IM3`). */
  fileId: string;
  /** Resolved against the DICOMDIR's folder: the path the entry should have. */
  path: string;
  sopInstanceUID: string;
  /** From the PATIENT, STUDY and SERIES records above this one; '' when there is none. */
  patientId: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
}

export interface DicomdirContents {
  records: Record<string, number>;
  references: DicomdirReference[];
}

/** The folder part of a '/'-separated path ('' at the root). */
export function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * The key files are matched by: ISO 9660 media are upper case and may carry
 * a ";1" version and a trailing dot per component, and a CD mounted on Linux
 * or copied to USB often turns them lower case — so compare case-insensitively
 * without those.
 */
export function mediaKey(path: string): string {
  return path
    .split('/')
    .filter((c) => c !== '' && c !== '.')
    .map((c) => c.replace(/;\d+$/, '').replace(/\.$/, '').toLowerCase())
    .join('/');
}

export function isDicomdirPath(path: string): boolean {
  return mediaKey(basename(path)) === 'dicomdir';
}

/** Media Storage Directory Storage: the SOP Class of a DICOMDIR. */
export const DICOMDIR_SOP_CLASS_UID = '1.2.840.10008.1.3.10';

/**
 * A DICOMDIR by content, whatever its name (`DICOMDIR.DCM`, a copy made by
 * hand): its meta header names the Media Storage Directory SOP Class, or it
 * holds a Directory Record Sequence, which no image carries.
 */
export function isDicomdirDataSet(ds: DataSet): boolean {
  return (ds.string('x00020002') ?? '').trim() === DICOMDIR_SOP_CLASS_UID || ds.elements.x00041220 !== undefined;
}

/** A directory record and the file offset of its item, which the offset attributes point at. */
interface StoredRecord {
  dataSet: DataSet;
  start: number;
}

/** Where a record sits in the hierarchy, for records read in stored order: PATIENT > STUDY > SERIES > the rest. */
const LEVEL: Record<string, number> = { PATIENT: 0, STUDY: 1, SERIES: 2 };

interface Ancestors {
  patientId: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
}

const NO_ANCESTORS: Ancestors = { patientId: '', studyInstanceUID: '', seriesInstanceUID: '' };

function recordTypeOf(rec: DataSet): string {
  return (rec.string('x00041430') ?? '').trim() || 'UNKNOWN';
}

/** The context a record gives the records below it. */
function descend(ctx: Ancestors, rec: DataSet): Ancestors {
  const type = recordTypeOf(rec);
  if (type === 'PATIENT') return { ...NO_ANCESTORS, patientId: (rec.string('x00100020') ?? '').trim() };
  if (type === 'STUDY') return { ...ctx, studyInstanceUID: (rec.string('x0020000d') ?? '').trim(), seriesInstanceUID: '' };
  if (type === 'SERIES') return { ...ctx, seriesInstanceUID: (rec.string('x0020000e') ?? '').trim() };
  return ctx;
}

/** An offset attribute: 0 when absent (PS3.3 F.3: 0 means "none"). */
function offsetOf(ds: DataSet, tag: string): number {
  return ds.elements[tag] ? (ds.uint32(tag) ?? 0) : 0;
}

/**
 * The records in the order the offsets chain them (first record of the root,
 * then each record's lower level before its next sibling), each with its
 * ancestors — or undefined when the chain cannot be trusted: no root offset,
 * an offset that lands on no record, a loop, or records the chain never
 * reaches. Burners store records in other orders than the chain, so the
 * chain, when it holds, is what gives the hierarchy.
 */
function walkChain(ds: DataSet, records: readonly StoredRecord[]): { rec: DataSet; ctx: Ancestors }[] | undefined {
  const byStart = new Map(records.map((r) => [r.start, r.dataSet]));
  const root = offsetOf(ds, 'x00041200');
  if (!root) return undefined;
  const out: { rec: DataSet; ctx: Ancestors }[] = [];
  const seen = new Set<number>();
  // Explicit stack, not recursion: a hostile file must not exhaust the call stack.
  const stack: { offset: number; ctx: Ancestors }[] = [{ offset: root, ctx: NO_ANCESTORS }];
  while (stack.length) {
    const { offset, ctx } = stack.pop()!;
    const rec = byStart.get(offset);
    if (!rec || seen.has(offset)) return undefined;
    seen.add(offset);
    out.push({ rec, ctx });
    const next = offsetOf(rec, 'x00041400');
    const lower = offsetOf(rec, 'x00041420');
    if (next) stack.push({ offset: next, ctx });
    if (lower) stack.push({ offset: lower, ctx: descend(ctx, rec) });
  }
  return seen.size === records.length ? out : undefined;
}

/** The records in stored order, the hierarchy inferred from it: a record belongs to the last record of the level above. */
function inferFromOrder(records: readonly StoredRecord[]): { rec: DataSet; ctx: Ancestors }[] {
  const out: { rec: DataSet; ctx: Ancestors }[] = [];
  // The context below the last record seen of each level (0: below PATIENT, 1: below STUDY, 2: below SERIES);
  // a new record resets the levels under it, so an IMAGE after a new STUDY gets no stale series.
  const below: Ancestors[] = [NO_ANCESTORS, NO_ANCESTORS, NO_ANCESTORS];
  for (const { dataSet: rec } of records) {
    const level = LEVEL[recordTypeOf(rec)];
    const ctx = level === undefined ? below[2]! : level === 0 ? NO_ANCESTORS : below[level - 1]!;
    out.push({ rec, ctx });
    if (level !== undefined) {
      const inner = descend(ctx, rec);
      for (let l = level; l < below.length; l++) below[l] = inner;
    }
  }
  return out;
}

/**
 * Reads the Directory Record Sequence (0004,1220) of a parsed DICOMDIR at
 * `path`, in any transfer syntax dicom-parser reads (explicit or implicit VR,
 * little or big endian). The hierarchy comes from the offsets when they form
 * a sound chain, and from the stored order when they are zero, absent or
 * wrong (a DICOMDIR converted to another transfer syntax keeps its old
 * offsets, which then point into the middle of records).
 */
export function readDicomdir(ds: DataSet, path: string): DicomdirContents {
  const records: Record<string, number> = {};
  const references: DicomdirReference[] = [];
  const base = dirname(path);
  // An item's offset is that of its tag: 8 bytes (tag, length) before its data, in every transfer syntax.
  const stored = (ds.elements.x00041220?.items ?? []).flatMap((item) => (item.dataSet ? [{ dataSet: item.dataSet, start: item.dataOffset - 8 }] : []));
  const ordered = walkChain(ds, stored) ?? inferFromOrder(stored);
  for (const { rec, ctx } of ordered) {
    const recordType = recordTypeOf(rec);
    records[recordType] = (records[recordType] ?? 0) + 1;
    const raw = rec.string('x00041500');
    if (!raw) continue;
    const components = raw.split('\\').map((c) => c.trim()).filter(Boolean);
    const fileId = components.join('/');
    references.push({
      recordType,
      fileId,
      path: base ? `${base}/${fileId}` : fileId,
      sopInstanceUID: (rec.string('x00041511') ?? '').trim(),
      ...ctx,
    });
  }
  return { records, references };
}
