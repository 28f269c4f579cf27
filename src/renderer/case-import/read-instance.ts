// Reading one file for the import: is it DICOM, is it whole, and who/what is in it.
import { parseDicom } from '../lib/dicom/dicom-parser';
import type { ImportedInstance, PatientIdentity, SkipKind } from './import-types';

type DataSet = ReturnType<typeof parseDicom>;

export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

const VRS = new Set('AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' '));

const ELEMENT_NAMES: Record<string, string> = { x7fe00010: 'Pixel Data', x00420011: 'Encapsulated Document', x00041220: 'Directory Record Sequence' };

export type ReadOutcome =
  | { ok: true; dataSet: DataSet; transferSyntaxUID: string }
  | { ok: false; kind: SkipKind; reason: string };

function isPart10(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/**
 * A raw data set without the Part 10 preamble (old modalities, some CD
 * burners): accepted only when it starts with group 0008 — the Identifying
 * group every composite object begins with once the meta header is absent —
 * and an element number below 0x0100 (SpecificCharacterSet, ImageType, SOP
 * Class…). Explicit VR when the bytes after the tag spell a VR. Anything else
 * is not treated as DICOM: a text or JPEG file never passes.
 */
function rawDataSetSyntax(bytes: Uint8Array): string | undefined {
  if (bytes.length < 8 || bytes[0] !== 0x08 || bytes[1] !== 0x00 || (bytes[3] ?? 0) !== 0x00) return undefined;
  const vr = String.fromCharCode(bytes[4] ?? 0, bytes[5] ?? 0);
  return VRS.has(vr) ? EXPLICIT_VR_LITTLE_ENDIAN : IMPLICIT_VR_LITTLE_ENDIAN;
}

function tagLabel(tag: string): string {
  return ELEMENT_NAMES[tag] ?? `(${tag.slice(1, 5).toUpperCase()},${tag.slice(5).toUpperCase()})`;
}

function message(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Parses a file; a failure says why in one line, naming the element that runs past the end for a truncated file. */
export function readDicom(bytes: Uint8Array): ReadOutcome {
  let options: { TransferSyntaxUID?: string } = {};
  if (!isPart10(bytes)) {
    const syntax = rawDataSetSyntax(bytes);
    if (!syntax) return { ok: false, kind: 'not-dicom', reason: 'not a DICOM file' };
    options = { TransferSyntaxUID: syntax };
  }
  try {
    const dataSet = parseDicom(bytes, options);
    return { ok: true, dataSet, transferSyntaxUID: dataSet.string('x00020010') ?? options.TransferSyntaxUID ?? '' };
  } catch (e) {
    // dicom-parser throws {exception, dataSet} with what it read so far.
    const partial = (e as { dataSet?: DataSet } | undefined)?.dataSet;
    const cause = message((e as { exception?: unknown } | undefined)?.exception ?? e);
    if (partial) {
      for (const [tag, el] of Object.entries(partial.elements)) {
        if (el.length > 0 && el.dataOffset + el.length > bytes.length) {
          const present = Math.max(0, bytes.length - el.dataOffset);
          return { ok: false, kind: 'truncated', reason: `truncated: ${tagLabel(tag)} declares ${el.length} bytes, ${present} present` };
        }
      }
    }
    if (/Maximum call stack size exceeded/.test(cause)) {
      // dicom-parser reads sequences recursively: nesting deep enough to exhaust the stack is no real object.
      return { ok: false, kind: 'malformed', reason: 'malformed DICOM: sequences nested too deep to read' };
    }
    // dicom-parser's "invalid value for parameter 'maxPosition'" (spelt 'maxP osition' in its explicit-VR reader): an item whose declared length runs past the end of the file.
    if (/overrun|past end|beyond|end of buffer|outside|'maxP ?osition'/i.test(cause)) {
      return { ok: false, kind: 'truncated', reason: `truncated: the file ends inside an element (${bytes.length} bytes)` };
    }
    return { ok: false, kind: 'malformed', reason: `malformed DICOM: ${cause}` };
  }
}

/** Syntaxes whose Pixel Data is stored as is (its length follows from the geometry). */
const NATIVE_SYNTAXES = new Set([IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1.99']);
/** One decoded image larger than this is no scan a referral carries; viewers would allocate it (RGBA for palette colour) and fail. */
export const MAX_DECODED_IMAGE_BYTES = 2 ** 32;

/**
 * Why the image's geometry cannot be right, or undefined: zero or missing
 * rows/columns, a decoded size past 4 GiB (Rows × Columns × Frames ×
 * samples, ×4 for the RGBA a palette image is displayed as — sizes that
 * overflow 32-bit arithmetic in decoders), or stored Pixel Data shorter than
 * the geometry needs.
 */
export function pixelGeometryProblem(ds: DataSet, transferSyntaxUID: string): string | undefined {
  const el = ds.elements.x7fe00010;
  if (!el) return undefined;
  const rows = ds.uint16('x00280010') ?? 0;
  const columns = ds.uint16('x00280011') ?? 0;
  const bits = ds.uint16('x00280100') ?? 0;
  if (!rows || !columns || !bits) return `Pixel Data without Rows, Columns or Bits Allocated (${rows}×${columns}, ${bits} bits)`;
  const frames = Math.max(1, ds.intString('x00280008') || 1);
  const samples = Math.max(1, ds.uint16('x00280002') ?? 1);
  const palette = str(ds, 'x00280004') === 'PALETTE COLOR';
  const decoded = rows * columns * frames * (palette ? 4 : samples * Math.ceil(bits / 8));
  if (decoded > MAX_DECODED_IMAGE_BYTES) return `${rows}×${columns}×${frames} frames would decode to ${Math.round(decoded / 2 ** 30)} GiB`;
  if (NATIVE_SYNTAXES.has(transferSyntaxUID) && !el.fragments) {
    const needed = Math.ceil((rows * columns * frames * samples * bits) / 8);
    if (el.length < needed) return `Pixel Data holds ${el.length} bytes, ${rows}×${columns}×${frames} frames need ${needed}`;
  }
  return undefined;
}

function str(ds: DataSet, tag: string): string {
  return (ds.string(tag) ?? '').trim();
}

export function identityOf(ds: DataSet): PatientIdentity {
  return { name: str(ds, 'x00100010'), id: str(ds, 'x00100020'), birthDate: str(ds, 'x00100030'), sex: str(ds, 'x00100040') };
}

export interface InstanceFacts extends Omit<ImportedInstance, 'path' | 'size' | 'bytes'> {
  seriesNumber?: number;
  seriesDescription: string;
  studyDate: string;
  studyDescription: string;
  accessionNumber: string;
}

/** The facts the import groups by; a missing UID makes the file unusable (it could not be filed at a site). */
export function instanceFacts(ds: DataSet, transferSyntaxUID: string): InstanceFacts | { missing: string } {
  const sopInstanceUID = str(ds, 'x00080018') || str(ds, 'x00020003');
  const sopClassUID = str(ds, 'x00080016') || str(ds, 'x00020002');
  const studyInstanceUID = str(ds, 'x0020000d');
  const seriesInstanceUID = str(ds, 'x0020000e');
  const missing = [
    !sopInstanceUID && 'SOP Instance UID',
    !sopClassUID && 'SOP Class UID',
    !studyInstanceUID && 'Study Instance UID',
    !seriesInstanceUID && 'Series Instance UID',
  ].filter(Boolean);
  if (missing.length) return { missing: missing.join(', ') };
  const instanceNumber = ds.intString('x00200013');
  const seriesNumber = ds.intString('x00200011');
  return {
    sopInstanceUID,
    sopClassUID,
    transferSyntaxUID,
    studyInstanceUID,
    seriesInstanceUID,
    modality: str(ds, 'x00080060'),
    ...(instanceNumber !== undefined && !Number.isNaN(instanceNumber) ? { instanceNumber } : {}),
    ...(seriesNumber !== undefined && !Number.isNaN(seriesNumber) ? { seriesNumber } : {}),
    patient: identityOf(ds),
    seriesDescription: str(ds, 'x0008103e'),
    studyDate: str(ds, 'x00080020'),
    studyDescription: str(ds, 'x00081030'),
    accessionNumber: str(ds, 'x00080050'),
  };
}
