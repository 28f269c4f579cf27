// @vitest-environment node
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { StudyRetriever, previewViewport } from '../../../src/renderer/cache/study-retriever';
import type { EnsureStudyRequest, EnsureStudyResult, RetrieveProgress, StoredAnyEvent, StudyRetrieverDeps } from '../../../src/renderer/cache/study-retriever';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { StudyListingRecord } from '../../../src/renderer/cache/telerad-db';
import { HttpStatusError, RequestTimeoutError, TransferInterruptedError } from '../../../src/renderer/dicomweb/site-error';
import { createTransfersStore } from '../../../src/renderer/cache/transfers-store';
import type { TransfersStore } from '../../../src/renderer/cache/transfers-store';
import { TEST_SITE, studyFields } from '../../support/tiny-dicom';
import { pause, scriptedSite, seriesSlices, until, withPreviewBatches } from '../../support/scripted-site';
import type { ListedSlice, Reply, ScriptedSite, SiteRequest } from '../../support/scripted-site';
import { testRowSealer } from '../../support/test-sealer';

// Progressive reading (issue 15), the retriever's part: the study's instance
// list first, then the lossless files in the order the reader needs them,
// and rendered previews beside them — on a real cache (fake-indexeddb, real
// sealer) and a scripted site whose requests the test answers one by one.

const STUDY = '1.2.826.0.1.3680043.2.1125.15';
const SERIES = `${STUDY}.1`;
/** 11 slices in instance-number order (no geometry): the hanging slice is s(5). */
const SLICES = seriesSlices(SERIES, 11, { rows: 512, columns: 384 });
const s = (k: number): string => SLICES[k]!.sop;
const ALL = SLICES.map((x) => x.sop);

const SITE = TEST_SITE;
const FIELDS = studyFields(STUDY);

let dbs: TeleradDB[] = [];
let n = 0;
/** Retrievals a test left running (held requests): cancelled before the databases close. */
let running: Array<{ stop: AbortController; done: Promise<unknown> }> = [];
afterEach(async () => {
  for (const r of running) r.stop.abort();
  await Promise.all(running.map((r) => r.done.catch(() => undefined)));
  running = [];
  await pause(50); // write-behind timers of cancelled retrievals
  for (const db of dbs) {
    db.close();
    await db.delete();
  }
  dbs = [];
});

interface Fixture {
  db: TeleradDB;
  cache: StudyCache;
  retriever: StudyRetriever;
  transfers: TransfersStore;
  log: ReturnType<typeof memorySink>;
}

function openDb(): TeleradDB {
  const db = new TeleradDB(`telerad-progressive-${process.pid}-${n++}`, { sealer: testRowSealer() });
  dbs.push(db);
  return db;
}

/**
 * Starts a retrieval the test may leave running: it is cancelled after the
 * test (its own signal, when it has one, still ends it earlier).
 */
function start(f: Fixture, req: EnsureStudyRequest): Promise<EnsureStudyResult> {
  const stop = new AbortController();
  const signal = req.signal ? AbortSignal.any([req.signal, stop.signal]) : stop.signal;
  const done = f.retriever.ensureStudy({ ...req, signal });
  running.push({ stop, done });
  return done;
}

function setup(site: ScriptedSite, extra: Partial<StudyRetrieverDeps> = {}, db = openDb()): Fixture {
  const cache = new StudyCache(db);
  const transfers = createTransfersStore({ notifyIntervalMs: 0 });
  const log = memorySink();
  const retriever = new StudyRetriever({
    cache,
    dicomweb: () => site,
    log: createLogger('t', log),
    concurrency: 2,
    retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 2 },
    // The JPEG-LS probe is the subject of study-retriever.test.ts; here every file is asked as stored.
    negotiateJpegLs: false,
    transfers,
    ...extra,
  });
  return { db, cache, retriever, transfers, log };
}

/** What one caller of ensureStudy was told. */
interface Seen {
  listed: StudyListingRecord[];
  stored: string[];
  previews: string[];
  progress: RetrieveProgress[];
  /** Requests the site had seen when onListed was called. */
  requestsAtListing: number[];
}

