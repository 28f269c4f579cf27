// @vitest-environment node
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { StudyRetriever } from '../../../src/renderer/cache/study-retriever';
import type { EnsureStudyRequest, EnsureStudyResult, StoredAnyEvent } from '../../../src/renderer/cache/study-retriever';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { HttpStatusError, TransferInterruptedError } from '../../../src/renderer/dicomweb/site-error';
import { createTransfersStore } from '../../../src/renderer/cache/transfers-store';
import type { TransfersStore } from '../../../src/renderer/cache/transfers-store';
import type { ImagingRuntime } from '../../../src/renderer/viewer/cornerstone-setup';
import { createStudySession } from '../../../src/renderer/viewer/study-session';
import type { SeriesOption, SliceQuality, StudySession } from '../../../src/renderer/viewer/study-session';
import { createViewportStore } from '../../../src/renderer/viewer/viewport-store';
import type { ViewportStore } from '../../../src/renderer/viewer/viewport-store';
import { TEST_SITE, studyFields } from '../../support/tiny-dicom';
import { pause, scriptedSite, seriesSlices, until } from '../../support/scripted-site';
import type { Reply, ScriptedSite, SiteRequest } from '../../support/scripted-site';
import { ManualTimers } from '../../support/manual-timers';
import { testRowSealer } from '../../support/test-sealer';

// Progressive reading, the viewer's part: the study session opens on the
// instance list while slices still arrive, keeps each slice's quality
// (missing → preview → lossless, never back), asks a site that failed
// mid-stream again while the study stays open; a viewport paints what the
// cache has of the slice asked for. A real cache and retriever on a scripted
// site; a narrow Cornerstone double; the session's timers are manual.

const STUDY = '1.2.826.0.1.3680043.2.1125.115';
const SERIES = `${STUDY}.1`;
const SLICES = seriesSlices(SERIES, 11, { rows: 4, columns: 4 });
const s = (k: number): string => SLICES[k]!.sop;
const ALL = SLICES.map((x) => x.sop);
const REQ = { study: studyFields(STUDY), site: TEST_SITE };
const RESUME = [50, 70, 90];

const hold = (): Reply => 'hold';
const holdLossless = (r: SiteRequest): Reply => (r.kind === 'lossless' ? 'hold' : 'answer');
const answerAll = (): Reply => 'answer';
const dropped = (): Error => new TransferInterruptedError('the link dropped');

/**
 * Cornerstone stand-in: images are 4 × 4; a preview carries the identity window (as the preview loader
 * makes it), a lossless image 400/40; viewports are kept per element, reset to the shown image's window.
 */
function fakeImaging(): ImagingRuntime & { shown: Array<{ id: string; voi?: { windowWidth: number; windowCenter: number } }>; previewsRemoved: string[] } {
  let files = 0;
  let previews = 0;
  const voiOf = (image: unknown): { windowWidth: number; windowCenter: number } => {
    const i = image as { windowWidth?: number; windowCenter?: number } | undefined;
    return { windowWidth: i?.windowWidth ?? 400, windowCenter: i?.windowCenter ?? 40 };
  };
  type Vp = { voi: { windowWidth: number; windowCenter: number }; scale: number; translation: { x: number; y: number }; rotation: number; hflip: boolean; vflip: boolean; invert: boolean };
  const fresh = (image?: unknown): Vp => ({ voi: voiOf(image), scale: 1, translation: { x: 0, y: 0 }, rotation: 0, hflip: false, vflip: false, invert: false });
  const viewports = new Map<unknown, Vp>();
  const images = new Map<unknown, unknown>();
  const rt = { shown: [] as Array<{ id: string; voi?: { windowWidth: number; windowCenter: number } }>, previewsRemoved: [] as string[] };
  const cornerstone = {
    enable: () => undefined,
    disable: (el: unknown) => void viewports.delete(el),
    loadAndCacheImage: async (id: string) => ({
      imageId: id,
      rows: 4,
      columns: 4,
      windowCenter: id.startsWith('telerad-preview:') ? 128 : 40,
      windowWidth: id.startsWith('telerad-preview:') ? 256 : 400,
      getPixelData: () => new Int16Array(16),
      data: { string: () => undefined, intString: () => undefined, floatString: () => undefined },
    }),
    displayImage: (el: unknown, image: { imageId: string }, patch?: Partial<Vp>) => {
      const vp = { ...(viewports.get(el) ?? fresh(image)), ...(patch ?? {}) };
      viewports.set(el, vp);
      images.set(el, image);
      rt.shown.push({ id: image.imageId, voi: { ...vp.voi } });
    },
    reset: (el: unknown) => viewports.set(el, fresh(images.get(el))),
    getViewport: (el: unknown) => (viewports.has(el) ? structuredClone(viewports.get(el)) : undefined),
    setViewport: (el: unknown, vp: Vp) => viewports.set(el, vp),
    resize: () => undefined,
    getImage: (el: unknown) => images.get(el),
    getDefaultViewportForImage: (_el: unknown, image: unknown) => fresh(image),
  };
  return Object.assign(rt, {
    cornerstone: cornerstone as unknown as ImagingRuntime['cornerstone'],
    addFile: () => `dicomfile:${files++}`,
    addPreview: () => `telerad-preview:${previews++}`,
    removePreview: (id: string) => void rt.previewsRemoved.push(id),
    releaseAll: () => undefined,
  });
}

