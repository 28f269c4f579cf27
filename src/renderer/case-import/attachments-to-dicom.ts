// Photos and PDFs a referrer attaches, as DICOM objects of the case's study
// (dcmjs): a JPEG → VL Photographic Image with the JPEG encapsulated as is
// (JPEG Baseline; its EXIF/metadata segments dropped); a PNG → Secondary
// Capture, decoded to RGB; a PDF → Encapsulated PDF. Each carries the case's
// patient and study attributes, so any DICOMweb PACS files it into the study.
import { newUid, defaultRandomBytes } from '../lib/dicom/dcmjs-runtime';
import type { DcmjsDeps } from '../lib/dicom/dcmjs-runtime';
import { isJpeg, jpegInfo, stripJpegMetadata } from './jpeg-info';
import { UnsupportedImageError, decodePng, isPng } from './png-decode';

export { UnsupportedImageError };

export const SOP_CLASS = {
  vlPhotographicImage: '1.2.840.10008.5.1.4.1.1.77.1.4',
  secondaryCapture: '1.2.840.10008.5.1.4.1.1.7',
  encapsulatedPdf: '1.2.840.10008.5.1.4.1.1.104.1',
} as const;
export const TRANSFER_SYNTAX = { explicitLittle: '1.2.840.10008.1.2.1', jpegBaseline: '1.2.840.10008.1.2.4.50' } as const;
const IMPLEMENTATION_CLASS_UID = '2.25.118442846212349719434517316384398012347';

/** The case an attachment belongs to. */
export interface CaseDicomContext {
  patientName: string;
  patientId: string;
  patientBirthDate?: string;
  patientSex?: string;
  studyInstanceUID: string;
  studyDate?: string;
  studyTime?: string;
  accessionNumber?: string;
  studyDescription?: string;
  studyId?: string;
  referringPhysicianName?: string;
  /** Default: a new series per attachment. */
  seriesInstanceUID?: string;
  seriesNumber?: number;
  instanceNumber?: number;
  /** Series description (photo) or document title (PDF). */
  description?: string;
}

export type AttachmentDeps = DcmjsDeps;

export interface BuiltObject {
  bytes: ArrayBuffer;
  sopClassUID: string;
  sopInstanceUID: string;
  seriesInstanceUID: string;
  transferSyntaxUID: string;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function dicomDate(d: Date): string {
  return `${d.getFullYear()}${pad2(d.getMonth() + 1)}${pad2(d.getDate())}`;
}

function dicomTime(d: Date): string {
  return `${pad2(d.getHours())}${pad2(d.getMinutes())}${pad2(d.getSeconds())}`;
}

function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

function common(ctx: CaseDicomContext, deps: AttachmentDeps, sopClassUID: string, modality: string, seriesNumber: number): Record<string, unknown> {
  const random = deps.randomBytes ?? defaultRandomBytes;
  const now = deps.now?.() ?? new Date();
  return {
    // dcmjs writes strings as UTF-8; say so (names and titles may hold any character).
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: sopClassUID,
    SOPInstanceUID: newUid(random),
    InstanceCreationDate: dicomDate(now),
    InstanceCreationTime: dicomTime(now),
    PatientName: ctx.patientName,
    PatientID: ctx.patientId,
    PatientBirthDate: ctx.patientBirthDate ?? '',
    PatientSex: ctx.patientSex ?? '',
    StudyInstanceUID: ctx.studyInstanceUID,
    StudyDate: ctx.studyDate ?? dicomDate(now),
    StudyTime: ctx.studyTime ?? dicomTime(now),
    AccessionNumber: ctx.accessionNumber ?? '',
    ReferringPhysicianName: ctx.referringPhysicianName ?? '',
    StudyID: ctx.studyId ?? '',
    ...(ctx.studyDescription ? { StudyDescription: ctx.studyDescription } : {}),
    SeriesInstanceUID: ctx.seriesInstanceUID ?? newUid(random),
    SeriesNumber: ctx.seriesNumber ?? seriesNumber,
    Modality: modality,
    // Type 2C (paired body parts): present and empty, the referrer names the side in the description.
    ...(modality === 'DOC' ? {} : { Laterality: '' }),
    InstanceNumber: ctx.instanceNumber ?? 1,
    Manufacturer: 'Telerad Workstation',
    ContentDate: dicomDate(now),
    ContentTime: dicomTime(now),
  };
}

function write(deps: AttachmentDeps, dataset: Record<string, unknown>, transferSyntaxUID: string): BuiltObject {
  const { DicomDict, DicomMetaDictionary } = deps.dcmjs.data;
  const meta = DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: transferSyntaxUID,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: 'TELERAD',
    _vrMap: { FileMetaInformationVersion: 'OB' },
  });
  const dict = new DicomDict(meta);
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return {
    // One fragment per frame: a viewer reads the JPEG stream back as it was.
    bytes: dict.write({ fragmentMultiframe: false }),
    sopClassUID: String(dataset.SOPClassUID),
    sopInstanceUID: String(dataset.SOPInstanceUID),
    seriesInstanceUID: String(dataset.SeriesInstanceUID),
    transferSyntaxUID,
  };
}

