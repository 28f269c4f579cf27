// @vitest-environment node
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import type { DicomJsonDataset } from '../../../src/shared/dicom/dicomweb-json';
import { createLogger, memorySink } from '../../../src/shared/log';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import type { StudyUpsert } from '../../../src/renderer/cache/study-cache';
import { NOT_OFFLINE_MESSAGE, StudyRetriever, StudyUnavailableError } from '../../../src/renderer/cache/study-retriever';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { InstanceRecord } from '../../../src/renderer/cache/telerad-db';
import type { DicomWebApi } from '../../../src/renderer/dicomweb/dicomweb-api';
import { sortStack } from '../../../src/shared/dicom/stack-order';
import { HttpStatusError } from '../../../src/renderer/dicomweb/site-error';
import { createTransfersStore } from '../../../src/renderer/cache/transfers-store';
import { TEST_SITE, instanceList, studyFields, tinyPart10 } from '../../support/tiny-dicom';
import { testRowSealer } from '../../support/test-sealer';

const STUDY = '1.2.826.0.1.3680043.2.1125.7';
const SERIES = `${STUDY}.1`;
const SITE: SiteSummary = TEST_SITE;
const STUDY_FIELDS: StudyUpsert = studyFields(STUDY);

function part10(sop: string, instanceNumber: number, z: number, ts = '1.2.840.10008.1.2.1', series = SERIES): ArrayBuffer {
  return tinyPart10({ sop, series, instanceNumber, z, transferSyntaxUID: ts, seriesDescription: 'AXIAL 5MM' });
}

/** A site without WADO-RS /rendered (previews are the subject of study-retriever-progressive.test.ts). */
const notRendered = async (): Promise<ArrayBuffer> => {
  throw new HttpStatusError(404, 'WADO-RS rendered 404');
};

const sops = [1, 2, 3, 4, 5, 6].map((n) => `${SERIES}.${n}`);
const qido: DicomJsonDataset[] = instanceList(SERIES, sops);

function fakeApi(opts: { failList?: unknown; failSop?: string } = {}): DicomWebApi & { retrieved: string[]; maxInFlight: number } {
  let inFlight = 0;
  const api = {
    retrieved: [] as string[],
    maxInFlight: 0,
    searchForStudies: async () => [],
    searchForInstances: async () => {
      if (opts.failList) throw opts.failList;
      return qido;
    },
    retrieveRendered: notRendered,
    retrieveInstance: async (uids: { sopInstanceUID: string }) => {
      inFlight++;
      api.maxInFlight = Math.max(api.maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      if (uids.sopInstanceUID === opts.failSop) throw Object.assign(new Error('request failed'), { status: 500 });
      api.retrieved.push(uids.sopInstanceUID);
      const k = sops.indexOf(uids.sopInstanceUID);
      return part10(uids.sopInstanceUID, k + 1, -5 * k);
    },
  };
  return api;
}

const unreachable = Object.assign(new Error('request failed'), {
  status: 502,
  response: { code: 'SITE_UNREACHABLE', message: 'Hospital A could not be reached' },
  request: { getResponseHeader: () => 'SITE_UNREACHABLE' },
});

const FAST_RETRY = { baseDelayMs: 1, maxDelayMs: 5 };

let dbs: TeleradDB[] = [];
let n = 0;
function setup(api: DicomWebApi): { cache: StudyCache; retriever: StudyRetriever } {
  const db = new TeleradDB(`telerad-retriever-${process.pid}-${n++}`, { sealer: testRowSealer() });
  dbs.push(db);
  const cache = new StudyCache(db);
  return { cache, retriever: new StudyRetriever({ cache, dicomweb: () => api, log: createLogger('t', memorySink()), concurrency: 2, retry: FAST_RETRY }) };
}

afterEach(async () => {
  for (const db of dbs) {
    db.close();
    await db.delete();
  }
  dbs = [];
});

describe('StudyRetriever', () => {
  it('stores every instance, reports progress, and marks the study complete', async () => {
    const api = fakeApi();
    const { cache, retriever } = setup(api);
    const progress: string[] = [];
    const result = await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS, onProgress: (p) => progress.push(`${p.done}/${p.total}`) });
    expect(result).toEqual({ source: 'network', complete: true });
    expect(progress[0]).toBe('0/6');
    expect(progress.at(-1)).toBe('6/6');
    expect(api.maxInFlight).toBeLessThanOrEqual(2);
    const stored = await cache.getStudyInstances(STUDY);
    expect(stored).toHaveLength(6);
    expect(sortStack(stored).map((i) => i.instanceNumber)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await cache.getStudySeries(STUDY))[0]?.description).toBe('AXIAL 5MM');
  });

  it('opens a complete study from the cache without any request', async () => {
    const api = fakeApi();
    const { cache, retriever } = setup(api);
    await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS });
    const offline = fakeApi({ failList: unreachable });
    const again = new StudyRetriever({ cache, dicomweb: () => offline, log: createLogger('t', memorySink()) });
    expect(await again.ensureStudy({ site: SITE, study: STUDY_FIELDS })).toEqual({ source: 'cache', complete: true });
    expect(offline.retrieved).toEqual([]);
  });

  it('retrieves only the instances not cached yet', async () => {
    const partial = fakeApi({ failSop: sops[3] });
    const { cache, retriever } = setup(partial);
    const first = await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS });
    expect(first.complete).toBe(false);
    expect(await cache.getStudyInstances(STUDY)).toHaveLength(5);
    const api = fakeApi();
    const second = new StudyRetriever({ cache, dicomweb: () => api, log: createLogger('t', memorySink()), retry: FAST_RETRY });
    expect((await second.ensureStudy({ site: SITE, study: STUDY_FIELDS })).complete).toBe(true);
    expect(api.retrieved).toEqual([sops[3]]);
  });

  it('says plainly that a study neither cached nor reachable cannot open', async () => {
    const { retriever } = setup(fakeApi({ failList: unreachable }));
    const attempt = retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS });
    await expect(attempt).rejects.toBeInstanceOf(StudyUnavailableError);
    await expect(attempt).rejects.toThrow(NOT_OFFLINE_MESSAGE);
  });
});