function caller(site: ScriptedSite, over: Partial<EnsureStudyRequest> = {}): { req: EnsureStudyRequest; seen: Seen } {
  const seen: Seen = { listed: [], stored: [], previews: [], progress: [], requestsAtListing: [] };
  const req: EnsureStudyRequest = {
    site: SITE,
    study: FIELDS,
    onListed: (l) => {
      seen.listed.push(l);
      seen.requestsAtListing.push(site.requests.length);
    },
    onInstanceStored: (e) => seen.stored.push(e.sopInstanceUID),
    onPreviewStored: (e) => seen.previews.push(e.sopInstanceUID),
    onProgress: (p) => seen.progress.push(p),
    ...over,
  };
  return { req, seen };
}

const hold = (): Reply => 'hold';
const holdLossless = (r: SiteRequest): Reply => (r.kind === 'lossless' ? 'hold' : 'answer');
const answerAll = (): Reply => 'answer';

/** Answers the lossless (or preview) request for `sop` once it is open (it may still be on its way through the cache checks). */
async function answer(site: ScriptedSite, sop: string, kind: 'lossless' | 'preview' = 'lossless'): Promise<void> {
  const end = Date.now() + 2000;
  while (!site.open(kind).some((r) => r.sopInstanceUID === sop) && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
  const req = site.open(kind).find((r) => r.sopInstanceUID === sop);
  if (!req) throw new Error(`no open ${kind} request for ${sop}; open: ${site.open().map((r) => `${r.kind}:${r.sopInstanceUID}`).join(', ')}`);
  req.answer();
}

/** Answers the open lossless requests one at a time, each after the next one was asked: the order the retriever chose. */
async function answerInTurn(site: ScriptedSite, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const before = site.asked('lossless').length;
    const [oldest] = site.open('lossless');
    if (!oldest) throw new Error(`nothing open after ${i} answers`);
    oldest.answer();
    if (i < count - 1) await until(() => site.asked('lossless').length > before || site.open('lossless').length > 0, `request ${before + 1}`);
  }
}

describe('progressive retrieval: the instance list first', () => {
  it('tells the viewer the instance list, in reading order, before any instance has arrived', async () => {
    // Instance numbers run feet to head here; the stack reads head first (by position along the normal).
    const geo = seriesSlices(SERIES, 10, (k) => ({ z: 5 * k }));
    const site = scriptedSite({ [STUDY]: geo }, hold);
    const f = setup(site, { concurrency: 1 });
    const { req, seen } = caller(site);
    void start(f, req);
    await until(() => seen.listed.length === 1, 'the instance list');
    // The hanging slice's request may already be on its way (it goes beside the cache bookkeeping), nothing more.
    expect(seen.requestsAtListing[0]).toBeLessThanOrEqual(1);
    expect(seen.stored).toEqual([]);
    const readingOrder = [...geo].reverse().map((x) => x.sop);
    expect(seen.listed[0]!.instances.map((i) => i.sopInstanceUID)).toEqual(readingOrder);
    expect(seen.listed[0]!.instances[0]).toMatchObject({ imagePositionPatient: [0, 0, 45] });
    // The same list is kept for a later offline open.
    expect((await f.cache.getListing(STUDY))?.instances.map((i) => i.sopInstanceUID)).toEqual(readingOrder);
    // The first file asked for is the slice the viewer opens on: the middle of the reading order.
    await until(() => site.requests.length === 1, 'the first request');
    expect(site.asked('lossless')).toEqual([readingOrder[5]]);
  });

  it('opens from the instance list kept by an earlier retrieval when the site cannot be reached', async () => {
    const first = scriptedSite({ [STUDY]: SLICES }, (r) => (r.sopInstanceUID === s(5) ? 'answer' : new HttpStatusError(404, 'WADO-RS 404')));
    const f = setup(first, { previews: false });
    expect((await start(f, { site: SITE, study: FIELDS })).complete).toBe(false);

    const down = scriptedSite({ [STUDY]: SLICES });
    down.searchForInstances = async () => {
      throw new TransferInterruptedError('the link dropped');
    };
    const again = setup(down, {}, f.db);
    const { req, seen } = caller(down);
    const result = await start(again, req);
    expect(result).toMatchObject({ source: 'cache', complete: false, failure: { kind: 'unreachable' } });
    expect(seen.listed).toHaveLength(1);
    expect(seen.listed[0]!.instances.map((i) => i.sopInstanceUID)).toEqual(ALL);
  });
});