/**
 * A phone photo as DICOM. JPEG (baseline) → VL Photographic Image, the JPEG
 * encapsulated without re-encoding; PNG → Secondary Capture with RGB pixels.
 * Throws UnsupportedImageError with a message for the user otherwise.
 */
export function photoToDicom(bytes: Uint8Array, mime: string, ctx: CaseDicomContext, deps: AttachmentDeps): BuiltObject {
  const description = ctx.description ?? 'Photo';
  if (mime === 'image/jpeg' || (mime === '' && isJpeg(bytes))) {
    const info = jpegInfo(bytes);
    const jpeg = stripJpegMetadata(bytes);
    const dataset: Record<string, unknown> = {
      ...common(ctx, deps, SOP_CLASS.vlPhotographicImage, 'XC', 920),
      SeriesDescription: description,
      ImageType: ['ORIGINAL', 'PRIMARY'],
      AcquisitionDateTime: '',
      PatientOrientation: '',
      AcquisitionContextSequence: [],
      SamplesPerPixel: info.components,
      PhotometricInterpretation: info.components === 1 ? 'MONOCHROME2' : info.chromaSubsampled ? 'YBR_FULL_422' : 'YBR_FULL',
      ...(info.components === 3 ? { PlanarConfiguration: 0 } : {}),
      Rows: info.height,
      Columns: info.width,
      BitsAllocated: 8,
      BitsStored: 8,
      HighBit: 7,
      PixelRepresentation: 0,
      // A phone's JPEG is lossy-compressed already (ISO 10918-1).
      LossyImageCompression: '01',
      LossyImageCompressionMethod: 'ISO_10918_1',
      PixelData: [toArrayBuffer(jpeg)],
      _vrMap: { PixelData: 'OB' },
    };
    return write(deps, dataset, TRANSFER_SYNTAX.jpegBaseline);
  }
  if (mime === 'image/png' || (mime === '' && isPng(bytes))) {
    const { width, height, rgb } = decodePng(bytes);
    const dataset: Record<string, unknown> = {
      ...common(ctx, deps, SOP_CLASS.secondaryCapture, 'XC', 921),
      SeriesDescription: description,
      ConversionType: 'DI',
      ImageType: ['DERIVED', 'SECONDARY'],
      PatientOrientation: '',
      SamplesPerPixel: 3,
      PhotometricInterpretation: 'RGB',
      PlanarConfiguration: 0,
      Rows: height,
      Columns: width,
      BitsAllocated: 8,
      BitsStored: 8,
      HighBit: 7,
      PixelRepresentation: 0,
      LossyImageCompression: '00',
      PixelData: [toArrayBuffer(rgb)],
      _vrMap: { PixelData: 'OB' },
    };
    return write(deps, dataset, TRANSFER_SYNTAX.explicitLittle);
  }
  throw new UnsupportedImageError(`${mime || 'this file type'} cannot be attached as a photo: use JPEG or PNG`);
}

export function isPdf(bytes: Uint8Array): boolean {
  return bytes[0] === 0x25 && bytes[1] === 0x50 && bytes[2] === 0x44 && bytes[3] === 0x46; // %PDF
}

/** A PDF (lab results, a letter) as an Encapsulated PDF in the case's study. */
export function pdfToDicom(pdf: Uint8Array, ctx: CaseDicomContext, deps: AttachmentDeps): BuiltObject {
  if (!isPdf(pdf)) throw new UnsupportedImageError('not a PDF file');
  const title = ctx.description ?? 'Document';
  // OB values have even length; PS3.5 pads an odd encapsulated document with one 0x00.
  const padded = new Uint8Array(pdf.length + (pdf.length % 2));
  padded.set(pdf);
  const dataset: Record<string, unknown> = {
    ...common(ctx, deps, SOP_CLASS.encapsulatedPdf, 'DOC', 910),
    SeriesDescription: title,
    ConversionType: 'WSD',
    AcquisitionDateTime: '',
    BurnedInAnnotation: 'YES',
    DocumentTitle: title,
    ConceptNameCodeSequence: [],
    MIMETypeOfEncapsulatedDocument: 'application/pdf',
    EncapsulatedDocumentLength: pdf.length,
    EncapsulatedDocument: [toArrayBuffer(padded)],
    _vrMap: { EncapsulatedDocument: 'OB' },
  };
  return write(deps, dataset, TRANSFER_SYNTAX.explicitLittle);
}
