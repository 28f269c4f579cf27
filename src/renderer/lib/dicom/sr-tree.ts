import type { DataSet } from 'dicom-parser';
import { errorMessage } from '../../../shared/error-message';
import { parseDicom } from './dicom-parser';
import { decoderFor, items, readCode } from './sr-dataset';
import type { Decode } from './sr-dataset';
import { Tag } from './tags';
import { sameCode } from './vocabulary';
import type { CodeTriplet } from './vocabulary';

/**
 * An SR document's content tree, read once with dicom-parser (small, already
 * in the bundle) rather than dcmjs (large): the referral note, report and
 * case-note readers build on it and only say what their items mean.
 *
 * The text values (TEXT, CODE, PNAME, DATETIME, UIDREF) are read wherever an
 * item carries them, so a note from a tool that files a value under another
 * value type still reads; a reader checks the value type where it matters.
 * The structured values (NUM, SCOORD, IMAGE/COMPOSITE) are read only under
 * their own value type.
 */

/** A NUM item's measured value: the FD when present (exact), else the DS. */
export interface SrNumeric {
  value: number;
  unit?: CodeTriplet;
}

/** A SCOORD item's graphic: its type and the flat list of column/row points. */
export interface SrGraphic {
  type: string;
  points: number[];
}

/** The instance an IMAGE or COMPOSITE item references (its first Referenced SOP Sequence item). */
export interface SrReference {
  sopClassUID: string;
  sopInstanceUID: string;
  frameNumber?: number;
}

export interface SrContentItem {
  /** Relationship Type to the parent ('CONTAINS', 'HAS OBS CONTEXT', …); '' when absent. */
  relationship: string;
  /** Value Type ('CONTAINER', 'TEXT', 'CODE', …); '' when absent. */
  valueType: string;
  concept?: CodeTriplet;
  text?: string;
  code?: CodeTriplet;
  /** DICOM PN as stored (`FAMILY^GIVEN^^PREFIX`). */
  personName?: string;
  /** DT as stored. */
  dateTime?: string;
  uid?: string;
  numeric?: SrNumeric;
  graphic?: SrGraphic;
  reference?: SrReference;
  children: SrContentItem[];
}

export interface SrTree {
  /** The whole data set, for the sequences a reader needs beyond the content tree. */
  dataSet: DataSet;
  /** Decodes a text attribute of the data set or of any item in it, by the file's character set. */
  decode: Decode;
  /** A top-level text attribute, decoded and trimmed; undefined when absent or empty. */
  header: (tag: string) => string | undefined;
  /** The items of a top-level sequence (none when absent). */
  sequence: (tag: string) => DataSet[];
  /** The root's concept name: the document title. */
  title?: CodeTriplet;
  /** The root's content items, each with its children down to `maxDepth`. */
  content: SrContentItem[];
}

export interface SrTreeOptions {
  /**
   * How many levels below the root's items are read (0: the root's items
   * alone; -1: none, for a look at the header). A broken or hostile file
   * could nest without end; real documents are a few levels deep.
   */
  maxDepth?: number;
}

/** Thrown by readSrTree when the bytes do not parse as DICOM; `cause` is dicom-parser's own exception. */
export class NotDicomError extends Error {
  constructor(cause: unknown) {
    // dicom-parser throws `{ exception, dataSet }`: the message is the exception.
    const inner = (cause as { exception?: unknown } | undefined)?.exception ?? cause;
    super(`Not a DICOM file: ${errorMessage(inner)}`, { cause });
  }
}

const DEFAULT_MAX_DEPTH = 24;

/**
 * Parses a Part 10 file and reads its content tree. Throws NotDicomError
 * when the bytes are not DICOM (or are truncated: parseDicom refuses an
 * element running past the end). Whether it is an SR at all is the caller's
 * question (`header(Tag.SOPClassUID)`).
 */