describe('progressive retrieval: the instance list asked at the click', () => {
  it('uses the list asked at the click for the open that follows: one QIDO, and the hanging slice asked first', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, answerAll);
    let release!: () => void;
    site.listingGate = new Promise<void>((r) => (release = r));
    const f = setup(site, { previews: false });
    f.retriever.listAhead(SITE, STUDY);
    await until(() => site.listings.length === 1, 'the list asked at the click');
    // The viewer mounts and opens the study while the list is still on its way.
    const done = start(f, { site: SITE, study: FIELDS });
    await pause(20);
    release();
    expect((await done).complete).toBe(true);
    expect(site.listings).toEqual([STUDY]);
    expect(site.asked('lossless')[0]).toBe(s(5));
  });

  it('asks again when the list asked at the click failed, and reports nothing for the failure itself', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, answerAll);
    const search = site.searchForInstances.bind(site);
    let calls = 0;
    site.searchForInstances = async (...args) => {
      if (calls++ === 0) throw new TransferInterruptedError('the link dropped');
      return search(...args);
    };
    const f = setup(site, { previews: false });
    f.retriever.listAhead(SITE, STUDY);
    await pause(10);
    expect((await start(f, { site: SITE, study: FIELDS })).complete).toBe(true);
    expect(calls).toBe(2);
    expect(f.log.records.filter((r) => r.level === 'error')).toEqual([]);
  });

  it('does not make the reader wait twice when the list asked at the click timed out: the open says the site timed out', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, answerAll);
    let calls = 0;
    site.searchForInstances = async () => {
      calls++;
      throw new RequestTimeoutError(30_000);
    };
    const f = setup(site, { previews: false });
    f.retriever.listAhead(SITE, STUDY);
    await pause(10);
    await expect(start(f, { site: SITE, study: FIELDS })).rejects.toThrow(/timed out/);
    expect(calls).toBe(1);
  });

  it('asks nothing ahead for a study already being retrieved, and the open joins that retrieval', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, answerAll);
    const f = setup(site, { previews: false });
    const first = start(f, { site: SITE, study: FIELDS });
    await until(() => site.listings.length === 1, 'the retrieval listing the study');
    f.retriever.listAhead(SITE, STUDY);
    expect((await first).complete).toBe(true);
    expect(site.listings).toEqual([STUDY]);
  });
});

