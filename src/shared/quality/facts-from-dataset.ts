// Reads the attributes the checks need from a parsed data set. Typed against
// the small part of dicom-parser's DataSet it uses, so the renderer and the
// Node CLI share it without this layer importing the parser.
import { syntaxInfo } from './transfer-syntax';
import type { ImageFacts } from './types';

export interface DataSetElementLike {
  length: number;
  dataOffset: number;
  encapsulatedPixelData?: boolean;
  fragments?: readonly { length: number }[];
}

export interface DataSetLike {
  byteArray: Uint8Array;
  elements: Record<string, DataSetElementLike | undefined>;
  string(tag: string): string | undefined;
  uint16(tag: string): number | undefined;
}

const PIXEL_DATA = 'x7fe00010';

function text(ds: DataSetLike, tag: string): string | undefined {
  const v = ds.string(tag)?.trim();
  return v ? v : undefined;
}

function numbers(ds: DataSetLike, tag: string): number[] | undefined {
  const v = text(ds, tag);
  if (!v) return undefined;
  const out = v.split('\\').map((x) => Number(x.trim()));
  return out.every(Number.isFinite) ? out : undefined;
}

function number(ds: DataSetLike, tag: string): number | undefined {
  return numbers(ds, tag)?.[0];
}

const uint16 = (ds: DataSetLike, tag: string): number | undefined => ds.uint16(tag);
const methods = (ds: DataSetLike, tag: string): string[] | undefined => text(ds, tag)?.split('\\').map((m) => m.trim());

/** One attribute read as it stands: the key it fills, how it is read (typed to that key), its tag. */
type Field = { [K in keyof ImageFacts]-?: readonly [K, (ds: DataSetLike, tag: string) => ImageFacts[K] | undefined, string] }[keyof ImageFacts];

/** The attributes read as they stand, in the order they are set. */
const FIELDS: readonly Field[] = [
  ['sopClassUID', text, 'x00080016'],
  ['sopInstanceUID', text, 'x00080018'],
  ['studyInstanceUID', text, 'x0020000d'],
  ['seriesInstanceUID', text, 'x0020000e'],
  ['patientId', text, 'x00100020'],
  ['patientName', text, 'x00100010'],
  ['patientBirthDate', text, 'x00100030'],
  ['patientSex', text, 'x00100040'],
  ['modality', text, 'x00080060'],
  ['rows', uint16, 'x00280010'],
  ['columns', uint16, 'x00280011'],
  ['samplesPerPixel', uint16, 'x00280002'],
  ['photometricInterpretation', text, 'x00280004'],
  ['bitsAllocated', uint16, 'x00280100'],
  ['bitsStored', uint16, 'x00280101'],
  ['pixelRepresentation', uint16, 'x00280103'],
  ['numberOfFrames', number, 'x00280008'],
  ['transferSyntaxUID', text, 'x00020010'],
  ['lossyImageCompression', text, 'x00282110'],
  ['lossyImageCompressionRatio', numbers, 'x00282112'],
  ['lossyImageCompressionMethod', methods, 'x00282114'],
  ['pixelSpacing', numbers, 'x00280030'],
  ['imagerPixelSpacing', numbers, 'x00181164'],
  ['instanceNumber', number, 'x00200013'],
  ['imagePositionPatient', numbers, 'x00200032'],
  ['imageOrientationPatient', numbers, 'x00200037'],
  ['sliceThickness', number, 'x00180050'],
  ['frameOfReferenceUID', text, 'x00200052'],
  ['burnedInAnnotation', text, 'x00280301'],
];

/** Everything but the pixel statistics and the content hash, which need the pixels. */
export function factsFromDataSet(ds: DataSetLike, source: string, transferSyntaxUID?: string): ImageFacts {
  const facts: ImageFacts = { source };
  for (const [key, read, tag] of FIELDS) {
    // A transfer syntax the caller knows (from the file meta it parsed) wins over the data set's.
    const value = key === 'transferSyntaxUID' ? (transferSyntaxUID ?? read(ds, tag)) : read(ds, tag);
    if (value !== undefined) (facts as unknown as Record<string, unknown>)[key] = value;
  }
  const px = ds.elements[PIXEL_DATA];
  if (px) {
    const encapsulated = Boolean(px.encapsulatedPixelData) || Boolean(syntaxInfo(facts.transferSyntaxUID)?.encapsulated);
    const presentLength = encapsulated
      ? (px.fragments ?? []).reduce((s, f) => s + f.length, 0)
      : Math.max(0, Math.min(px.length, ds.byteArray.length - px.dataOffset));
    facts.pixelData = encapsulated ? { encapsulated, presentLength } : { encapsulated, declaredLength: px.length, presentLength };
  }
  return facts;
}
