import { GATEWAY_ERROR_HEADER, PREVIEW_PART_STATUS_HEADER } from '../../shared/gateway';
import type { PreviewBatchRequest } from '../../shared/gateway';
import { errorMessage } from '../../shared/error-message';
import { dicomParser } from '../lib/dicom/dicom-parser';
import type { RenderedBatchAnswer, RenderedOptions, RetrieveInstanceOptions } from './wado-types';
import { failedAnswer, instancePath, readBody } from './dicomweb-http';
import type { DicomWebHttp } from './dicomweb-http';
import { boundaryOf, parseMultipart } from './multipart';
import type { MultipartPart } from './multipart';
import { BadAnswerError, HttpStatusError } from './site-error';

/**
 * WADO-RS for the DICOMweb client: one instance as a Part 10 file, and
 * rendered previews one by one or in a batch through the gateway. Every
 * answer is checked before it is handed out (a whole JPEG, the boundary the
 * Content-Type names, the transfer syntax the part says), because a cut or
 * mislabelled answer would otherwise be cached and shown as a slice.
 */

export type InstanceUids = { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string };

/** Accept header of a WADO-RS instance retrieve in `transferSyntax` ('*': the file as stored, no transcoding at the site). */
export function wadoInstanceAccept(transferSyntax = '*'): string {
  return `multipart/related; type="application/dicom"; transfer-syntax=${transferSyntax}`;
}

/** The transfer-syntax parameter of a part's Content-Type, when the site states one. */
function declaredTransferSyntax(contentType: string | undefined): string | undefined {
  const m = contentType ? /;\s*transfer-syntax\s*=\s*"?([0-9.]+)"?/i.exec(contentType) : null;
  return m?.[1];
}