export function readSrTree(bytes: ArrayBuffer | Uint8Array, options: SrTreeOptions = {}): SrTree {
  let dataSet: DataSet;
  try {
    dataSet = parseDicom(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  } catch (err) {
    throw new NotDicomError(err);
  }
  const decode = decoderFor(dataSet.string(Tag.SpecificCharacterSet));
  const tree: SrTree = {
    dataSet,
    decode,
    header: (tag) => decode(dataSet, tag),
    sequence: (tag) => items(dataSet, tag),
    content: readContentItems(dataSet, decode, 0, options.maxDepth ?? DEFAULT_MAX_DEPTH),
  };
  const title = readCode(items(dataSet, Tag.ConceptNameCodeSequence)[0], decode);
  if (title) tree.title = title;
  return tree;
}

function readContentItems(ds: DataSet, decode: Decode, depth: number, maxDepth: number): SrContentItem[] {
  if (depth > maxDepth) return [];
  return items(ds, Tag.ContentSequence).map((item) => {
    const out: SrContentItem = {
      relationship: decode(item, Tag.RelationshipType) ?? '',
      valueType: decode(item, Tag.ValueType) ?? '',
      children: readContentItems(item, decode, depth + 1, maxDepth),
    };
    const concept = readCode(items(item, Tag.ConceptNameCodeSequence)[0], decode);
    if (concept) out.concept = concept;
    readTextValues(item, decode, out);
    readStructuredValue(item, decode, out);
    return out;
  });
}

function readTextValues(item: DataSet, decode: Decode, out: SrContentItem): void {
  const text = decode(item, Tag.TextValue);
  if (text !== undefined) out.text = text;
  const code = readCode(items(item, Tag.ConceptCodeSequence)[0], decode);
  if (code) out.code = code;
  const personName = decode(item, Tag.PersonName);
  if (personName) out.personName = personName;
  const dateTime = decode(item, Tag.DateTime);
  if (dateTime) out.dateTime = dateTime;
  const uid = decode(item, Tag.UID);
  if (uid) out.uid = uid;
}

function readStructuredValue(item: DataSet, decode: Decode, out: SrContentItem): void {
  switch (out.valueType) {
    case 'NUM': {
      const numeric = readNumeric(item, decode);
      if (numeric) out.numeric = numeric;
      break;
    }
    case 'SCOORD': {
      const el = item.elements[Tag.GraphicData];
      const count = el ? Math.floor(el.length / 4) : 0;
      out.graphic = { type: decode(item, Tag.GraphicType) ?? '', points: Array.from({ length: count }, (_, i) => item.float(Tag.GraphicData, i) ?? Number.NaN) };
      break;
    }
    case 'IMAGE':
    case 'COMPOSITE': {
      const reference = readReference(item, decode);
      if (reference) out.reference = reference;
      break;
    }
    default:
      break;
  }
}

function readNumeric(item: DataSet, decode: Decode): SrNumeric | undefined {
  const mv = items(item, Tag.MeasuredValueSequence)[0];
  if (!mv) return undefined;
  // The FD value, when present, is the exact figure; the DS is at most 16 characters. An FD shorter
  // than its 8 bytes is broken: reading it could run past the end of the file, so the DS counts.
  const fp = (mv.elements[Tag.FloatingPointValue]?.length ?? 0) >= 8 ? mv.double(Tag.FloatingPointValue) : undefined;
  const ds = Number.parseFloat(decode(mv, Tag.NumericValue) ?? '');
  const value = fp !== undefined && Number.isFinite(fp) ? fp : ds;
  if (!Number.isFinite(value)) return undefined;
  const unit = readCode(items(mv, Tag.MeasurementUnitsCodeSequence)[0], decode);
  return unit ? { value, unit } : { value };
}

function readReference(item: DataSet, decode: Decode): SrReference | undefined {
  const ref = items(item, Tag.ReferencedSOPSequence)[0];
  const sopInstanceUID = ref ? decode(ref, Tag.ReferencedSOPInstanceUID) : undefined;
  if (!ref || !sopInstanceUID) return undefined;
  const frame = ref.elements[Tag.ReferencedFrameNumber] ? Number.parseInt(decode(ref, Tag.ReferencedFrameNumber) ?? '', 10) : Number.NaN;
  return { sopClassUID: decode(ref, Tag.ReferencedSOPClassUID) ?? '', sopInstanceUID, ...(Number.isFinite(frame) ? { frameNumber: frame } : {}) };
}

/** Every item of `list` and their descendants, depth first, parents before their children. */
export function walkContent(list: readonly SrContentItem[], visit: (item: SrContentItem) => void): void {
  for (const item of list) {
    visit(item);
    walkContent(item.children, visit);
  }
}

/** The first item, depth first, that `matches`; undefined when none does. */
export function findContent(list: readonly SrContentItem[], matches: (item: SrContentItem) => boolean): SrContentItem | undefined {
  for (const item of list) {
    if (matches(item)) return item;
    const deeper = findContent(item.children, matches);
    if (deeper) return deeper;
  }
  return undefined;
}

/** The first item of `list` (not its descendants) of that value type and concept. */
export function itemByConcept(list: readonly SrContentItem[], valueType: string, concept: CodeTriplet): SrContentItem | undefined {
  return list.find((item) => item.valueType === valueType && sameCode(item.concept, concept));
}

/** The first container, depth first, with that concept name. */
export function containerByConcept(list: readonly SrContentItem[], concept: CodeTriplet): SrContentItem | undefined {
  return findContent(list, (item) => item.valueType === 'CONTAINER' && sameCode(item.concept, concept));
}

/**
 * The series of every instance the evidence sequences list (Study → Referenced
 * Series → Referenced SOP), by SOP Instance UID: a content item names only
 * the instance.
 */
export function referencedSeries(tree: SrTree, evidenceSequences: readonly string[]): Map<string, string> {
  const seriesOf = new Map<string, string>();
  for (const tag of evidenceSequences) {
    for (const study of tree.sequence(tag)) {
      for (const series of items(study, Tag.ReferencedSeriesSequence)) {
        const seriesUID = tree.decode(series, Tag.SeriesInstanceUID) ?? '';
        for (const sop of items(series, Tag.ReferencedSOPSequence)) {
          const uid = tree.decode(sop, Tag.ReferencedSOPInstanceUID);
          if (uid) seriesOf.set(uid, seriesUID);
        }
      }
    }
  }
  return seriesOf;
}
