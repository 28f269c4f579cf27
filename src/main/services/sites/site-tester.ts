import { performance } from 'node:perf_hooks';
import type { CapabilityAnswer, SiteCapabilities, SiteTestFailureKind, SiteTestResult, SiteTimeouts } from '../../../shared/ipc/contract';
import type { Logger } from '../../../shared/log';
import { describeNetworkError, isConnectTimeout, isTlsFailure, tlsFailureReason } from './network-errors';
import { isUnencryptedRemoteUrl, plainHttpRefusal } from '../../../shared/sites/plain-http';
import { errorMessage } from '../../../shared/error-message';
import { classifyGatewayAnswer } from '../../../shared/gateway-answer';

export const JPEG_LS_LOSSLESS = '1.2.840.10008.1.2.4.80';
const LATENCY_SAMPLES = 3;
/** Enough of a WADO-RS answer for the part headers and the Part 10 file meta; the rest is not read. */
const PROBE_READ_LIMIT = 64 * 1024;
/** Studies looked at while searching for an image to probe retrieval with. */
const STUDIES_TO_SEARCH = 3;

/** Preview size and quality asked of `/rendered`: the smallest answer that still proves the site renders. */
const RENDERED_PROBE_QUERY = 'viewport=64,64&quality=50';
/** Answers that mean "no rendering here": bad request, no such resource, media type refused, not implemented. */
const RENDERED_UNSUPPORTED = new Set([400, 404, 406, 415, 501]);

/** SOP classes that are not images: a site cannot transcode them to JPEG-LS, so they prove nothing. */
const NON_IMAGE_SOP_CLASS = /^1\.2\.840\.10008\.5\.1\.4\.1\.1\.(88\.|104\.|11\.|66|9\.|481\.)/;

export interface SiteTestTarget {
  id: string;
  name: string;
  url: string;
  /** The user's consent to plain http:// to a non-loopback host; without it nothing (no credential) is sent. */
  allowInsecureHttp?: boolean | undefined;
}

export interface SiteTestDeps {
  /** The site's own transport (its keep-alive Agent, pinned to its custom CA if it has one). */
  fetchImpl: typeof fetch;
  authHeaders: Record<string, string>;
  timeouts: SiteTimeouts;
  log: Logger;
  now?: () => Date;
}

class ProbeFailure extends Error {
  constructor(
    readonly kind: SiteTestFailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'ProbeFailure';
  }
}

interface ProbeResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
  ms: number;
}

/**
 * "Test connection": what a radiologist's worklist and retrieval need to know
 * about a site, found out with read-only requests (and one STOW-RS POST that
 * carries no instance, so nothing can be stored):
 *
 * - latency: median round trip of three one-study QIDO-RS searches;
 * - QIDO-RS: the search answers 200/204 with JSON;
 * - WADO-RS: one instance's metadata (or the instance) can be retrieved;
 *   unknown when the site holds nothing;
 * - JPEG-LS lossless: the same instance asked for with transfer-syntax
 *   1.2.840.10008.1.2.4.80 comes back in it (part Content-Type or the file
 *   meta's (0002,0010));
 * - previews: the same image's WADO-RS `/rendered` at 64×64 asked for as
 *   `image/jpeg` comes back as a JPEG (starts with the SOI marker FF D8);
 *   400/404/406/415/501 mean the site does not render, and studies open
 *   lossless only;
 * - STOW-RS: a POST of an empty multipart/related to /studies. Orthanc 1.10
 *   answers 200 with empty sequences and stores nothing; 404/405/501 mean no
 *   STOW, anything else is reported as unknown rather than guessed.
 *
 * A site that cannot be queried at all ends the test at once with the reason:
 * authentication failed, unreachable, timed out, or a TLS certificate problem.
 * So does a URL at an Orthanc server's root (its REST API) instead of its
 * DICOMweb root: `GET <url>/system` answers with Orthanc's own description.
 */
