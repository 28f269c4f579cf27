import { dicomParser } from './dicom-parser';

/** The PDF inside an Encapsulated PDF file: (0042,0011), cut to (0042,0015) when the file gives its length. */
export function extractEncapsulatedPdf(bytes: ArrayBuffer | Uint8Array): Uint8Array {
  const arr = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const ds = dicomParser.parseDicom(arr);
  const mime = ds.string('x00420012')?.trim();
  if (mime && mime !== 'application/pdf') throw new Error(`The attached document is ${mime}, not a PDF`);
  const el = ds.elements['x00420011'];
  if (!el || el.length <= 0) throw new Error('The attached document has no Encapsulated Document (0042,0011)');
  const declared = ds.uint32('x00420015');
  const length = declared !== undefined && declared > 0 && declared <= el.length ? declared : el.length;
  const pdf = arr.slice(el.dataOffset, el.dataOffset + length);
  // "%PDF-": refuse something else before handing it to the PDF renderer.
  if (pdf[0] !== 0x25 || pdf[1] !== 0x50 || pdf[2] !== 0x44 || pdf[3] !== 0x46) throw new Error('The attached document is not a PDF file');
  return pdf;
}