let fixtures: Fixture[] = [];
let n = 0;
afterEach(async () => {
  // A study left goes on streaming (by design): cancel what is left, as the transfers panel would.
  for (const f of fixtures) {
    f.site.script = answerAll;
    for (const t of f.transfers.getState().transfers) f.transfers.cancel(t.studyInstanceUID);
  }
  await pause(80);
  for (const f of fixtures) {
    f.db.close();
    await f.db.delete();
  }
  fixtures = [];
});

interface Fixture {
  db: TeleradDB;
  cache: StudyCache;
  site: ScriptedSite;
  retriever: StudyRetriever;
  transfers: TransfersStore;
  timers: ManualTimers;
  imaging: ReturnType<typeof fakeImaging>;
  session: StudySession;
  online: { value: boolean };
}

function setup(site: ScriptedSite, opts: { progressive?: boolean; concurrency?: number; clear?: boolean; retriever?: StudyRetriever } = {}): Fixture {
  const db = new TeleradDB(`telerad-session-progressive-${process.pid}-${n++}`, { sealer: opts.clear ? null : testRowSealer() });
  const cache = new StudyCache(db);
  const transfers = createTransfersStore({ notifyIntervalMs: 0 });
  const retriever =
    opts.retriever ??
    new StudyRetriever({
      cache,
      dicomweb: () => site,
      log: createLogger('t', memorySink()),
      concurrency: opts.concurrency ?? 2,
      retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 2 },
      negotiateJpegLs: false,
      transfers,
    });
  const timers = new ManualTimers();
  const imaging = fakeImaging();
  const online = { value: true };
  const session = createStudySession({
    cache,
    retriever,
    imaging,
    log: createLogger('v', memorySink()),
    isOnline: () => online.value,
    resumeDelaysMs: RESUME,
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    ...(opts.progressive !== undefined ? { progressive: opts.progressive } : {}),
  });
  const f = { db, cache, site, retriever, transfers, timers, imaging, session, online };
  fixtures.push(f);
  return f;
}

function open(f: Fixture): { ready: SeriesOption[][]; close: () => void } {
  const ready: SeriesOption[][] = [];
  const close = f.session.open(REQ, (series) => ready.push(series));
  return { ready, close };
}