export async function testSiteConnection(site: SiteTestTarget, deps: SiteTestDeps): Promise<SiteTestResult> {
  const now = deps.now ?? ((): Date => new Date());
  const capabilities: SiteCapabilities = {
    qido: 'unknown',
    wado: 'unknown',
    stow: 'unknown',
    jpegLsLossless: 'unknown',
    rendered: 'unknown',
    latencyMs: null,
    testedAt: now().toISOString(),
  };
  const notes: SiteTestResult['notes'] = {};
  if (isUnencryptedRemoteUrl(site.url) && site.allowInsecureHttp !== true) {
    return { siteId: site.id, ok: false, failure: { kind: 'http', message: plainHttpRefusal(site.url) }, capabilities, notes };
  }
  const probe = createProber(site, deps);

  // 0. Not Orthanc's REST root, 1. QIDO-RS, three times: the first answer decides reachability, the median is the latency.
  let studies: unknown;
  let samples: number[];
  try {
    await refuseOrthancRoot(probe, site.url);
    ({ studies, samples } = await searchStudies(probe, capabilities, notes));
  } catch (err) {
    const failure = asFailure(err);
    deps.log.info(`Test of ${site.id}: ${failure.kind}: ${failure.message}`);
    return { siteId: site.id, ok: false, failure: { kind: failure.kind, message: failure.message }, capabilities, notes };
  }
  capabilities.qido = 'yes';
  capabilities.latencyMs = Math.round(median(samples) * 10) / 10;

  // 2. An instance to retrieve: an image if the site has one, any instance otherwise.
  let target: InstanceRef | undefined;
  try {
    target = await findInstance(probe, studies);
  } catch (err) {
    notes.wado = `could not list instances: ${asFailure(err).message}`;
  }

  // 3. WADO-RS, 4. JPEG-LS lossless and 5. previews (/rendered).
  await checkRetrieval(probe, target, capabilities, notes);

  // 6. STOW-RS with nothing in it.
  const stow = await answer(() => checkStow(probe, notes));
  capabilities.stow = stow.value;
  if (stow.note) notes.stow = stow.note;

  deps.log.info(
    `Test of ${site.id}: latency ${capabilities.latencyMs} ms, QIDO ${capabilities.qido}, WADO ${capabilities.wado}, STOW ${capabilities.stow}, JPEG-LS ${capabilities.jpegLsLossless}, previews ${capabilities.rendered}`,
  );
  return { siteId: site.id, ok: true, capabilities, notes };
}

/** Keys of the JSON object Orthanc's REST API answers at `/system` (any two of them are taken as Orthanc). */
const ORTHANC_SYSTEM_KEYS = ['ApiVersion', 'DicomAet', 'Version', 'DatabaseVersion', 'DicomPort'];

/**
 * Step 0: a URL at an Orthanc server's root is its REST API, not its DICOMweb
 * root. Through the gateway, every REST resource under it (`/instances/<id>/file`,
 * `/studies/<id>/archive` …) would be reachable with the site's credentials,
 * and Orthanc's REST `/studies` can even pass for a study search. Orthanc
 * answers `GET /system` with a JSON object describing itself; a DICOMweb root
 * (Orthanc's own `/dicom-web` included) has no such resource. Any other answer,
 * refused credentials included, is left to the study search to judge; a
 * network failure ends the test here, as the study search would.
 */
async function refuseOrthancRoot(probe: Prober, url: string): Promise<void> {
  const res = await probe('GET', '/system', { accept: 'application/json' }, PROBE_READ_LIMIT);
  if (res.status !== 200) return;
  const json = parseJson(res.body);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return;
  const found = ORTHANC_SYSTEM_KEYS.filter((key) => key in json);
  if (found.length < 2) return;
  throw new ProbeFailure('http', `this is the Orthanc server's root, not its DICOMweb root: use ${url}/dicom-web`);
}

/**
 * Step 1: three one-study searches. The first answer decides whether the
 * site can be used at all (throws ProbeFailure: refused credentials, not a
 * DICOMweb base); the round trips give the latency.
 */