const JPEG_LS = '1.2.840.10008.1.2.4.80';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

interface Call {
  sop: string;
  transferSyntax: string;
}

/**
 * A site whose answer to each request is chosen by `answer` (throw for an
 * HTTP error): records what was asked, with which transfer syntax.
 */
function scriptedApi(
  answer: (call: Call, n: number) => ArrayBuffer | Promise<ArrayBuffer>,
  listing: DicomJsonDataset[] = qido,
): DicomWebApi & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    searchForStudies: async () => [],
    searchForInstances: async () => listing,
    retrieveRendered: notRendered,
    retrieveInstance: async (uids, signal, options) => {
      const call = { sop: uids.sopInstanceUID, transferSyntax: options?.transferSyntax ?? '*' };
      calls.push(call);
      await new Promise((r) => setTimeout(r, 1));
      const bytes = await answer(call, calls.length);
      // As fetch does: an aborted request never delivers its body.
      if (signal?.aborted) throw signal.reason;
      options?.onBytes?.(bytes.byteLength);
      return bytes;
    },
  };
}

const httpError = (status: number): HttpStatusError => new HttpStatusError(status, `HTTP ${status}`);
const fileFor = (call: Call, ts = call.transferSyntax === '*' ? EXPLICIT_LE : call.transferSyntax): ArrayBuffer =>
  part10(call.sop, sops.indexOf(call.sop) + 1, -5 * sops.indexOf(call.sop), ts);
/** A site that transcodes to JPEG-LS on request. */
const transcoding = (call: Call): ArrayBuffer => fileFor(call);

function setupWith(api: DicomWebApi, extra: Partial<ConstructorParameters<typeof StudyRetriever>[0]> = {}): { cache: StudyCache; retriever: StudyRetriever; db: TeleradDB } {
  const db = new TeleradDB(`telerad-retriever-${process.pid}-${n++}`, { sealer: testRowSealer() });
  dbs.push(db);
  const cache = new StudyCache(db);
  return { db, cache, retriever: new StudyRetriever({ cache, dicomweb: () => api, log: createLogger('t', memorySink()), concurrency: 2, retry: FAST_RETRY, ...extra }) };
}