/** 0002,0010 of a Part 10 file; undefined when the bytes are not Part 10 at all. */
function fileMetaTransferSyntax(bytes: ArrayBuffer): string | undefined {
  try {
    return dicomParser.readPart10Header(new Uint8Array(bytes)).string('x00020010')?.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The largest preview accepted: a 256-pixel JPEG is a few kB; anything near this is not what was asked for. */
const MAX_PREVIEW_BYTES = 4 * 1024 * 1024;

/**
 * A JPEG received whole: SOI (FF D8) first, EOI (FF D9) last. A preview cut
 * short would otherwise decode to a half-grey image and be shown as a slice.
 */
function checkWholeJpeg(bytes: ArrayBuffer): void {
  const b = new Uint8Array(bytes);
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) throw new BadAnswerError('the rendered preview is not a JPEG');
  if (b.length > MAX_PREVIEW_BYTES) throw new BadAnswerError(`the rendered preview is ${b.length} bytes, far more than a preview`);
  if (b[b.length - 2] !== 0xff || b[b.length - 1] !== 0xd9) throw new BadAnswerError('the rendered preview is cut short (no end-of-image marker)', true);
}

/** The one DICOM part of a WADO-RS instance answer (multipart, or a bare application/dicom body), with its Content-Type. */
function dicomPartOf(body: ArrayBuffer, contentType: string | null): { part: ArrayBuffer | undefined; partType: string | undefined } {
  const boundary = boundaryOf(contentType);
  if (!boundary) {
    // A server may answer a single instance as a bare application/dicom body; anything else is not a file.
    if (contentType && !/^\s*application\/(dicom|octet-stream)/i.test(contentType)) {
      throw new BadAnswerError(`the answer is ${contentType.split(';')[0]}, not DICOM`);
    }
    return { part: body, partType: contentType ?? undefined };
  }
  let parts: MultipartPart[];
  try {
    parts = parseMultipart(body, boundary);
  } catch (err) {
    const reason = errorMessage(err);
    if (/no opening boundary/.test(reason)) {
      throw new BadAnswerError(`the multipart body does not contain the boundary its Content-Type names ("${boundary}")`);
    }
    throw new BadAnswerError(reason, /truncated/.test(reason));
  }
  return { part: parts[0]?.body, partType: parts[0]?.headers.get('content-type') };
}

/**
 * WADO-RS of one instance as a Part 10 file, in the transfer syntax asked
 * for ('*': as stored). Throws BadAnswerError when the part's declared
 * transfer syntax is not the one in its file meta.
 */
export async function retrieveInstance(http: DicomWebHttp, baseUrl: string, uids: InstanceUids, signal?: AbortSignal, options: RetrieveInstanceOptions = {}): Promise<ArrayBuffer> {
  const res = await http.get(`${baseUrl}${instancePath(uids)}`, wadoInstanceAccept(options.transferSyntax), signal);
  if (res.status !== 200) throw await failedAnswer(res, `WADO-RS ${res.status}`);
  const body = await readBody(res, signal, options.onBytes);
  const { part, partType } = dicomPartOf(body, res.headers.get('content-type'));
  if (!part || part.byteLength === 0) throw new BadAnswerError(`no DICOM part in the answer for ${uids.sopInstanceUID}`);
  const declared = declaredTransferSyntax(partType);
  if (declared) {
    const inFile = fileMetaTransferSyntax(part);
    if (inFile && inFile !== declared) {
      throw new BadAnswerError(`the part says transfer syntax ${declared} but the file is ${inFile}`);
    }
  }
  return part;
}

/** WADO-RS /rendered of one instance as a whole JPEG, windowed by the site. */
export async function retrieveRendered(http: DicomWebHttp, baseUrl: string, uids: InstanceUids, options: RenderedOptions, signal?: AbortSignal): Promise<ArrayBuffer> {
  const { width, height } = options.viewport;
  const url = `${baseUrl}${instancePath(uids)}/rendered?viewport=${width},${height}&quality=${options.quality}`;
  const res = await http.get(url, 'image/jpeg', signal);
  if (res.status !== 200) throw await failedAnswer(res, `WADO-RS rendered ${res.status}`);
  const body = await readBody(res, signal, options.onBytes);
  checkWholeJpeg(body);
  return body;
}

/** One part of a preview batch answer: its JPEG (checked whole) or the status the site or the gateway gave. */
function batchAnswerOf(p: MultipartPart): RenderedBatchAnswer[] {
  const sop = p.headers.get('content-location');
  if (!sop) return [];
  const status = Number(p.headers.get(PREVIEW_PART_STATUS_HEADER) ?? NaN);
  if (status !== 200) {
    const code = p.headers.get(GATEWAY_ERROR_HEADER);
    const headers = new Headers(code ? { [GATEWAY_ERROR_HEADER]: code } : {});
    return [{ sopInstanceUID: sop, ok: false, error: new HttpStatusError(Number.isFinite(status) ? status : 0, `WADO-RS rendered ${status}`, headers) }];
  }
  try {
    checkWholeJpeg(p.body);
    return [{ sopInstanceUID: sop, ok: true, bytes: p.body }];
  } catch (err) {
    return [{ sopInstanceUID: sop, ok: false, error: err as BadAnswerError }];
  }
}

/** Several previews of one study in one POST to the gateway's batch URL (shared/gateway.ts), one answer per item. */
export async function retrieveRenderedBatch(
  http: DicomWebHttp,
  batchUrl: string,
  studyUid: string,
  items: ReadonlyArray<{ seriesInstanceUID: string; sopInstanceUID: string }>,
  options: RenderedOptions,
  signal?: AbortSignal,
): Promise<RenderedBatchAnswer[]> {
  const body: PreviewBatchRequest = { studyInstanceUID: studyUid, items: items.map((i) => ({ seriesInstanceUID: i.seriesInstanceUID, sopInstanceUID: i.sopInstanceUID })), viewport: options.viewport, quality: options.quality };
  const res = await http.send(
    batchUrl,
    { method: 'POST', headers: { 'content-type': 'application/json', accept: 'multipart/related; type="image/jpeg"' }, body: JSON.stringify(body) },
    signal,
  );
  if (res.status !== 200) throw await failedAnswer(res, `preview batch ${res.status}`);
  const raw = await readBody(res, signal, options.onBytes);
  const boundary = boundaryOf(res.headers.get('content-type'));
  if (!boundary) throw new BadAnswerError('the preview batch answer is not multipart');
  let parts: MultipartPart[];
  try {
    parts = parseMultipart(raw, boundary);
  } catch (err) {
    throw new BadAnswerError(errorMessage(err), true);
  }
  return parts.flatMap(batchAnswerOf);
}