async function searchStudies(probe: Prober, capabilities: SiteCapabilities, notes: SiteTestResult['notes']): Promise<{ studies: unknown; samples: number[] }> {
  const samples: number[] = [];
  let studies: unknown;
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const res = await probe('GET', '/studies?limit=1', { accept: 'application/dicom+json' });
    // The same reading of a status as the workstation's DICOMweb client (shared/gateway-answer.ts).
    if (classifyGatewayAnswer(res.status).family === 'credentials') throw new ProbeFailure('auth', `authentication failed (the site answered HTTP ${res.status})`);
    if (res.status !== 200 && res.status !== 204) {
      capabilities.qido = 'no';
      notes.qido = `a study search answered HTTP ${res.status}; is the URL the site's DICOMweb base?`;
      throw new ProbeFailure('http', `the site answered HTTP ${res.status} to a study search`);
    }
    const json = res.status === 204 ? [] : parseJson(res.body);
    if (!Array.isArray(json)) {
      capabilities.qido = 'no';
      notes.qido = 'a study search did not answer with DICOM JSON';
      throw new ProbeFailure('http', 'the site did not answer a study search with DICOM JSON');
    }
    studies ??= json;
    samples.push(res.ms);
  }
  return { studies, samples };
}

/** Steps 3–5 on the instance found: WADO-RS, JPEG-LS lossless and previews (/rendered); each unknown with its reason when it cannot tell. */
async function checkRetrieval(probe: Prober, target: InstanceRef | undefined, capabilities: SiteCapabilities, notes: SiteTestResult['notes']): Promise<void> {
  if (!target) {
    notes.wado ??= 'the site holds no instance to retrieve';
    notes.jpegLsLossless = 'the site holds no image to try';
    notes.rendered = 'the site holds no image to try';
  } else {
    const base = `/studies/${target.study}/series/${target.series}/instances/${target.sop}`;
    const wado = await answer(async () => {
      const meta = await probe('GET', `${base}/metadata`, { accept: 'application/dicom+json' });
      if (meta.status === 200 && Array.isArray(parseJson(meta.body))) return 'yes';
      const file = await probe('GET', base, { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' }, PROBE_READ_LIMIT);
      if (file.status === 200 && partOf(file) !== undefined) return 'yes';
      notes.wado = `retrieving an instance answered HTTP ${file.status}`;
      return 'no';
    });
    capabilities.wado = wado.value;
    if (wado.note) notes.wado = wado.note;

    if (!target.image) {
      notes.jpegLsLossless = 'the site holds no image to try, only non-image objects';
      notes.rendered = 'the site holds no image to try, only non-image objects';
    } else {
      const jls = await answer(async () => {
        const res = await probe(
          'GET',
          base,
          { accept: `multipart/related; type="application/dicom"; transfer-syntax=${JPEG_LS_LOSSLESS}` },
          PROBE_READ_LIMIT,
        );
        if (res.status === 406 || res.status === 400 || res.status === 415) {
          notes.jpegLsLossless = `the site refused it (HTTP ${res.status})`;
          return 'no';
        }
        if (res.status !== 200) {
          notes.jpegLsLossless = `the site answered HTTP ${res.status}`;
          return 'unknown';
        }
        const syntax = returnedTransferSyntax(res);
        if (syntax === JPEG_LS_LOSSLESS) return 'yes';
        notes.jpegLsLossless = syntax ? `the site sent ${syntax} instead` : 'the answer did not say which transfer syntax it holds';
        return syntax ? 'no' : 'unknown';
      });
      capabilities.jpegLsLossless = jls.value;
      if (jls.note) notes.jpegLsLossless = jls.note;

      const rendered = await answer(async () => {
        // The read limit only guards against a site that ignores the viewport; a 64×64 JPEG is a few kB.
        const res = await probe('GET', `${base}/rendered?${RENDERED_PROBE_QUERY}`, { accept: 'image/jpeg' }, PROBE_READ_LIMIT);
        if (res.status === 200 && isJpeg(res.body)) return 'yes';
        if (RENDERED_UNSUPPORTED.has(res.status)) {
          notes.rendered = `the site does not render previews (HTTP ${res.status}): studies open lossless only`;
          return 'no';
        }
        if (res.status === 200) {
          // The viewer asks for image/jpeg and decodes nothing else as a preview.
          notes.rendered = `the site answered with ${res.headers.get('content-type') ?? 'no content type'} instead of a JPEG`;
          return 'no';
        }
        notes.rendered = `the site answered HTTP ${res.status}`;
        return 'unknown';
      });
      capabilities.rendered = rendered.value;
      if (rendered.note) notes.rendered = rendered.note;
    }
  }
}

/** Step 6: a STOW-RS POST of an empty multipart/related, which stores nothing. */
async function checkStow(probe: Prober, notes: SiteTestResult['notes']): Promise<CapabilityAnswer> {
  const boundary = `telerad-probe-${Math.random().toString(36).slice(2)}`;
  const res = await probe(
    'POST',
    '/studies',
    { accept: 'application/dicom+json', 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` },
    PROBE_READ_LIMIT,
    `--${boundary}--\r\n`,
  );
  if (res.status === 200 || res.status === 202 || res.status === 409) return 'yes';
  if (res.status === 404 || res.status === 405 || res.status === 501) {
    notes.stow = `the site has no STOW-RS endpoint (HTTP ${res.status})`;
    return 'no';
  }
  if (classifyGatewayAnswer(res.status).family === 'credentials') {
    notes.stow = `these credentials may not store at the site (HTTP ${res.status})`;
    return 'no';
  }
  notes.stow = `an empty store request answered HTTP ${res.status}, which does not tell`;
  return 'unknown';
}

type Prober = (method: 'GET' | 'POST', path: string, headers: Record<string, string>, readLimit?: number, body?: string) => Promise<ProbeResponse>;

function createProber(site: SiteTestTarget, deps: SiteTestDeps): Prober {
  return async (method, path, headers, readLimit = Number.POSITIVE_INFINITY, body) => {
    const controller = new AbortController();
    let timedOut: 'headers' | 'body' | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (phase: 'headers' | 'body', ms: number): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = phase;
        controller.abort(new Error(`timed out waiting for ${phase}`));
      }, ms);
    };
    const started = performance.now();
    arm('headers', deps.timeouts.connectMs);
    try {
      let res: Response;
      try {
        res = await deps.fetchImpl(`${site.url}${path}`, {
          method,
          headers: { ...headers, ...deps.authHeaders },
          signal: controller.signal,
          redirect: 'manual',
          ...(body !== undefined ? { body } : {}),
        });
      } catch (err) {
        if (timedOut) throw new ProbeFailure('timeout', `timed out: no answer within ${seconds(deps.timeouts.connectMs)}`);
        const code = describeNetworkError(err);
        if (isConnectTimeout(code)) throw new ProbeFailure('timeout', `timed out: no connection within ${seconds(deps.timeouts.connectMs)}`);
        if (isTlsFailure(code)) throw new ProbeFailure('tls', `TLS certificate error: ${tlsFailureReason(code)}`);
        throw new ProbeFailure('unreachable', `unreachable: ${unreachableReason(code)}`);
      }
      const chunks: Uint8Array[] = [];
      let size = 0;
      if (res.body) {
        arm('body', deps.timeouts.idleMs);
        const reader = res.body.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            chunks.push(value);
            size += value.byteLength;
            if (size >= readLimit) {
              await reader.cancel().catch(() => undefined);
              break;
            }
            arm('body', deps.timeouts.idleMs);
          }
        } catch (err) {
          if (timedOut) throw new ProbeFailure('timeout', `timed out: the answer stalled for ${seconds(deps.timeouts.idleMs)}`);
          throw new ProbeFailure('unreachable', `the connection broke mid-answer (${describeNetworkError(err)})`);
        }
      }
      const ms = performance.now() - started;
      return { status: res.status, headers: res.headers, body: concat(chunks, size), ms };
    } finally {
      clearTimeout(timer);
    }
  };
}

interface InstanceRef {
  study: string;
  series: string;
  sop: string;
  image: boolean;
}

async function findInstance(probe: Prober, firstStudies: unknown): Promise<InstanceRef | undefined> {
  let studyUids = uidsOf(firstStudies, '0020000D');
  if (studyUids.length > 0) {
    const more = await probe('GET', `/studies?limit=${STUDIES_TO_SEARCH}`, { accept: 'application/dicom+json' });
    if (more.status === 200) studyUids = [...new Set([...studyUids, ...uidsOf(parseJson(more.body), '0020000D')])];
  }
  let fallback: InstanceRef | undefined;
  for (const study of studyUids.slice(0, STUDIES_TO_SEARCH)) {
    const res = await probe('GET', `/studies/${study}/instances?limit=50`, { accept: 'application/dicom+json' });
    if (res.status !== 200) continue;
    const list = parseJson(res.body);
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      const series = firstString(item, '0020000E');
      const sop = firstString(item, '00080018');
      if (!series || !sop) continue;
      const sopClass = firstString(item, '00080016') ?? '';
      const ref = { study, series, sop, image: !NON_IMAGE_SOP_CLASS.test(sopClass) };
      if (ref.image) return ref;
      fallback ??= ref;
    }
  }
  return fallback;
}

/** Runs one capability check; a failure of the check itself (timeout, broken connection) makes it unknown, with the reason. */
async function answer(check: () => Promise<CapabilityAnswer>): Promise<{ value: CapabilityAnswer; note?: string }> {
  try {
    return { value: await check() };
  } catch (err) {
    return { value: 'unknown', note: asFailure(err).message };
  }
}

function asFailure(err: unknown): ProbeFailure {
  if (err instanceof ProbeFailure) return err;
  return new ProbeFailure('unreachable', errorMessage(err));
}

/** A JPEG stream starts with the SOI marker FF D8 (ITU-T T.81, Table B.1), whatever the Content-Type says. */
function isJpeg(body: Uint8Array): boolean {
  return body.length >= 2 && body[0] === 0xff && body[1] === 0xd8;
}

/** The transfer syntax of the first part of a WADO-RS multipart answer: its Content-Type parameter, else the file meta. */
export function returnedTransferSyntax(res: Pick<ProbeResponse, 'headers' | 'body'>): string | undefined {
  const part = partOf(res);
  if (!part) return undefined;
  const fromHeader = /transfer-syntax\s*=\s*"?([0-9.]+)"?/i.exec(part.contentType)?.[1];
  return fromHeader ?? fileMetaTransferSyntax(part.body);
}

function partOf(res: Pick<ProbeResponse, 'headers' | 'body'>): { contentType: string; body: Uint8Array } | undefined {
  const type = res.headers.get('content-type') ?? '';
  const boundary = /boundary\s*=\s*"?([^";]+)"?/i.exec(type)?.[1];
  if (!boundary) return undefined;
  const text = latin1(res.body);
  const start = text.indexOf(`--${boundary}`);
  if (start < 0) return undefined;
  const headerEnd = text.indexOf('\r\n\r\n', start);
  if (headerEnd < 0) return undefined;
  const headerText = text.slice(start, headerEnd);
  const contentType = /^content-type:\s*(.*)$/im.exec(headerText)?.[1]?.trim() ?? '';
  return { contentType, body: res.body.subarray(headerEnd + 4) };
}

/** (0002,0010) from a Part 10 file's meta group (always explicit VR little endian, PS3.10 §7.1). */
export function fileMetaTransferSyntax(file: Uint8Array): string | undefined {
  if (file.length < 132 || latin1(file.subarray(128, 132)) !== 'DICM') return undefined;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let pos = 132;
  while (pos + 8 <= file.length) {
    const group = view.getUint16(pos, true);
    const element = view.getUint16(pos + 2, true);
    if (group !== 0x0002) return undefined;
    const vr = latin1(file.subarray(pos + 4, pos + 6));
    const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN', 'UC', 'UR', 'OD', 'OL', 'OV'].includes(vr);
    const length = long ? view.getUint32(pos + 8, true) : view.getUint16(pos + 6, true);
    const valueStart = pos + (long ? 12 : 8);
    if (valueStart + length > file.length) return undefined;
    if (element === 0x0010) return latin1(file.subarray(valueStart, valueStart + length)).replace(/[\0\s]+$/, '');
    pos = valueStart + length;
  }
  return undefined;
}

function uidsOf(json: unknown, tag: string): string[] {
  if (!Array.isArray(json)) return [];
  return json.map((item) => firstString(item, tag)).filter((u): u is string => u !== undefined && /^[0-9.]+$/.test(u));
}

function firstString(item: unknown, tag: string): string | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const value = (item as Record<string, { Value?: unknown[] } | undefined>)[tag]?.Value?.[0];
  return typeof value === 'string' ? value : undefined;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}

function latin1(bytes: Uint8Array): string {
  return new TextDecoder('latin1').decode(bytes);
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

function unreachableReason(code: string): string {
  if (code === 'ECONNREFUSED') return 'nothing is listening at that address and port (connection refused)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name does not resolve';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'no network route to the site';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the site closed the connection';
  // The Fetch standard's blocked ports (6000, 6665–6669, …): no fetch will ever connect there.
  if (code === 'bad port') return 'the port is one that web clients are not allowed to use';
  return code;
}