describe('StudyRetriever: transfer syntax per site', () => {
  it('asks a site that transcodes for JPEG-LS lossless, stores it as such, and remembers the site', async () => {
    const api = scriptedApi(transcoding);
    const { cache, retriever, db } = setupWith(api);
    expect((await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS })).complete).toBe(true);
    expect(api.calls.map((c) => c.transferSyntax)).toEqual(new Array(6).fill(JPEG_LS));
    expect((await cache.getStudyInstances(STUDY)).map((i) => i.transferSyntaxUID)).toEqual(new Array(6).fill(JPEG_LS));
    expect(await db.siteCapabilities.get('a')).toMatchObject({ siteId: 'a', jpegLsLossless: true });
  });

  it('probes once: a site that refuses JPEG-LS (406) is asked for the original from then on, and remembered', async () => {
    const api = scriptedApi((call) => {
      if (call.transferSyntax === JPEG_LS) throw httpError(406);
      return fileFor(call);
    });
    const { cache, retriever, db } = setupWith(api);
    expect((await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS })).complete).toBe(true);
    expect(api.calls.filter((c) => c.transferSyntax === JPEG_LS)).toHaveLength(1);
    expect(api.calls).toHaveLength(7);
    expect((await cache.getStudyInstances(STUDY)).every((i) => i.transferSyntaxUID === EXPLICIT_LE)).toBe(true);
    expect(await db.siteCapabilities.get('a')).toMatchObject({ jpegLsLossless: false });

    // A new session (a new retriever on the same cache) does not probe again.
    await db.instances.clear();
    await db.instanceBytes.clear();
    await db.studies.clear();
    const again = scriptedApi((call) => fileFor(call));
    const next = new StudyRetriever({ cache, dicomweb: () => again, log: createLogger('t', memorySink()), retry: FAST_RETRY });
    await next.ensureStudy({ site: SITE, study: STUDY_FIELDS });
    expect(again.calls.every((c) => c.transferSyntax === '*')).toBe(true);
  });

  it('never stores a lossy answer to a lossless request: it fetches the original instead', async () => {
    const api = scriptedApi((call) => (call.transferSyntax === JPEG_LS ? fileFor(call, '1.2.840.10008.1.2.4.50') : fileFor(call)));
    const { cache, retriever } = setupWith(api);
    await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS });
    const stored = await cache.getStudyInstances(STUDY);
    expect(stored).toHaveLength(6);
    expect(stored.every((i) => i.transferSyntaxUID === EXPLICIT_LE)).toBe(true);
  });
});