describe('progressive retrieval: the order follows the reader', () => {
  it('fetches the slice the reader jumped to before the ones around the old position, without cancelling what is in flight', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, hold);
    const f = setup(site, { concurrency: 2, previews: false });
    const { req, seen } = caller(site);
    const done = start(f, req);
    await until(() => site.open('lossless').length === 2, 'two requests in flight');
    expect(site.asked('lossless')).toEqual([s(5), s(6)]);

    f.retriever.focus(STUDY, s(9), 1); // the reader jumps ahead
    expect(site.open('lossless').map((r) => r.signal?.aborted)).toEqual([false, false]);
    site.script = answerAll;
    await answerInTurn(site, 2);
    const result = await done;
    expect(result.complete).toBe(true);
    expect(site.asked('lossless')).toEqual([5, 6, 9, 10, 8, 7, 4, 3, 2, 1, 0].map(s));
    // The two asked before the jump were let finish and stored, not asked again.
    expect(site.requests.filter((r) => r.state !== 'answered')).toEqual([]);
    expect(seen.stored.slice(0, 2).sort()).toEqual([s(5), s(6)].sort());
    expect(new Set(seen.stored).size).toBe(11);
  });

  it('fetches a slice a signature waits for before the reader’s slice', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, hold);
    const f = setup(site, { concurrency: 1, previews: false });
    const done = start(f, { site: SITE, study: FIELDS });
    await until(() => site.open().length === 1, 'the hanging slice asked');
    f.retriever.focus(STUDY, s(9), 1);
    f.retriever.prioritize(STUDY, [s(0)]);
    site.script = answerAll;
    site.open()[0]!.answer();
    await done;
    expect(site.asked('lossless').slice(0, 4)).toEqual([s(5), s(0), s(9), s(10)]);
  });

  it('puts a study the reader left behind the one opened next, even when it was scrolled last', async () => {
    const OTHER = `${STUDY}.99`;
    const OTHER_SLICES = seriesSlices(`${OTHER}.1`, 5);
    const site = scriptedSite({ [STUDY]: SLICES, [OTHER]: OTHER_SLICES }, hold);
    const f = setup(site, { concurrency: 1, previews: false });
    void start(f, { site: SITE, study: FIELDS });
    await until(() => site.open().length === 1, 'the first study streaming');
    void start(f, { site: SITE, study: studyFields(OTHER) });
    await until(() => f.retriever.isStreaming(OTHER), 'the second study on the link');
    f.retriever.focus(STUDY, s(2), 0); // ranks the first study above the second…
    f.retriever.setForegroundStudy(STUDY, false); // …but the reader left it
    site.open()[0]!.answer();
    await until(() => site.open().length === 1 && site.requests.length === 2, 'the next request');
    expect(site.requests[1]!.studyInstanceUID).toBe(OTHER);

    f.retriever.setForegroundStudy(STUDY, true); // and came back to it
    site.open()[0]!.answer();
    await until(() => site.requests.length === 3, 'the request after');
    expect(site.requests[2]).toMatchObject({ studyInstanceUID: STUDY, sopInstanceUID: s(2) });
  });

  it('never has more than `concurrency` requests in flight; previews go first, beside the hanging slice only', async () => {
    const many = seriesSlices(SERIES, 30, { rows: 64, columns: 64 });
    const site = scriptedSite({ [STUDY]: many }, answerAll);
    const f = setup(site, { concurrency: 3 });
    const result = await start(f, { site: SITE, study: FIELDS });
    expect(result.complete).toBe(true);
    expect(site.maxInFlight).toBe(3);
    // Previews take the slots the hanging slice leaves (two beside it while it is on its way, then all): on a
    // slow link a lossless file on the line holds each small answer behind it.
    expect(site.maxPreviewsWhileLosslessLeft).toBeGreaterThanOrEqual(2);
    expect(site.maxPreviewsWhileLosslessLeft).toBeLessThanOrEqual(3);
    const firstLossless = site.requests.findIndex((r) => r.kind === 'lossless' && r.sopInstanceUID !== many[15]!.sop);
    const lastPreview = site.requests.map((r) => r.kind).lastIndexOf('preview');
    expect(firstLossless, 'the first lossless file beyond the hanging slice is asked after the last preview').toBeGreaterThan(lastPreview);
    expect(new Set(site.asked('lossless')).size).toBe(30);
    expect(site.asked('lossless')).toHaveLength(30);
  });
});

