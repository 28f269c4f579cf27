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