describe('StudyRetriever: order, retries, cut transfers, cancel', () => {
  it('fetches the middle image of each series before the rest', async () => {
    const series2 = `${STUDY}.2`;
    const two = [
      ...qido,
      ...[1, 2, 3].map((k) => ({ '0020000E': { vr: 'UI', Value: [series2] }, '00080018': { vr: 'UI', Value: [`${series2}.${k}`] }, '00200013': { vr: 'IS', Value: [k] } })),
    ] as DicomJsonDataset[];
    const api = scriptedApi(
      (call) => (call.sop.startsWith(`${series2}.`) ? part10(call.sop, Number(call.sop.split('.').pop()), 0, JPEG_LS, series2) : transcoding(call)),
      two,
    );
    const { retriever } = setupWith(api, { concurrency: 1 });
    const firsts: string[] = [];
    await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS, onInstanceStored: (e) => e.firstOfSeries && firsts.push(e.sopInstanceUID) });
    expect(api.calls.slice(0, 2).map((c) => c.sop)).toEqual([sops[3], `${series2}.2`]);
    expect(firsts).toEqual([sops[3], `${series2}.2`]);
    expect(api.calls).toHaveLength(9);
  });

  it('writes the first image of a series at once, and the rest in batches', async () => {
    const api = scriptedApi(transcoding);
    const { retriever, cache } = setupWith(api, { concurrency: 1 });
    const batches: string[][] = [];
    const putInstances = cache.putInstances.bind(cache);
    cache.putInstances = (items) => {
      batches.push(items.map((i) => i.meta.sopInstanceUID));
      return putInstances(items);
    };
    const stored: string[] = [];
    const result = await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS, onInstanceStored: (e) => stored.push(e.sopInstanceUID) });
    expect(result.complete).toBe(true);
    // The viewer's first image is committed alone, before anything else is downloaded.
    expect(batches[0]).toEqual([sops[3]]);
    expect(stored[0]).toBe(sops[3]);
    // The other five arrive within one batch delay (1 ms apart): fewer transactions than
    // instances. Kept loose on purpose: the exact grouping depends on a loaded machine's timers.
    expect(batches.length).toBeLessThan(sops.length);
    expect(batches.flat().sort()).toEqual([...sops].sort());
  });

  it('counts nothing of a batch whose write failed; the next retrieval fetches exactly those again', async () => {
    const api = scriptedApi(transcoding);
    const { retriever, cache } = setupWith(api, { concurrency: 1 });
    const putInstances = cache.putInstances.bind(cache);
    let failed: string[] = [];
    cache.putInstances = (items) => {
      if (items.length > 1 && failed.length === 0) {
        failed = items.map((i) => i.meta.sopInstanceUID);
        return Promise.reject(new Error('disk error'));
      }
      return putInstances(items);
    };
    const progress: string[] = [];
    const first = await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS, onProgress: (p) => progress.push(`${p.done}/${p.total}`) });
    expect(first.complete).toBe(false);
    expect(failed.length).toBeGreaterThan(1);
    const kept = (await cache.getStudyInstances(STUDY)).map((i) => i.sopInstanceUID);
    expect(kept.some((s) => failed.includes(s))).toBe(false);
    expect(progress.at(-1)).toBe(`${6 - failed.length}/6`);

    const again = await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS });
    expect(again.complete).toBe(true);
    expect(api.calls.slice(6).map((c) => c.sop).sort()).toEqual([...failed].sort());
  });

  it('retries 503 with backoff and completes; does not retry 404', async () => {
    let failures = 2;
    const api = scriptedApi((call) => {
      if (failures-- > 0) throw httpError(503);
      return transcoding(call);
    });
    const { retriever } = setupWith(api);
    expect((await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS })).complete).toBe(true);
    expect(api.calls).toHaveLength(8);

    const missing = scriptedApi((call) => {
      if (call.sop === sops[2]) throw httpError(404);
      return transcoding(call);
    });
    const { retriever: r2 } = setupWith(missing);
    const result = await r2.ensureStudy({ site: SITE, study: STUDY_FIELDS });
    expect(result.complete).toBe(false);
    expect(result.failure?.message).toBe(`failed (HTTP 404) while retrieving instance ${sops[2]} by WADO-RS`);
    expect(missing.calls.filter((c) => c.sop === sops[2])).toHaveLength(1);
  });

  it('never stores a cut-short file; fetches it again and stores it whole', async () => {
    let cut = true;
    const api = scriptedApi((call) => {
      const whole = transcoding(call);
      if (call.sop === sops[1] && cut) {
        cut = false;
        return whole.slice(0, whole.byteLength - 10);
      }
      return whole;
    });
    const { cache, retriever } = setupWith(api);
    expect((await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS })).complete).toBe(true);
    expect(api.calls.filter((c) => c.sop === sops[1])).toHaveLength(2);
    const bytes = await cache.readInstanceBytes(sops[1]!);
    expect(bytes?.byteLength).toBe(transcoding({ sop: sops[1]!, transferSyntax: JPEG_LS }).byteLength);
  });

  it('fetches each instance once when the same study is retrieved twice at the same time', async () => {
    const api = scriptedApi(transcoding);
    const { retriever, cache } = setupWith(api);
    const [a, b] = await Promise.all([retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS }), retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS })]);
    expect(a.complete && b.complete).toBe(true);
    expect(new Set(api.calls.map((c) => c.sop)).size).toBe(6);
    expect(api.calls).toHaveLength(6);
    expect(await cache.getStudyInstances(STUDY)).toHaveLength(6);
  });

  it('a cancel from the transfers panel stops the retrieval; a resume fetches only what is missing', async () => {
    const transfers = createTransfersStore();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const api = scriptedApi(async (call, k) => {
      if (k > 2) await gate;
      return transcoding(call);
    });
    const { retriever, cache } = setupWith(api, { transfers, concurrency: 1 });
    const running = retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS });
    await vi.waitFor(() => expect(api.calls.length).toBe(3));
    transfers.cancel(STUDY);
    release();
    const result = await running;
    expect(result.complete).toBe(false);
    expect(result.failure?.message).toBe('retrieval cancelled');
    const row = transfers.getState().transfers.find((t) => t.studyInstanceUID === STUDY);
    expect(row).toMatchObject({ state: 'cancelled', instancesDone: 2, instancesTotal: 6, resumable: true });
    expect(api.calls).toHaveLength(3);
    const before = (await cache.getStudyInstances(STUDY)).map((i) => i.sopInstanceUID);

    transfers.resume(STUDY);
    await vi.waitFor(() => expect(transfers.getState().transfers[0]?.state).toBe('done'));
    const refetched = api.calls.slice(3).map((c) => c.sop);
    expect(refetched.some((s) => before.includes(s))).toBe(false);
    expect(await cache.getStudyInstances(STUDY)).toHaveLength(6);
  });
});

describe('sortStack', () => {
  const inst = (n: number, z?: number): InstanceRecord => ({
    sopInstanceUID: `1.${n}`,
    studyInstanceUID: STUDY,
    seriesInstanceUID: SERIES,
    instanceNumber: n,
    size: 1,
    sha256: '',
    transferSyntaxUID: '',
    storedAt: 0,
    ...(z !== undefined ? { imagePositionPatient: [0, 0, z], imageOrientationPatient: [1, 0, 0, 0, 1, 0] } : {}),
  });

  it('orders axial slices head first by position, whatever their instance numbers', () => {
    expect(sortStack([inst(1, -10), inst(2, 0), inst(3, -5)]).map((i) => i.instanceNumber)).toEqual([2, 3, 1]);
  });

  it('falls back to instance number when a slice has no position', () => {
    expect(sortStack([inst(3, 0), inst(1), inst(2, -5)]).map((i) => i.instanceNumber)).toEqual([1, 2, 3]);
  });
});