describe('progressive retrieval: previews', () => {
  it('stores a preview of every slice, in the image’s aspect at 256 px, reports each, and drops each when its lossless file lands', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, holdLossless);
    const f = setup(site, { concurrency: 3 });
    const { req, seen } = caller(site);
    const done = start(f, req);
    await until(() => seen.previews.length === 11, 'every preview stored');
    expect(site.requests.filter((r) => r.kind === 'preview').every((r) => r.viewport?.width === 192 && r.viewport.height === 256 && r.quality === 50)).toBe(true);
    expect(site.asked('preview')[0]).toBe(s(5)); // from the hanging slice outward, as the lossless files go
    expect(new Set(site.asked('preview'))).toEqual(new Set(ALL));
    expect((await f.cache.previewSops(STUDY)).sort()).toEqual([...ALL].sort());
    expect(seen.progress.at(-1)).toMatchObject({ done: 0, total: 11, previewsDone: 11, previewsTotal: 11 });
    await until(() => f.transfers.getState().transfers[0]?.previewsDone === 11, 'the transfer row counting previews');
    expect(f.transfers.getState().transfers[0]).toMatchObject({ previewsDone: 11, previewsTotal: 11 });

    site.script = answerAll;
    for (const r of site.open('lossless')) r.answer();
    expect((await done).complete).toBe(true);
    expect(await f.cache.previewSops(STUDY)).toEqual([]);
  });

  it('keeps no preview of a slice whose lossless file landed first', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, hold);
    const f = setup(site, { concurrency: 3 });
    const { req, seen } = caller(site);
    void start(f, req);
    // The hanging slice goes first lossless, and its preview beside it.
    await until(() => site.open('preview').some((r) => r.sopInstanceUID === s(5)), 'the hanging slice’s preview asked');
    await answer(site, s(5), 'lossless');
    await until(() => seen.stored.includes(s(5)), 'the hanging slice stored lossless');
    const late = site.open('preview').find((r) => r.sopInstanceUID === s(5))!;
    late.answer();
    await pause(100); // past the preview write-behind delay
    expect(late.state).toBe('answered');
    expect(seen.previews).not.toContain(s(5));
    expect(await f.cache.hasPreview(s(5))).toBe(false);
  });

  it('asks no preview of a slice stored meanwhile by another retrieval, and none of non-image or multi-frame objects', async () => {
    const mixed: ListedSlice[] = [
      ...seriesSlices(SERIES, 4),
      { sop: `${STUDY}.2.1`, series: `${STUDY}.2`, instanceNumber: 1, sopClassUID: '1.2.840.10008.5.1.4.1.1.88.33' }, // an SR
      { sop: `${STUDY}.3.1`, series: `${STUDY}.3`, instanceNumber: 1, frames: 40 }, // one multi-frame instance
    ];
    const site = scriptedSite({ [STUDY]: mixed }, answerAll);
    const f = setup(site, { concurrency: 3 });
    expect((await start(f, { site: SITE, study: FIELDS })).complete).toBe(true);
    expect(site.asked('preview')).not.toContain(`${STUDY}.2.1`);
    expect(site.asked('preview')).not.toContain(`${STUDY}.3.1`);
    expect(site.asked('preview').length).toBeGreaterThan(0);
  });

  it.each([400, 404, 405, 406, 415, 501])('a site answering /rendered with %i gets no more preview requests, and is remembered as not rendering', async (status) => {
    const site = scriptedSite({ [STUDY]: SLICES }, (r) => (r.kind === 'preview' ? new HttpStatusError(status, `WADO-RS rendered ${status}`) : 'answer'));
    const f = setup(site, { concurrency: 2 }); // one preview slot: the refusal is seen before any other preview is asked
    const { req, seen } = caller(site);
    expect((await start(f, req)).complete).toBe(true);
    expect(site.asked('preview')).toHaveLength(1);
    expect(seen.previews).toEqual([]);
    expect(seen.progress.at(-1)).toMatchObject({ done: 11, previewsDone: 0, previewsTotal: 0 });
    await until(async () => (await f.db.siteCapabilities.get(SITE.id))?.rendered === false, 'the capability remembered');

    // The next session (a new retriever on the same cache) asks that site for none.
    const OTHER = `${STUDY}.7`;
    const next = scriptedSite({ [OTHER]: seriesSlices(`${OTHER}.1`, 4) }, answerAll);
    const again = setup(next, { concurrency: 2 }, f.db);
    expect((await start(again, { site: SITE, study: studyFields(OTHER) })).complete).toBe(true);
    expect(next.asked('preview')).toEqual([]);
    expect(next.asked('lossless')).toHaveLength(4);
  });

  it('skips only the preview that failed (500): no retry, the others are stored, the site keeps rendering', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, (r) => (r.kind === 'lossless' ? 'hold' : r.sopInstanceUID === s(6) ? new HttpStatusError(500, 'WADO-RS rendered 500') : 'answer'));
    const f = setup(site, { concurrency: 2 });
    const { req, seen } = caller(site);
    const done = start(f, req);
    await until(() => seen.previews.length === 10, 'the other previews stored');
    expect(site.asked('preview').filter((x) => x === s(6))).toHaveLength(1);
    expect(seen.previews).not.toContain(s(6));
    expect(seen.progress.at(-1)).toMatchObject({ previewsDone: 10, previewsTotal: 10 });
    expect((await f.db.siteCapabilities.get(SITE.id))?.rendered).not.toBe(false);
    site.script = answerAll;
    for (const r of site.open('lossless')) r.answer();
    expect((await done).complete).toBe(true);
  });

  it('fetches no previews for background work (prefetch)', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, answerAll);
    const f = setup(site, { concurrency: 3 });
    let paced = 0;
    const result = await start(f, {
      site: SITE,
      study: FIELDS,
      background: { beforeRequest: async () => void paced++, onBytes: () => undefined },
    });
    expect(result.complete).toBe(true);
    expect(site.asked('preview')).toEqual([]);
    expect(paced).toBe(11);
  });

  it('gives a reader who opens a study prefetch is fetching previews of what is still missing, unthrottled', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, hold);
    const f = setup(site, { concurrency: 3 });
    let paced = 0;
    const prefetch = start(f, { site: SITE, study: FIELDS, background: { beforeRequest: async () => void paced++, onBytes: () => undefined } });
    await until(() => site.open('lossless').length === 3, 'prefetch on the link');
    await answer(site, s(5));
    const { req, seen } = caller(site);
    const reading = start(f, req);
    await until(() => (seen.progress.at(-1)?.previewsTotal ?? 0) > 0, 'previews planned for the reader');
    expect(seen.progress.at(-1)?.previewsTotal).toBe(7); // 11, less the one stored and the three in flight
    // Previews take slots as they free: the next lossless answer makes room for one.
    site.open('lossless')[0]!.answer();
    await until(() => site.asked('preview').length > 0, 'previews asked');
    expect(site.asked('preview')).not.toContain(s(5)); // stored already
    const pacedAtJoin = paced;
    site.script = answerAll;
    for (const r of site.open()) r.answer();
    const [a, b] = await Promise.all([prefetch, reading]);
    expect(a.complete && b.complete).toBe(true);
    expect(paced).toBe(pacedAtJoin);
    expect(seen.listed).toHaveLength(1);
  });
});