describe('study session: opening on the instance list', () => {
  it('opens — phase ready, onReady with the series — while the study’s slices are still on their way', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, hold);
    const f = setup(site);
    const { ready } = open(f);
    await until(() => f.session.getState().phase === 'ready', 'the session ready');
    expect(ready).toHaveLength(1);
    expect(ready[0]!.map((o) => o.seriesInstanceUID)).toEqual([SERIES]);
    expect(ready[0]![0]!.count).toBe(11);
    expect(f.session.getState().streaming).toBe(true);
    expect(f.session.stackOf(SERIES).map((i) => i.sopInstanceUID)).toEqual(ALL);
    expect(ALL.map((x) => f.session.quality(x))).toEqual(new Array(11).fill('missing'));
    expect(await f.cache.getStudyInstances(STUDY)).toEqual([]);
  });

  it('tells each slice’s quality as it lands — missing, then preview, then lossless — and redraws the stack bar at most every 100 ms', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, holdLossless);
    const f = setup(site);
    const changes: Array<[string, SliceQuality]> = [];
    f.session.onSliceChange((sop, q) => changes.push([sop, q]));
    open(f);
    await until(() => ALL.every((x) => f.session.quality(x) === 'preview'), 'every slice previewed');
    expect(f.session.getState().slicesRev).toBe(0);
    f.timers.advance(100);
    expect(f.session.getState().slicesRev).toBe(1); // one redraw for the whole burst
    site.script = answerAll;
    for (const r of site.open()) r.answer();
    await until(() => ALL.every((x) => f.session.quality(x) === 'lossless'), 'every slice lossless');
    expect(changes.filter(([sop]) => sop === s(0)).map(([, q]) => q)).toEqual(['preview', 'lossless']);
    await until(() => f.session.getState().streaming === false, 'the stream ended');
  });

  it('frees a slice’s preview once its lossless file is in', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, holdLossless);
    const f = setup(site);
    open(f);
    await until(() => f.session.quality(s(0)) === 'preview', 'slice 1 previewed');
    const id = await f.session.previewImageIdFor(f.session.stackOf(SERIES)[0]!);
    expect(id).toMatch(/^telerad-preview:/);
    site.script = answerAll;
    for (const r of site.open()) r.answer();
    await until(() => f.session.quality(s(0)) === 'lossless', 'slice 1 lossless');
    await until(() => f.imaging.previewsRemoved.includes(id!), 'its preview released');
  });

  it('asks the retrieval for the slice the reader is on first', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, hold);
    const f = setup(site, { concurrency: 1 });
    open(f);
    await until(() => site.open('lossless').length === 1, 'the hanging slice asked');
    f.session.focus(s(9), 1);
    site.open('lossless')[0]!.answer();
    await until(() => site.asked('lossless').length === 2, 'the next request');
    expect(site.asked('lossless')).toEqual([s(5), s(9)]);
  });

  it('a preview that fails its check is never shown: the slice reads as missing again', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, holdLossless);
    const f = setup(site, { clear: true });
    open(f);
    await until(() => f.session.quality(s(0)) === 'preview', 'slice 1 previewed');
    const row = (await f.db.instancePreviews.get(s(0)))!;
    const changed = new Uint8Array(row.bytes.slice(0));
    changed[4] = changed[4]! ^ 0xff;
    await f.db.instancePreviews.put({ ...row, bytes: changed.buffer });
    const told: SliceQuality[] = [];
    f.session.onSliceChange((sop, q) => sop === s(0) && told.push(q));
    expect(await f.session.previewImageIdFor(f.session.stackOf(SERIES)[0]!)).toBeUndefined();
    expect(f.session.quality(s(0))).toBe('missing');
    expect(told).toEqual(['missing']);
  });

  it('goes on streaming a study the reader closed, behind the next one', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, hold);
    const f = setup(site, { concurrency: 1 });
    const { close } = open(f);
    await until(() => f.session.getState().phase === 'ready', 'ready');
    close();
    site.script = answerAll;
    for (const r of site.open()) r.answer();
    await until(async () => (await f.cache.getStudy(STUDY))?.complete === true, 'the study complete in the cache');
    expect(site.requests.every((r) => r.state === 'answered')).toBe(true);
  });
});

