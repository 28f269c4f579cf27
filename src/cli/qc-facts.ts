// Node side of the quality checks: one Part 10 file → ImageFacts, with pixel
// statistics where the pixels are stored uncompressed.
import { createHash } from 'node:crypto';
import * as dicomParserModule from 'dicom-parser';
import { dataSetBoundsProblem } from '../shared/dicom/dataset-bounds';
import { boundedInflater } from '../shared/dicom/inflate-bounded';
import { computePixelStats, factsFromDataSet, nativeFirstFrame, pixelReadProblem, storedValues, syntaxInfo } from '../shared/quality';
import type { DataSetLike, ImageFacts, StoredPixels } from '../shared/quality';
import type { Decoders } from './qc-codecs';
import { errorMessage } from '../shared/error-message';

type DicomParser = typeof dicomParserModule;
// dicom-parser is a UMD bundle: under Node's ESM loader its functions sit on `default`.
const dicomParser: DicomParser = (dicomParserModule as DicomParser & { default?: DicomParser }).default ?? dicomParserModule;
type DataSet = ReturnType<DicomParser['parseDicom']>;

export const DICOMDIR_SOP_CLASS = '1.2.840.10008.1.3.10';

export type FileReading =
  | { kind: 'image'; facts: ImageFacts }
  | { kind: 'dicomdir'; dataSet: DataSet }
  | { kind: 'unreadable'; facts: ImageFacts };

function isPart10(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/** A data set without the Part 10 header starts with group 0008 (PS3.10 allows none, old CDs have them). */
function looksLikeRawDataSet(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0x08 && bytes[1] === 0x00 && bytes[3] === 0x00;
}

function errorText(e: unknown): string {
  const inner = (e as { exception?: unknown } | undefined)?.exception ?? e;
  return errorMessage(inner);
}

/** Stored values of the first frame, or why there are none to look at. */
export function firstFrame(ds: DataSet, facts: ImageFacts, decoders?: Decoders): StoredPixels | string {
  const el = ds.elements.x7fe00010;
  const problem = pixelReadProblem(facts, el !== undefined);
  if (problem || !el) return problem ?? 'no pixel data';
  const { rows, columns, bitsAllocated } = facts as Required<Pick<ImageFacts, 'rows' | 'columns' | 'bitsAllocated'>>;
  const n = rows * columns;
  const info = syntaxInfo(facts.transferSyntaxUID);
  if (!info?.encapsulated) return nativeFirstFrame(ds.byteArray, el, facts);
  const decode = decoders?.get(facts.transferSyntaxUID ?? '');
  if (!decode) return `compressed (${info.name}), no decoder here`;
  try {
    const frames = facts.numberOfFrames ?? 1;
    const fragments = el.fragments ?? [];
    // One frame: all fragments. Several: the offset table, or — when it is empty — one fragment per frame.
    const frame =
      frames === 1
        ? dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, fragments.length)
        : el.basicOffsetTable?.length || fragments.length !== frames
          ? dicomParser.readEncapsulatedImageFrame(ds, el, 0)
          : dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, 1);
    const decoded = decode(frame, { rows, columns, bitsAllocated });
    if (decoded.width !== columns || decoded.height !== rows || decoded.componentCount !== 1) {
      return `compressed (${info.name}): the codestream is ${decoded.width}×${decoded.height}×${decoded.componentCount}, the header says ${columns}×${rows}×1`;
    }
    return storedValues(decoded.bytes, n, facts);
  } catch (e) {
    return `compressed (${info.name}) and could not be decoded: ${errorText(e)}`;
  }
}

/**
 * What the duplicate-UID check compares: the decoded values of the first frame
 * when they were read (so one image stored raw and as JPEG-LS is the same
 * content), else the stored bytes, tagged with their transfer syntax.
 */
function contentHash(ds: DataSet, facts: ImageFacts, pixels: StoredPixels | undefined): string | undefined {
  const el = ds.elements.x7fe00010;
  if (!el) return undefined;
  const h = createHash('sha1');
  if (pixels) {
    h.update(`${facts.rows}x${facts.columns}x${facts.numberOfFrames ?? 1}:`);
    h.update(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength));
    return `px:${h.digest('hex')}`;
  }
  if (el.fragments?.length) {
    for (const f of el.fragments) h.update(ds.byteArray.subarray(f.position, f.position + f.length));
  } else {
    h.update(ds.byteArray.subarray(el.dataOffset, Math.min(ds.byteArray.length, el.dataOffset + el.length)));
  }
  return `ts:${facts.transferSyntaxUID ?? ''}:${h.digest('hex')}`;
}

/** Reads one file's bytes. Never throws: an unreadable file comes back as such, with the reason. */
export function readFileFacts(bytes: Uint8Array, source: string, decoders?: Decoders): FileReading {
  const options: { TransferSyntaxUID?: string; inflater?: ReturnType<typeof boundedInflater> } = { inflater: boundedInflater() };
  if (!isPart10(bytes)) {
    if (!looksLikeRawDataSet(bytes)) return { kind: 'unreadable', facts: { source, unreadable: { kind: 'not-dicom', reason: 'not a DICOM file' } } };
    options.TransferSyntaxUID = '1.2.840.10008.1.2';
  }
  let ds: DataSet;
  try {
    ds = dicomParser.parseDicom(bytes, options as Parameters<DicomParser['parseDicom']>[1]);
  } catch (e) {
    const partial = (e as { dataSet?: DataSet } | undefined)?.dataSet;
    const overrun = partial && Object.entries(partial.elements).find(([, el]) => el.length > 0 && el.dataOffset + el.length > bytes.length);
    if (overrun) {
      const [tag, el] = overrun;
      const name = tag === 'x7fe00010' ? 'Pixel Data' : `(${tag.slice(1, 5)},${tag.slice(5)})`;
      return {
        kind: 'unreadable',
        facts: { source, unreadable: { kind: 'truncated', reason: `${name} declares ${el.length} bytes, ${Math.max(0, bytes.length - el.dataOffset)} present` } },
      };
    }
    const reason = errorText(e);
    const kind = /overrun|past end|beyond|end of buffer|outside|buffer overread/i.test(reason) ? 'truncated' : 'malformed';
    return { kind: 'unreadable', facts: { source, unreadable: { kind, reason } } };
  }
  const problem = dataSetBoundsProblem(ds, ds.byteArray.length, undefined, ds.byteArray);
  if (problem) return { kind: 'unreadable', facts: { source, unreadable: { kind: problem.kind === 'overrun' ? 'truncated' : 'malformed', reason: problem.message } } };
  const transferSyntaxUID = ds.string('x00020010')?.trim() || options.TransferSyntaxUID;
  if (ds.string('x00020002')?.trim() === DICOMDIR_SOP_CLASS || ds.elements.x00041220) return { kind: 'dicomdir', dataSet: ds };
  const facts = factsFromDataSet(ds as unknown as DataSetLike, source, transferSyntaxUID);
  let pixels: StoredPixels | undefined;
  if (facts.pixelData) {
    const px = firstFrame(ds, facts, decoders);
    if (typeof px === 'string') facts.pixelStatsSkipped = px;
    else {
      pixels = px;
      facts.pixelStats = computePixelStats(px, facts.rows!, facts.columns!, { bitsStored: facts.bitsStored ?? facts.bitsAllocated ?? 16 });
    }
  }
  const hash = contentHash(ds, facts, pixels);
  if (hash) facts.contentHash = hash;
  return { kind: 'image', facts };
}
