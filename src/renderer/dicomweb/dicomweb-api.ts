import type { SiteSummary } from '../../shared/ipc/contract';
import type { DicomJsonDataset } from '../../shared/dicom/dicomweb-json';
import { boundaryOf, parseMultipart } from './multipart';
import { HttpStatusError } from './site-error';

/** QIDO-RS query parameters; an array value repeats the key (`includefield=a&includefield=b`). */
export type QidoParams = Record<string, string | readonly string[]>;

/**
 * The three DICOMweb calls the workstation makes. The rest of the renderer
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
  /** WADO-RS of one instance as a Part 10 file, in whatever transfer syntax the site stores. */
  retrieveInstance(
    uids: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string },
    signal?: AbortSignal,
  ): Promise<ArrayBuffer>;
}

export type DicomWebApiFactory = (site: SiteSummary) => DicomWebApi;

function toQuery(params: QidoParams): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) for (const v of typeof value === 'string' ? [value] : value) q.append(key, v);
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** Accept header of a WADO-RS instance retrieve: the file as stored, no transcoding at the site. */
export const WADO_INSTANCE_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*';

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
        throw new HttpStatusError(0, err instanceof Error ? err.message : String(err));
      }
    };
    const qido = async (path: string, params: QidoParams): Promise<DicomJsonDataset[]> => {
      const res = await get(`${baseUrl}${path}${toQuery(params)}`, 'application/dicom+json');
      // No match is 204 No Content (PS3.18 §8.3.4.4), or an empty array.
      if (res.status === 204) return [];
      if (res.status !== 200) throw new HttpStatusError(res.status, `QIDO-RS ${res.status}`, res.headers, await res.arrayBuffer());
      const body: unknown = await res.json();
      if (!Array.isArray(body)) throw new Error('QIDO-RS answer is not a JSON array');
      return body as DicomJsonDataset[];
    };
    return {
      searchForStudies: (params) => qido('/studies', params),
      searchForInstances: (studyUid, params) => qido(`/studies/${encodeURIComponent(studyUid)}/instances`, params),
      async retrieveInstance(uids, signal) {
        const url = `${baseUrl}/studies/${encodeURIComponent(uids.studyInstanceUID)}/series/${encodeURIComponent(uids.seriesInstanceUID)}/instances/${encodeURIComponent(uids.sopInstanceUID)}`;
        const res = await get(url, WADO_INSTANCE_ACCEPT, signal);
        const body = await res.arrayBuffer();
        if (res.status !== 200) throw new HttpStatusError(res.status, `WADO-RS ${res.status}`, res.headers, body);
        const boundary = boundaryOf(res.headers.get('content-type'));
        // A server may answer a single instance as a bare application/dicom body.
        const part = boundary ? parseMultipart(body, boundary)[0]?.body : body;
        if (!part || part.byteLength === 0) throw new Error(`WADO-RS of ${uids.sopInstanceUID} returned no DICOM part`);
        return part;
      },
    };
  };
}