describe('study session: a preview never downgrades a lossless slice', () => {
  /** A retriever double that stores nothing and tells what the test says, in that order. */
  function tellingRetriever(events: Array<{ kind: 'lossless' | 'preview'; sop: string }>): StudyRetriever {
    const listeners = new Set<(e: StoredAnyEvent) => void>();
    const double = {
      onStored: (l: (e: StoredAnyEvent) => void) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
      focus: () => undefined,
      setForegroundStudy: () => undefined,
      expectFirstSlice: () => () => undefined,
      ensureStudy: async (req: EnsureStudyRequest): Promise<EnsureStudyResult> => {
        req.onListed?.({ studyInstanceUID: STUDY, siteId: 'a', listedAt: 0, instances: SLICES.map((x) => ({ sopInstanceUID: x.sop, studyInstanceUID: STUDY, seriesInstanceUID: SERIES, instanceNumber: x.instanceNumber })) });
        await pause(10);
        for (const e of events) {
          if (e.kind === 'lossless') req.onInstanceStored?.({ seriesInstanceUID: SERIES, sopInstanceUID: e.sop, firstOfSeries: false, transferSyntaxUID: '1.2.840.10008.1.2.1', size: 1 });
          else req.onPreviewStored?.({ seriesInstanceUID: SERIES, sopInstanceUID: e.sop });
        }
        return { source: 'network', complete: false };
      },
    };
    return double as unknown as StudyRetriever;
  }

  it('keeps a slice lossless when a late preview answer for it is told after its file', async () => {
    const retriever = tellingRetriever([
      { kind: 'lossless', sop: s(3) },
      { kind: 'preview', sop: s(3) },
      { kind: 'preview', sop: s(4) },
    ]);
    const f = setup(scriptedSite({}), { retriever });
    const told: Array<[string, SliceQuality]> = [];
    f.session.onSliceChange((sop, q) => told.push([sop, q]));
    open(f);
    await until(() => f.session.quality(s(4)) === 'preview', 'the last event told');
    expect(f.session.quality(s(3))).toBe('lossless');
    expect(told).toEqual([
      [s(3), 'lossless'],
      [s(4), 'preview'],
    ]);
  });

  it('opens a slice stored lossless as lossless even when a stale preview row of it is left in the cache', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, (r) => (r.sopInstanceUID === s(5) && r.kind === 'lossless' ? 'answer' : 'hold'));
    const f = setup(site);
    const first = open(f);
    await until(() => f.session.quality(s(5)) === 'lossless', 'the hanging slice stored');
    first.close();
    await f.db.instancePreviews.put({ sopInstanceUID: s(5), studyInstanceUID: STUDY, seriesInstanceUID: SERIES, bytes: new ArrayBuffer(4), width: 4, height: 4, size: 4, sha256: '', storedAt: 0 });
    open(f);
    await until(() => f.session.getState().phase === 'ready', 'opened again');
    expect(f.session.quality(s(5))).toBe('lossless');
  });
});

describe('study session: a site that fails mid-stream', () => {
  it('asks the site again after the resume delay while the study stays open, keeping what landed viewable', async () => {
    let fail = true;
    const site = scriptedSite({ [STUDY]: SLICES }, (r) => (r.kind === 'preview' ? new HttpStatusError(404, 'no rendered') : r.sopInstanceUID === s(5) || !fail ? 'answer' : dropped()));
    const f = setup(site, { concurrency: 1 });
    open(f);
    await until(() => f.session.getState().streaming === false && f.session.getState().message !== undefined, 'the failure shown');
    expect(f.session.getState()).toMatchObject({ phase: 'ready', message: expect.stringContaining('Showing only the images in the local cache: Hospital A dropped the connection') });
    expect(f.session.quality(s(5))).toBe('lossless');
    expect(site.listings).toHaveLength(1);

    f.timers.advance(RESUME[0]! - 1);
    await pause(30);
    expect(site.listings).toHaveLength(1);
    fail = false;
    f.timers.advance(1);
    expect(f.session.getState().streaming).toBe(true);
    await until(() => ALL.every((x) => f.session.quality(x) === 'lossless'), 'the rest landed');
    expect(site.listings).toHaveLength(2);
    await until(() => f.session.getState().streaming === false, 'the stream ended');
    expect(f.session.getState().message).toBeUndefined();
  });

  it('waits longer after each failure in a row', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, (r) => (r.kind === 'preview' ? new HttpStatusError(404, 'no rendered') : r.sopInstanceUID === s(5) ? 'answer' : dropped()));
    const f = setup(site, { concurrency: 1 });
    open(f);
    await until(() => f.session.getState().message !== undefined, 'the first failure');
    f.timers.advance(RESUME[0]!);
    await until(() => site.listings.length === 2 && f.session.getState().streaming === false, 'the second failure');
    f.timers.advance(RESUME[1]! - 1);
    await pause(30);
    expect(site.listings).toHaveLength(2);
    f.timers.advance(1);
    await until(() => site.listings.length === 3, 'the third try');
  });

  it('asks nothing more once the study is closed', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, (r) => (r.kind === 'preview' ? new HttpStatusError(404, 'no rendered') : r.sopInstanceUID === s(5) ? 'answer' : dropped()));
    const f = setup(site, { concurrency: 1 });
    const { close } = open(f);
    await until(() => f.session.getState().message !== undefined, 'the failure');
    close();
    f.timers.advance(1000);
    await pause(20);
    expect(site.listings).toHaveLength(1);
  });

  it('does not ask again after a failure that another try cannot change (404)', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, (r) => (r.kind === 'preview' || r.sopInstanceUID !== s(5) ? new HttpStatusError(404, 'gone') : 'answer'));
    const f = setup(site, { concurrency: 1 });
    open(f);
    await until(() => f.session.getState().message !== undefined, 'the failure');
    f.timers.advance(1000);
    await pause(20);
    expect(site.listings).toHaveLength(1);
  });
});

