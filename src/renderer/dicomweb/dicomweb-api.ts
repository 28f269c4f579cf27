import type { SiteSummary } from '../../shared/ipc/contract';
import type { DicomJsonDataset } from '../../shared/dicom/dicomweb-json';
import { GATEWAY_ERROR_HEADER, PREVIEW_PART_STATUS_HEADER, previewBatchPathForSite } from '../../shared/gateway';
import type { PreviewBatchRequest } from '../../shared/gateway';
import { dicomParser } from '../lib/dicom/dicom-parser';
import { boundaryOf, parseMultipart } from './multipart';
import type { MultipartPart } from './multipart';
import { BadAnswerError, HttpStatusError, TransferInterruptedError } from './site-error';
import { errorMessage } from '../../shared/error-message';

/** QIDO-RS query parameters; an array value repeats the key (`includefield=a&includefield=b`). */
export type QidoParams = Record<string, string | readonly string[]>;

/**
 * The DICOMweb calls the workstation makes. The rest of the renderer
 * talks to this interface, and tests hand in a fake.
 *
 * Implemented with fetch, not dicomweb-client 0.11.3, for two interop faults
 * found against Orthanc 1.10 + DICOMweb plugin 1.7 (the reference server):
 *  - QIDO: dicomweb-client percent-encodes every query value, so an
 *    includefield list goes out as `00080061%2C00081030`, and Orthanc does
 *    not split that (StudyDescription silently missing from the worklist).
 *    Repeated `includefield=` keys are what every server understands.
 *  - WADO-RS: see multipart.ts (`transfer-syntax=*` cannot be requested).
 * Failures become HttpStatusError, which classifySiteError reads.
 */
export interface DicomWebApi {
  searchForStudies(queryParams: QidoParams): Promise<DicomJsonDataset[]>;
  searchForInstances(studyInstanceUID: string, queryParams: QidoParams): Promise<DicomJsonDataset[]>;
  /**
   * WADO-RS of one instance as a Part 10 file: in the transfer syntax the site
   * stores unless `options.transferSyntax` asks for another. The caller checks
   * the file meta (0002,0010) for what really came back.
   */
  retrieveInstance(
    uids: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string },
    signal?: AbortSignal,
    options?: RetrieveInstanceOptions,
  ): Promise<ArrayBuffer>;
  /**
   * WADO-RS /rendered of one instance as a JPEG, windowed by the site. Throws
   * HttpStatusError on any status but 200 and BadAnswerError when the body is
   * not a whole JPEG (no SOI marker, or cut before its EOI marker).
   */
  retrieveRendered(
    uids: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string },
    options: RenderedOptions,
    signal?: AbortSignal,
  ): Promise<ArrayBuffer>;
  /**
   * Several previews of one study in one request to the app's gateway, which
   * asks the site for each (shared/gateway.ts). One answer per item, in the
   * order they came: the JPEG (checked whole), or the status the site or the
   * gateway gave. Throws HttpStatusError when the gateway refuses the batch
   * as such (404: a host without batches — ask one by one then).
   */
  retrieveRenderedBatch?(
    studyInstanceUID: string,
    items: ReadonlyArray<{ seriesInstanceUID: string; sopInstanceUID: string }>,
    options: RenderedOptions,
    signal?: AbortSignal,
  ): Promise<RenderedBatchAnswer[]>;
}

/** One item of a preview batch: its JPEG, or why there is none. */
export type RenderedBatchAnswer =
  | { sopInstanceUID: string; ok: true; bytes: ArrayBuffer }
  | { sopInstanceUID: string; ok: false; error: HttpStatusError | BadAnswerError };

/** A rendered preview (WADO-RS Retrieve Rendered, PS3.18 §9.5): `viewport` raster size and JPEG quality. */
export interface RenderedOptions {
  viewport: { width: number; height: number };
  quality: number;
  onBytes?: (n: number) => void;
}

export interface RetrieveInstanceOptions {
  /** Transfer syntax UID to ask the site for; '*' (the default) is the file as stored. */
  transferSyntax?: string;
  /** Told of each chunk of the body as it arrives (bytes after HTTP decoding), for bandwidth and ETA. */
  onBytes?: (n: number) => void;
}

