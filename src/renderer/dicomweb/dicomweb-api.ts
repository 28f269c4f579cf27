import type { SiteSummary } from '../../shared/ipc/contract';
import type { DicomJsonDataset } from '../../shared/dicom/dicomweb-json';
import { previewBatchPathForSite } from '../../shared/gateway';
import { createDicomWebHttp, failedAnswer, readBody, toQuery } from './dicomweb-http';
import type { DicomWebHttp, QidoParams } from './dicomweb-http';
import { findStoredInstances, storeInstances } from './stow-store';
import type { StowInstance, StowOutcome } from './stow-answer';
import { retrieveInstance, retrieveRendered, retrieveRenderedBatch, wadoInstanceAccept } from './wado-retrieve';

export type { QidoParams } from './dicomweb-http';
export { wadoInstanceAccept } from './wado-retrieve';
import type { RenderedBatchAnswer, RenderedOptions, RetrieveInstanceOptions } from './wado-types';
export type { RenderedBatchAnswer, RenderedOptions, RetrieveInstanceOptions } from './wado-types';

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

/** JPEG-LS lossless (PS3.5 A.4.3): about 0.4× the bytes of a CT slice, decoded in the browser by the image loader. */
export const TS_JPEG_LS_LOSSLESS = '1.2.840.10008.1.2.4.80';

export type DicomWebApiFactory = (site: SiteSummary) => DicomWebApi;

export const WADO_INSTANCE_ACCEPT = wadoInstanceAccept('*');

/**
 * The store side of a site's client (STOW-RS, PS3.18 §10.5). Both calls
 * reject with StowError (stow-answer.ts), which says whether the request may
 * have reached the site: the outbox asks before sending again.
 */
export interface DicomWebStore {
  /** Stores the instances with one STOW-RS request; rejects with StowError when there is no per-instance answer. */
  storeInstances(instances: readonly StowInstance[], signal: AbortSignal): Promise<StowOutcome>;
  /**
   * Which of `sopInstanceUIDs` the site holds in the study (QIDO-RS with a
   * literal comma-separated UID list, `perQuery` UIDs a request, default 40).
   * Rejects with StowError when it cannot tell.
   */
  findStoredInstances(studyInstanceUID: string, sopInstanceUIDs: readonly string[], signal: AbortSignal, perQuery?: number): Promise<Set<string>>;
}

/**
 * One site's DICOMweb client, after OHIF's DicomWebDataSource: search
 * (QIDO-RS), retrieve (WADO-RS, rendered previews too) and store (STOW-RS) on
 * one object, over one fetch. Search and retrieve reject with
 * HttpStatusError / BadAnswerError (read by classifySiteError), store with
 * StowError (worded by stowErrorFor, since a sender must know whether the
 * request may have arrived); both decide what an answer means with the one
 * classifier, shared/gateway-answer.ts.
 */
export interface DicomWebClient extends DicomWebApi, DicomWebStore {}

export type DicomWebClientFactory = (site: SiteSummary) => DicomWebClient;

export interface DicomWebClientOptions {
  /** The site's DICOMweb base URL as the page reaches it: `origin + /sites/<id>/dicom-web`. */
  baseUrl: string;
  /** The gateway's preview batch URL for the site (shared/gateway.ts); without it there is no retrieveRenderedBatch. */
  previewBatchUrl?: string;
  fetchImpl: typeof fetch;
}

async function qido(http: DicomWebHttp, url: string): Promise<DicomJsonDataset[]> {
  const res = await http.get(url, 'application/dicom+json');
  // No match is 204 No Content (PS3.18 §8.3.4.4), or an empty array.
  if (res.status === 204) return [];
  if (res.status !== 200) throw await failedAnswer(res, `QIDO-RS ${res.status}`);
  const text = new TextDecoder().decode(await readBody(res, undefined));
  // JSON.parse's SyntaxError is what callers read as "not valid JSON".
  const body: unknown = JSON.parse(text);
  if (!Array.isArray(body)) throw new Error('QIDO-RS answer is not a JSON array');
  return body as DicomJsonDataset[];
}

/** One site's client over `fetchImpl`. */
export function createDicomWebClient(options: DicomWebClientOptions): DicomWebClient {
  const { baseUrl, previewBatchUrl } = options;
  const http = createDicomWebHttp(options.fetchImpl);
  return {
    searchForStudies: (params) => qido(http, `${baseUrl}/studies${toQuery(params)}`),
    searchForInstances: (studyUid, params) => qido(http, `${baseUrl}/studies/${encodeURIComponent(studyUid)}/instances${toQuery(params)}`),
    retrieveInstance: (uids, signal, opts) => retrieveInstance(http, baseUrl, uids, signal, opts),
    retrieveRendered: (uids, opts, signal) => retrieveRendered(http, baseUrl, uids, opts, signal),
    ...(previewBatchUrl !== undefined
      ? { retrieveRenderedBatch: (studyUid, items, opts, signal) => retrieveRenderedBatch(http, previewBatchUrl, studyUid, items, opts, signal) }
      : {}),
    storeInstances: (instances, signal) => storeInstances(http, baseUrl, instances, signal),
    findStoredInstances: (studyUid, uids, signal, perQuery) => findStoredInstances(http, baseUrl, studyUid, uids, signal, perQuery),
  } satisfies DicomWebClient;
}

/**
 * Clients for sites, all through the gateway on the app's own origin:
 * `origin + site.gatewayPath`. The gateway adds credentials; the renderer's
 * requests carry only the app's own cookie (same origin, so fetch sends it).
 */
export function createDicomWebApiFactory(origin: string, fetchImpl: typeof fetch): DicomWebClientFactory {
  return (site) => createDicomWebClient({ baseUrl: origin + site.gatewayPath, previewBatchUrl: `${origin}${previewBatchPathForSite(site.id)}`, fetchImpl });
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