describe('study session: progressive: false (the baseline)', () => {
  it('waits for the whole study before it opens, and asks no previews', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, hold);
    const f = setup(site, { progressive: false });
    const { ready } = open(f);
    await until(() => site.open('lossless').length === 2, 'the retrieval under way');
    await pause(30);
    expect(f.session.getState().phase).toBe('loading');
    expect(ready).toEqual([]);
    site.script = answerAll;
    for (const r of site.open()) r.answer();
    await until(() => f.session.getState().phase === 'ready', 'opened');
    expect(ready).toHaveLength(1);
    expect(ALL.map((x) => f.session.quality(x))).toEqual(new Array(11).fill('lossless'));
    expect(site.asked('preview')).toEqual([]);
    expect(await f.cache.getStudy(STUDY)).toMatchObject({ complete: true });
  });
});

describe('viewport while the study streams in', () => {
  const el = { id: 'viewport-1' } as unknown as HTMLElement;

  async function viewport(f: Fixture): Promise<ViewportStore> {
    const vp = createViewportStore({ slot: 0, imaging: f.imaging, session: f.session, log: createLogger('vp', memorySink()) });
    vp.attach(el);
    open(f);
    await until(() => f.session.getState().phase === 'ready', 'ready');
    vp.loadSeries(SERIES);
    return vp;
  }

  it('shows nothing for a slice that has not arrived, and says which slices have', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, (r) => (r.kind === 'lossless' && r.sopInstanceUID === s(5) ? 'answer' : 'hold'));
    const f = setup(site);
    const vp = await viewport(f);
    await until(() => vp.getState().quality === 'lossless', 'the hanging slice painted');
    const painted = f.imaging.shown.length;
    vp.show(0);
    expect(vp.getState()).toMatchObject({ index: 0, quality: 'missing', displayed: undefined, displayedIndex: 5 });
    await pause(20);
    expect(f.imaging.shown).toHaveLength(painted);
    expect(vp.sliceQualities()).toEqual(ALL.map((_, k) => (k === 5 ? 'lossless' : 'missing')));
  });

  it('paints a preview with the identity window, marked, and takes no window change on it', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, holdLossless);
    const f = setup(site);
    const vp = await viewport(f);
    await until(() => vp.getState().quality === 'preview', 'the preview painted');
    expect(vp.getState().displayed).toMatchObject({ sopInstanceUID: s(5), preview: true });
    expect(f.imaging.shown.at(-1)).toMatchObject({ id: expect.stringMatching(/^telerad-preview:/), voi: { windowWidth: 256, windowCenter: 128 } });
    vp.adjustVoi(50, 50);
    expect(f.imaging.cornerstone.getViewport(el)?.voi).toEqual({ windowWidth: 256, windowCenter: 128 });
  });

  it('paints a preview with the site’s window even after the reader changed the window, which comes back on a lossless slice', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, (r) => (r.kind === 'preview' || r.sopInstanceUID === s(5) ? 'answer' : 'hold'));
    const f = setup(site);
    const vp = await viewport(f);
    await until(() => vp.getState().quality === 'lossless' && f.session.quality(s(4)) === 'preview', 'the hanging slice lossless, its neighbour previewed');
    vp.adjustVoi(100, 10); // 400/40 → 600/60
    expect(f.imaging.cornerstone.getViewport(el)?.voi).toEqual({ windowWidth: 600, windowCenter: 60 });
    vp.show(4);
    await until(() => vp.getState().displayedIndex === 4, 'the preview of slice 5 painted');
    expect(f.imaging.shown.at(-1)).toMatchObject({ id: expect.stringMatching(/^telerad-preview:/), voi: { windowWidth: 256, windowCenter: 128 } });
    vp.show(5);
    await until(() => vp.getState().displayedIndex === 5, 'back on the lossless slice');
    expect(f.imaging.shown.at(-1)).toMatchObject({ id: expect.stringMatching(/^dicomfile:/), voi: { windowWidth: 600, windowCenter: 60 } });
  });

  it('replaces the preview in place by the lossless image when it lands: same zoom, the image’s own window', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, holdLossless);
    const f = setup(site);
    const vp = await viewport(f);
    await until(() => vp.getState().quality === 'preview', 'the preview painted');
    vp.zoomBy(2);
    site.open('lossless').find((r) => r.sopInstanceUID === s(5))!.answer();
    await until(() => vp.getState().quality === 'lossless', 'the lossless image painted');
    expect(vp.getState()).toMatchObject({ index: 5, displayedIndex: 5, displayed: { sopInstanceUID: s(5) } });
    expect(vp.getState().displayed?.preview).toBeUndefined();
    expect(f.imaging.shown.at(-1)).toMatchObject({ id: expect.stringMatching(/^dicomfile:/), voi: { windowWidth: 400, windowCenter: 40 } });
    expect(f.imaging.cornerstone.getViewport(el)?.scale).toBe(2);
  });

  it('paints a slice the moment its bytes land when the reader is waiting on it', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, hold);
    const f = setup(site);
    const vp = await viewport(f);
    vp.show(0);
    expect(vp.getState().quality).toBe('missing');
    // The requests in flight land; slice 1 is next in line once the reader is on it.
    site.script = (r) => (r.sopInstanceUID === s(0) ? 'answer' : 'hold');
    for (const r of site.open()) r.answer();
    await until(() => vp.getState().quality !== 'missing', 'slice 1 painted');
    expect(vp.getState()).toMatchObject({ index: 0, displayedIndex: 0, displayed: { sopInstanceUID: s(0) } });
  });
});

describe('study session: a site that fails before anything landed, or while offline', () => {
  it('asks again when the link dropped after the list came but before any slice landed', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, dropped);
    const f = setup(site, { concurrency: 1 });
    open(f);
    await until(() => f.session.getState().phase === 'ready' && f.session.getState().streaming === false, 'the failure');
    expect(f.session.getState().message).toContain('not available offline');
    site.script = answerAll;
    f.timers.advance(RESUME[0]!);
    await pause(30);
    expect(site.listings).toHaveLength(2);
  });

  it('while the browser is offline, waits for the network instead of asking the site', async () => {
    const site = scriptedSite({ [STUDY]: SLICES }, (r) => (r.kind === 'preview' ? new HttpStatusError(404, 'no rendered') : r.sopInstanceUID === s(5) ? 'answer' : dropped()));
    const f = setup(site, { concurrency: 1 });
    open(f);
    await until(() => f.session.getState().message !== undefined, 'the failure');
    f.online.value = false;
    f.timers.advance(RESUME[0]!);
    f.timers.advance(RESUME[0]!);
    f.timers.advance(RESUME[0]!);
    await pause(30);
    expect(site.listings).toHaveLength(1);
  });
});
