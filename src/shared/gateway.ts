import { z } from 'zod';
import type { ErrorCode } from './ipc/envelope';

/**
 * The site gateway, as both sides see it. The renderer talks DICOMweb to
 * `/sites/<siteId>/dicom-web/...` on its own origin; main forwards to the
 * site's real base URL, adds credentials and a timeout, and refuses anything
 * that is not DICOMweb. Failures main produces itself carry a JSON body
 * `{code, message}` and the header below, so the renderer can tell "the site
 * rejected our password" from "the site answered 404".
 */
export const GATEWAY_PREFIX = '/sites/';
export const GATEWAY_ERROR_HEADER = 'x-telerad-error';

export interface GatewayErrorBody {
  code: ErrorCode | 'FORBIDDEN';
  message: string;
}

export function gatewayPathForSite(siteId: string): string {
  return `${GATEWAY_PREFIX}${encodeURIComponent(siteId)}/dicom-web`;
}

/**
 * QIDO-RS, WADO-RS and STOW-RS resources (PS3.18 §10.4–10.6, §8) live under
 * /studies, /series and /instances of the base URL. Nothing else may pass:
 * a site's admin API (Orthanc's /tools/execute-script, for one) must not be
 * reachable through the workstation.
 */
const DICOMWEB_RESOURCE = /^\/(studies|series|instances)(\/[0-9A-Za-z.\-/]*)?$/;

export function isDicomWebPath(pathAfterBase: string): boolean {
  if (pathAfterBase.includes('..') || pathAfterBase.includes('//')) return false;
  return DICOMWEB_RESOURCE.test(pathAfterBase);
}

export function isAllowedGatewayMethod(method: string, pathAfterBase: string): boolean {
  if (method === 'GET' || method === 'HEAD') return true;
  // STOW-RS: POST to /studies or /studies/{study}
  return method === 'POST' && /^\/studies(\/[0-9.]+)?$/.test(pathAfterBase);
}

/** Splits `/sites/<id>/dicom-web/<rest>` into its parts; undefined when it is not a gateway path. */
export function parseGatewayPath(pathname: string): { siteId: string; rest: string } | undefined {
  const m = /^\/sites\/([^/]+)\/dicom-web(\/.*)?$/.exec(pathname);
  if (!m || m[1] === undefined) return undefined;
  let siteId: string;
  try {
    siteId = decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
  return { siteId, rest: m[2] ?? '/' };
}

/**
 * Previews in one request: the gateway asks the site for each instance's
 * WADO-RS /rendered (with the site's credentials and limits, as any other
 * request) and streams the answers back as one multipart/related body, each
 * part named by Content-Location = its SOP Instance UID, its status in
 * PREVIEW_PART_STATUS_HEADER. Why: a preview is latency-bound (one round trip
 * for a few kB) and the browser host's page holds at most six HTTP/1.1
 * connections to its origin, so one preview per request caps a 300-slice
 * preview pass at ≈ 5 × RTT⁻¹ previews per second; main has no such cap.
 */
export const PREVIEW_BATCH_MAX_ITEMS = 32;
export const PREVIEW_PART_STATUS_HEADER = 'x-telerad-status';

const UidSchema = z.string().regex(/^[0-9]+(\.[0-9]+)*$/).max(64);

export const PreviewBatchRequestSchema = z
  .object({
    studyInstanceUID: UidSchema,
    items: z
      .array(z.object({ seriesInstanceUID: UidSchema, sopInstanceUID: UidSchema }).strict())
      .min(1)
      .max(PREVIEW_BATCH_MAX_ITEMS),
    viewport: z.object({ width: z.number().int().min(1).max(1024), height: z.number().int().min(1).max(1024) }).strict(),
    quality: z.number().int().min(1).max(100),
  })
  .strict();
export type PreviewBatchRequest = z.infer<typeof PreviewBatchRequestSchema>;

export function previewBatchPathForSite(siteId: string): string {
  return `${GATEWAY_PREFIX}${encodeURIComponent(siteId)}/previews`;
}

/** The site of `/sites/<id>/previews`; undefined for any other path. */
export function parsePreviewBatchPath(pathname: string): string | undefined {
  const m = /^\/sites\/([^/]+)\/previews$/.exec(pathname);
  if (!m?.[1]) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
}
