import { GATEWAY_ERROR_HEADER } from '../../shared/gateway';
import { errorMessage } from '../../shared/error-message';
import { noAnswerReason } from './dicomweb-http';
import type { DicomWebHttp } from './dicomweb-http';
import { HttpStatusError } from './site-error';
import { StowError, buildStowBody, excerpt, parseStowResponse, randomBoundary, stowErrorFor } from './stow-answer';
import type { StowInstance, StowOutcome } from './stow-answer';

/**
 * The store side of the DICOMweb client: STOW-RS of instances, and the
 * QIDO-RS check of which of them a site already holds (asked after an unknown
 * outcome, before sending again). Both reject with StowError only, worded by
 * stowErrorFor from the shared classification of the gateway's answers.
 */

/** Sends one request; no HTTP answer becomes StowError('no-answer'), `posted` saying whether it may have arrived. */
async function sendForStore(http: DicomWebHttp, url: string, init: RequestInit, what: string, posted: boolean, signal: AbortSignal): Promise<Response> {
  try {
    return await http.send(url, init, signal);
  } catch (err) {
    if (err instanceof HttpStatusError && err.status === 0) throw stowErrorFor(0, undefined, what, posted, noAnswerReason(err));
    throw err;
  }
}

async function readText(res: Response): Promise<string> {
  try {
    return await res.text();
  } catch (err) {
    throw new StowError('no-answer', `the connection dropped while the answer was arriving (${errorMessage(err)})`, true, res.status);
  }
}

const codeOf = (res: Response): string | undefined => res.headers.get(GATEWAY_ERROR_HEADER) ?? undefined;

/** Stores the instances with one STOW-RS request to `<baseUrl>/studies`; rejects with StowError when there is no per-instance answer. */
export async function storeInstances(http: DicomWebHttp, baseUrl: string, instances: readonly StowInstance[], signal: AbortSignal): Promise<StowOutcome> {
  const { body, contentType } = buildStowBody(instances, randomBoundary());
  const init: RequestInit = { method: 'POST', headers: { 'content-type': contentType, accept: 'application/dicom+json' }, body };
  const res = await sendForStore(http, `${baseUrl}/studies`, init, 'STOW-RS', true, signal);
  const text = await readText(res);
  // 200 all stored, 202 some refused, 409 none stored: each with the per-instance answer (PS3.18 §10.5.3).
  if (res.status === 200 || res.status === 202 || res.status === 409) {
    return parseStowResponse(
      res.status,
      text,
      instances.map((i) => i.sopInstanceUID),
    );
  }
  throw stowErrorFor(res.status, codeOf(res), 'STOW-RS', true, excerpt(text));
}

/** The SOP Instance UIDs in a QIDO-RS answer that are among `wanted`. */
function uidsListed(res: Response, text: string, wanted: readonly string[]): string[] {
  let rows: unknown;
  try {
    rows = text.trim() === '' ? [] : JSON.parse(text);
  } catch {
    throw new StowError('malformed', 'the site answered the check for stored instances with a body that is not JSON', false, res.status);
  }
  if (!Array.isArray(rows)) throw new StowError('malformed', 'the site answered the check for stored instances with something other than a list', false, res.status);
  return rows
    .map((row: unknown) => (typeof row === 'object' && row !== null ? (row as Record<string, { Value?: unknown[] } | undefined>)['00080018']?.Value?.[0] : undefined))
    .filter((uid): uid is string => typeof uid === 'string' && wanted.includes(uid));
}

/**
 * Which of `sopInstanceUIDs` the site holds in the study, asked `perQuery`
 * UIDs at a time (a comma-separated UID list keeps the URL short enough for
 * any server). Rejects with StowError when it cannot tell.
 */
export async function findStoredInstances(
  http: DicomWebHttp,
  baseUrl: string,
  studyInstanceUID: string,
  sopInstanceUIDs: readonly string[],
  signal: AbortSignal,
  perQuery = 40,
): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < sopInstanceUIDs.length; i += perQuery) {
    const chunk = sopInstanceUIDs.slice(i, i + perQuery);
    // A UID list (PS3.18 §8.3.4.1) with literal commas: Orthanc's DICOMweb plugin splits those,
    // while repeated keys keep only one value and a percent-encoded comma is not split.
    const url = `${baseUrl}/studies/${encodeURIComponent(studyInstanceUID)}/instances?SOPInstanceUID=${chunk.join(',')}&includefield=00080018`;
    const res = await sendForStore(http, url, { headers: { accept: 'application/dicom+json' } }, 'QIDO-RS', false, signal);
    const text = await readText(res);
    // 204 (or 404 for a study the site does not know yet): none of them is there.
    if (res.status === 204 || (res.status === 404 && !codeOf(res))) continue;
    if (res.status !== 200) throw stowErrorFor(res.status, codeOf(res), 'QIDO-RS', false, excerpt(text));
    for (const uid of uidsListed(res, text, chunk)) found.add(uid);
  }
  return found;
}