describe('progressive retrieval: one retrieval per study', () => {
  it('a second open of a study being retrieved joins it: each instance fetched once, both callers told of every one', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, hold);
    const f = setup(site, { concurrency: 2, previews: false });
    const one = caller(site);
    const two = caller(site);
    const first = start(f, one.req);
    await until(() => site.open().length === 2, 'the first retrieval on the link');
    const second = start(f, two.req);
    await until(() => two.seen.listed.length === 1, 'the second caller joined'); // told the list it joined on
    expect(site.listings).toEqual([STUDY]); // not listed twice
    site.script = answerAll;
    for (const r of site.open()) r.answer();
    const [a, b] = await Promise.all([first, second]);
    expect(a).toEqual(b);
    expect(a.complete).toBe(true);
    expect(site.asked('lossless').sort()).toEqual([...ALL].sort());
    expect(one.seen.stored.sort()).toEqual([...ALL].sort());
    expect(two.seen.stored.sort()).toEqual([...ALL].sort());
    expect(two.seen.listed).toHaveLength(1);
  });

  it('a caller leaving only detaches it; the retrieval goes on for the other and stops when none is left', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, hold);
    const f = setup(site, { concurrency: 2, previews: false });
    const leaving = new AbortController();
    const one = caller(site, { signal: leaving.signal });
    const two = caller(site);
    void start(f, one.req).catch(() => undefined);
    await until(() => site.open().length === 2, 'on the link');
    const stays = new AbortController();
    const twoReq = { ...two.req, signal: stays.signal };
    const second = start(f, twoReq).catch((err: unknown) => err);
    await until(() => two.seen.listed.length === 1, 'the second caller joined');
    leaving.abort();
    await answer(site, s(5));
    await until(() => two.seen.stored.includes(s(5)), 'stored for the caller who stayed');
    expect(one.seen.stored).toEqual([]);
    expect(site.open().every((r) => !r.signal?.aborted)).toBe(true);

    stays.abort();
    await until(() => site.open().length === 0, 'the requests in flight aborted');
    expect(site.requests.filter((r) => r.state === 'aborted').length).toBeGreaterThan(0);
    await second;
    const asked = site.requests.length;
    await pause();
    expect(site.requests.length).toBe(asked);
    expect(f.retriever.isStreaming(STUDY)).toBe(false);
  });
});

