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

/** Everything but the pixel statistics and the content hash, which need the pixels. */
export function factsFromDataSet(ds: DataSetLike, source: string, transferSyntaxUID?: string): ImageFacts {
  const facts: ImageFacts = { source };
  const set = <K extends keyof ImageFacts>(key: K, value: ImageFacts[K] | undefined): void => {
    if (value !== undefined) facts[key] = value;
  };
  set('sopClassUID', text(ds, 'x00080016'));
  set('sopInstanceUID', text(ds, 'x00080018'));
  set('studyInstanceUID', text(ds, 'x0020000d'));
  set('seriesInstanceUID', text(ds, 'x0020000e'));
  set('patientId', text(ds, 'x00100020'));
  set('patientName', text(ds, 'x00100010'));
  set('patientBirthDate', text(ds, 'x00100030'));
  set('patientSex', text(ds, 'x00100040'));
  set('modality', text(ds, 'x00080060'));
  set('rows', ds.uint16('x00280010'));
  set('columns', ds.uint16('x00280011'));
  set('samplesPerPixel', ds.uint16('x00280002'));
  set('photometricInterpretation', text(ds, 'x00280004'));
  set('bitsAllocated', ds.uint16('x00280100'));
  set('bitsStored', ds.uint16('x00280101'));
  set('pixelRepresentation', ds.uint16('x00280103'));
  set('numberOfFrames', number(ds, 'x00280008'));
  set('transferSyntaxUID', transferSyntaxUID ?? text(ds, 'x00020010'));
  set('lossyImageCompression', text(ds, 'x00282110'));
  set('lossyImageCompressionRatio', numbers(ds, 'x00282112'));
  const method = text(ds, 'x00282114');
  if (method) facts.lossyImageCompressionMethod = method.split('\\').map((m) => m.trim());
  set('pixelSpacing', numbers(ds, 'x00280030'));
  set('imagerPixelSpacing', numbers(ds, 'x00181164'));
  set('instanceNumber', number(ds, 'x00200013'));
  set('imagePositionPatient', numbers(ds, 'x00200032'));
  set('imageOrientationPatient', numbers(ds, 'x00200037'));
  set('sliceThickness', number(ds, 'x00180050'));
  set('frameOfReferenceUID', text(ds, 'x00200052'));
  set('burnedInAnnotation', text(ds, 'x00280301'));
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