/** JPEG-LS lossless (PS3.5 A.4.3): about 0.4× the bytes of a CT slice, decoded in the browser by the image loader. */
export const TS_JPEG_LS_LOSSLESS = '1.2.840.10008.1.2.4.80';

export type DicomWebApiFactory = (site: SiteSummary) => DicomWebApi;

function toQuery(params: QidoParams): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) for (const v of typeof value === 'string' ? [value] : value) q.append(key, v);
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** Accept header of a WADO-RS instance retrieve in `transferSyntax` ('*': the file as stored, no transcoding at the site). */
export function wadoInstanceAccept(transferSyntax = '*'): string {
  return `multipart/related; type="application/dicom"; transfer-syntax=${transferSyntax}`;
}

export const WADO_INSTANCE_ACCEPT = wadoInstanceAccept('*');

/** Reads a body to the end, telling `onBytes` of each chunk; a broken connection becomes TransferInterruptedError. */
async function readBody(res: Response, signal: AbortSignal | undefined, onBytes?: (n: number) => void): Promise<ArrayBuffer> {
  if (!res.body) return new ArrayBuffer(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.byteLength;
      onBytes?.(value.byteLength);
    }
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new TransferInterruptedError(`connection dropped after ${total} bytes (${errorMessage(err)})`);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  // Only a body we received undecoded can be checked against its length.
  if (Number.isFinite(declared) && !res.headers.has('content-encoding') && declared !== total) {
    throw new BadAnswerError(`the body stopped at ${total} of the ${declared} bytes it announced`, true);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out.buffer;
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

/**
 * Clients for sites, all through the gateway on the app's own origin:
 * `origin + site.gatewayPath`. The gateway adds credentials; the renderer's
 * requests carry only the app's own cookie (same origin, so fetch sends it).
 */
export function createDicomWebApiFactory(origin: string, fetchImpl: typeof fetch): DicomWebApiFactory {
  return (site) => {
    const baseUrl = origin + site.gatewayPath;
    const get = async (url: string, accept: string, signal?: AbortSignal): Promise<Response> => {
      try {
        return await fetchImpl(url, { headers: { accept }, credentials: 'same-origin', ...(signal ? { signal } : {}) });
      } catch (err) {
        if (signal?.aborted) throw err;
        // No HTTP answer at all: the app host itself is gone (the gateway answers for the sites).
        throw new HttpStatusError(0, errorMessage(err));
      }
    };
    const qido = async (path: string, params: QidoParams): Promise<DicomJsonDataset[]> => {
      const res = await get(`${baseUrl}${path}${toQuery(params)}`, 'application/dicom+json');
      // No match is 204 No Content (PS3.18 §8.3.4.4), or an empty array.
      if (res.status === 204) return [];
      if (res.status !== 200) throw new HttpStatusError(res.status, `QIDO-RS ${res.status}`, res.headers, await res.arrayBuffer().catch(() => undefined));
      const text = new TextDecoder().decode(await readBody(res, undefined));
      // JSON.parse's SyntaxError is what callers read as "not valid JSON".
      const body: unknown = JSON.parse(text);
      if (!Array.isArray(body)) throw new Error('QIDO-RS answer is not a JSON array');
      return body as DicomJsonDataset[];
    };
    return {
      searchForStudies: (params) => qido('/studies', params),
      searchForInstances: (studyUid, params) => qido(`/studies/${encodeURIComponent(studyUid)}/instances`, params),
      async retrieveRendered(uids, options, signal) {
        const { width, height } = options.viewport;
        const url = `${baseUrl}/studies/${encodeURIComponent(uids.studyInstanceUID)}/series/${encodeURIComponent(uids.seriesInstanceUID)}/instances/${encodeURIComponent(uids.sopInstanceUID)}/rendered?viewport=${width},${height}&quality=${options.quality}`;
        const res = await get(url, 'image/jpeg', signal);
        if (res.status !== 200) {
          const errBody = await res.arrayBuffer().catch(() => undefined);
          throw new HttpStatusError(res.status, `WADO-RS rendered ${res.status}`, res.headers, errBody);
        }
        const body = await readBody(res, signal, options.onBytes);
        checkWholeJpeg(body);
        return body;
      },
      async retrieveRenderedBatch(studyUid, items, options, signal) {
        const url = `${origin}${previewBatchPathForSite(site.id)}`;
        const body: PreviewBatchRequest = { studyInstanceUID: studyUid, items: items.map((i) => ({ seriesInstanceUID: i.seriesInstanceUID, sopInstanceUID: i.sopInstanceUID })), viewport: options.viewport, quality: options.quality };
        let res: Response;
        try {
          res = await fetchImpl(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'multipart/related; type="image/jpeg"' },
            body: JSON.stringify(body),
            credentials: 'same-origin',
            ...(signal ? { signal } : {}),
          });
        } catch (err) {
          if (signal?.aborted) throw err;
          throw new HttpStatusError(0, errorMessage(err));
        }
        if (res.status !== 200) throw new HttpStatusError(res.status, `preview batch ${res.status}`, res.headers, await res.arrayBuffer().catch(() => undefined));
        const raw = await readBody(res, signal, options.onBytes);
        const boundary = boundaryOf(res.headers.get('content-type'));
        if (!boundary) throw new BadAnswerError('the preview batch answer is not multipart');
        let parts: MultipartPart[];
        try {
          parts = parseMultipart(raw, boundary);
        } catch (err) {
          throw new BadAnswerError(errorMessage(err), true);
        }
        return parts.flatMap((p): RenderedBatchAnswer[] => {
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
        });
      },
      async retrieveInstance(uids, signal, options = {}) {
        const url = `${baseUrl}/studies/${encodeURIComponent(uids.studyInstanceUID)}/series/${encodeURIComponent(uids.seriesInstanceUID)}/instances/${encodeURIComponent(uids.sopInstanceUID)}`;
        const res = await get(url, wadoInstanceAccept(options.transferSyntax), signal);
        if (res.status !== 200) {
          const errBody = await res.arrayBuffer().catch(() => undefined);
          throw new HttpStatusError(res.status, `WADO-RS ${res.status}`, res.headers, errBody);
        }
        const body = await readBody(res, signal, options.onBytes);
        const contentType = res.headers.get('content-type');
        const boundary = boundaryOf(contentType);
        let part: ArrayBuffer | undefined = body;
        let partType: string | undefined = contentType ?? undefined;
        if (boundary) {
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
          part = parts[0]?.body;
          partType = parts[0]?.headers.get('content-type');
        } else if (contentType && !/^\s*application\/(dicom|octet-stream)/i.test(contentType)) {
          // A server may answer a single instance as a bare application/dicom body; anything else is not a file.
          throw new BadAnswerError(`the answer is ${contentType.split(';')[0]}, not DICOM`);
        }
        if (!part || part.byteLength === 0) throw new BadAnswerError(`no DICOM part in the answer for ${uids.sopInstanceUID}`);
        const declared = declaredTransferSyntax(partType);
        if (declared) {
          const inFile = fileMetaTransferSyntax(part);
          if (inFile && inFile !== declared) {
            throw new BadAnswerError(`the part says transfer syntax ${declared} but the file is ${inFile}`);
          }
        }
        return part;
      },
    };
  };
}

/**
 * The same clients, except that an instance query of a study waits for
 * `listed(study)` first — the viewer's first slice of it (its instance list
 * and that slice's file) — so the side panels' queries do not compete with
 * what the reader waits for at a busy site.
 */
export function instanceListsAfterTheFirstSlice(factory: DicomWebApiFactory, listed: (studyInstanceUID: string) => Promise<void>): DicomWebApiFactory {
  return (site) => {
    const api = factory(site);
    return {
      ...api,
      searchForInstances: async (studyUid, params) => {
        // A panel mounted in the same render as the viewer asks before the viewer has said it is opening.
        await new Promise((r) => setTimeout(r, 0));
        await listed(studyUid);
        return api.searchForInstances(studyUid, params);
      },
    };
  };
}