describe('progressive retrieval: pause, streaming state, store events', () => {
  it('a pause in the transfers panel stops new requests (what is in flight lands); continue resumes', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, hold);
    const f = setup(site, { concurrency: 2, previews: false });
    const { req, seen } = caller(site);
    const done = start(f, req);
    await until(() => site.open().length === 2, 'two in flight');
    f.transfers.setPaused(STUDY, true);
    expect(f.transfers.getState().transfers[0]?.state).toBe('paused');
    for (const r of site.open()) r.answer();
    await until(() => seen.stored.length === 2, 'the two in flight stored');
    await pause();
    expect(site.requests).toHaveLength(2);
    expect(f.retriever.isStreaming(STUDY)).toBe(true);

    site.script = answerAll;
    f.transfers.setPaused(STUDY, false);
    expect((await done).complete).toBe(true);
    expect(site.requests).toHaveLength(11);
    expect(f.retriever.isStreaming(STUDY)).toBe(false);
  });

  it('tells onStored listeners of every lossless file (with its header) and preview any retrieval stores', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, holdLossless);
    const f = setup(site, { concurrency: 2 });
    const events: StoredAnyEvent[] = [];
    const off = f.retriever.onStored((e) => events.push(e));
    const done = start(f, { site: SITE, study: FIELDS });
    await until(() => events.filter((e) => e.kind === 'preview').length === 11, 'previews told');
    site.script = answerAll;
    for (const r of site.open()) r.answer();
    await done;
    const lossless = events.filter((e) => e.kind === 'lossless');
    expect(lossless.map((e) => e.sopInstanceUID).sort()).toEqual([...ALL].sort());
    expect(lossless.every((e) => e.studyInstanceUID === STUDY && e.header?.transferSyntaxUID === '1.2.840.10008.1.2.1')).toBe(true);
    off();
    await start(f, { site: SITE, study: FIELDS });
    expect(events).toHaveLength(22);
  });
});

describe('progressive retrieval: previews in batches through the gateway', () => {
  const STACK = seriesSlices(SERIES, 40, { rows: 512, columns: 512 });

  it('asks the previews of a 40-slice stack in a few batch requests of at most 16, and stores every one', async () => {
    const site = withPreviewBatches(scriptedSite({ [STUDY]: STACK }, holdLossless));
    const f = setup(site, { concurrency: 3 });
    const { req, seen } = caller(site);
    const done = start(f, req);
    await until(() => seen.previews.length === 40, 'every preview stored');
    expect(site.batches.length).toBeLessThanOrEqual(4);
    expect(site.batches.every((b) => b.length >= 1 && b.length <= 16)).toBe(true);
    // Each slice asked once, from the hanging slice outward.
    expect(site.batches.flat().sort()).toEqual(STACK.map((x) => x.sop).sort());
    expect(site.batches[0]![0]).toBe(STACK[20]!.sop);
    expect(seen.progress.at(-1)).toMatchObject({ previewsDone: 40, previewsTotal: 40 });
    site.script = answerAll;
    for (const r of site.open('lossless')) r.answer();
    expect((await done).complete).toBe(true);
  });

  it('falls back to one preview per request on a host without batches (404), and still stores every one', async () => {
    const site = withPreviewBatches(scriptedSite({ [STUDY]: SLICES }, holdLossless), { refuseBatches: true });
    const f = setup(site, { concurrency: 3 });
    const { req, seen } = caller(site);
    void start(f, req);
    await until(() => seen.previews.length === 11, 'every preview stored');
    expect(site.batches).toHaveLength(1);
    expect(new Set(site.asked('preview'))).toEqual(new Set(ALL));
    // The host is not taken for a site that does not render.
    expect((await f.db.siteCapabilities.get(SITE.id))?.rendered).not.toBe(false);
  });

  it('stops previews when the site itself refuses /rendered inside a batch, and remembers it', async () => {
    const site = withPreviewBatches(scriptedSite({ [STUDY]: STACK }, (r) => (r.kind === 'preview' ? new HttpStatusError(404, 'WADO-RS rendered 404') : 'answer')));
    const f = setup(site, { concurrency: 3 });
    const { req, seen } = caller(site);
    expect((await start(f, req)).complete).toBe(true);
    // The first batch (or the two at most in flight) and no more.
    expect(site.batches.length).toBeLessThanOrEqual(2);
    expect(seen.previews).toEqual([]);
    await until(async () => (await f.db.siteCapabilities.get(SITE.id))?.rendered === false, 'the capability remembered');
  });

  it('keeps asking previews after a part the gateway failed (site unreachable for that one), skipping only it', async () => {
    const site = withPreviewBatches(
      scriptedSite({ [STUDY]: SLICES }, (r) =>
        r.kind === 'lossless' ? 'hold' : r.sopInstanceUID === s(6) ? new HttpStatusError(404, 'gateway 404', new Headers({ 'x-telerad-error': 'NOT_FOUND' })) : 'answer',
      ),
    );
    const f = setup(site, { concurrency: 3 });
    const { req, seen } = caller(site);
    void start(f, req);
    await until(() => seen.previews.length === 10, 'the other previews stored');
    expect(seen.previews).not.toContain(s(6));
    expect((await f.db.siteCapabilities.get(SITE.id))?.rendered).not.toBe(false);
  });
});

