import type { DataSet } from 'dicom-parser';
import { dicomParser } from '../lib/dicom/dicom-parser';

/** What the cache and the viewer need from a Part 10 file's header. */
export interface Part10Header {
  sopInstanceUID?: string;
  seriesInstanceUID?: string;
  transferSyntaxUID: string;
  instanceNumber?: number;
  imagePositionPatient?: number[];
  imageOrientationPatient?: number[];
  modality?: string;
  seriesDescription?: string;
  seriesNumber?: number;
}

function floats(ds: DataSet, tag: string, count: number): number[] | undefined {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const v = ds.floatString(tag, i);
    if (v === undefined || !Number.isFinite(v)) return undefined;
    out.push(v);
  }
  return out;
}

function str(ds: DataSet, tag: string): string | undefined {
  const v = ds.string(tag)?.trim();
  return v ? v : undefined;
}

/**
 * Reads the header of a Part 10 file, stopping before the pixel data. It runs
 * on every retrieved instance before it is cached, so something that is not
 * a DICOM file (an HTML error page, a truncated part) is refused at the door
 * rather than found later by the decoder.
 */
export function readPart10Header(bytes: ArrayBuffer): Part10Header {
  const ds = dicomParser.parseDicom(new Uint8Array(bytes), { untilTag: 'x7fe00010' });
  const transferSyntaxUID = str(ds, 'x00020010');
  if (!transferSyntaxUID) throw new Error('Not a DICOM Part 10 file: no Transfer Syntax UID in its meta header');
  const header: Part10Header = { transferSyntaxUID };
  const sop = str(ds, 'x00080018');
  if (sop) header.sopInstanceUID = sop;
  const series = str(ds, 'x0020000e');
  if (series) header.seriesInstanceUID = series;
  const instanceNumber = ds.intString('x00200013');
  if (instanceNumber !== undefined && Number.isFinite(instanceNumber)) header.instanceNumber = instanceNumber;
  const ipp = floats(ds, 'x00200032', 3);
  if (ipp) header.imagePositionPatient = ipp;
  const iop = floats(ds, 'x00200037', 6);
  if (iop) header.imageOrientationPatient = iop;
  const modality = str(ds, 'x00080060');
  if (modality) header.modality = modality;
  const description = str(ds, 'x0008103e');
  if (description) header.seriesDescription = description;
  const seriesNumber = ds.intString('x00200011');
  if (seriesNumber !== undefined && Number.isFinite(seriesNumber)) header.seriesNumber = seriesNumber;
  return header;
}