describe('previewViewport', () => {
  it('asks the image’s aspect with its longer side at the preview size, never larger than the image', () => {
    expect(previewViewport(384, 512, 256)).toEqual({ width: 192, height: 256 });
    expect(previewViewport(512, 512, 256)).toEqual({ width: 256, height: 256 });
    expect(previewViewport(100, 50, 256)).toEqual({ width: 100, height: 50 });
    expect(previewViewport(4000, 1, 256)).toEqual({ width: 256, height: 1 });
  });

  it('asks a square when the site did not say the image’s size', () => {
    expect(previewViewport(undefined, 512, 256)).toEqual({ width: 256, height: 256 });
    expect(previewViewport(undefined, undefined, 128)).toEqual({ width: 128, height: 128 });
  });
});

describe('progressive retrieval: joins, pauses and figures before the instance list is in', () => {
  it('the transfer row stops counting previews once a site refuses /rendered', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, hold);
    const f = setup(site, { concurrency: 2 });
    const { req, seen } = caller(site);
    void start(f, req);
    // The hanging slice lands while its preview is in flight: the row shows "previews 0/11".
    await until(() => site.open('preview').length === 1, 'the first preview asked');
    await answer(site, s(5));
    await until(() => f.transfers.getState().transfers[0]?.previewsTotal === 11, 'the row counting previews');
    site.open('preview')[0]!.fail(new HttpStatusError(404, 'WADO-RS rendered 404'));
    await until(() => seen.progress.at(-1)?.previewsTotal === 0, 'the refusal handled');
    await pause(20);
    // The worklist row keeps saying "previews 0/11 · 1 of 11 lossless" for the rest of the transfer.
    expect(f.transfers.getState().transfers[0]).toMatchObject({ previewsDone: 0, previewsTotal: 0 });
  });

  it('a reader who opens a study while prefetch is still listing it gets previews and is not throttled', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, answerAll);
    let open!: () => void;
    site.listingGate = new Promise<void>((r) => (open = r));
    const f = setup(site, { concurrency: 3 });
    let paced = 0;
    const prefetch = start(f, { site: SITE, study: FIELDS, background: { beforeRequest: async () => void paced++, onBytes: () => undefined } });
    await until(() => site.listings.length === 1, 'prefetch listing the study');
    const reading = start(f, { site: SITE, study: FIELDS });
    await pause(50); // the reader has joined (it finds the retrieval under way) before the list comes
    expect(site.listings).toHaveLength(1);
    open();
    await Promise.all([prefetch, reading]);
    expect(site.asked('preview').length).toBeGreaterThan(0);
    expect(paced).toBe(0);
  });

  it('a pause in the transfers panel before the site has listed the study holds the retrieval', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, answerAll);
    let open!: () => void;
    site.listingGate = new Promise<void>((r) => (open = r));
    const f = setup(site, { concurrency: 2, previews: false });
    void start(f, { site: SITE, study: FIELDS });
    await until(() => f.transfers.getState().transfers.length === 1, 'the transfer row');
    f.transfers.setPaused(STUDY, true);
    expect(f.transfers.getState().transfers[0]?.state).toBe('paused');
    open();
    await pause();
    expect(site.requests).toHaveLength(0);
  });
});
