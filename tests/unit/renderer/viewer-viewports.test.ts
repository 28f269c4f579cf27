// @vitest-environment node
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import type { DicomJsonDataset } from '../../../src/shared/dicom/dicomweb-json';
import { createLogger, memorySink } from '../../../src/shared/log';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { StudyRetriever } from '../../../src/renderer/cache/study-retriever';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { DicomWebApi } from '../../../src/renderer/dicomweb/dicomweb-api';
import { createViewerStore } from '../../../src/renderer/viewer/viewer-store';
import type { Ticker, ViewerStore } from '../../../src/renderer/viewer/viewer-store';
import type { ImagingRuntime } from '../../../src/renderer/viewer/cornerstone-setup';
import { createStackPreloader } from '../../../src/renderer/viewer/stack-preloader';
import { TEST_SITE, studyFields, tinyPart10 } from '../../support/tiny-dicom';
import { testRowSealer } from '../../support/test-sealer';

// The viewer's stores on a real cache (fake-indexeddb) and retriever, with a
// narrow Cornerstone double that "decodes" a file by finding its SOP UID in
// the bytes and can hold a decode until the test lets it finish.

const STUDY = '1.2.826.0.1.3680043.2.1125.77';
const A = `${STUDY}.1`; // 8 slices, z = 0 … -35
const B = `${STUDY}.2`; // 6 slices, z = -10 … -35 (two slices lower), same frame of reference
const C = `${STUDY}.3`; // 2 slices whose pixel data is cut short
const D = `${STUDY}.4`; // one multi-frame instance of 5 frames
const FRAMES = 5;
const sopsOf = (series: string, n: number): string[] => Array.from({ length: n }, (_, k) => `${series}.${k + 1}`);
const SOPS = { [A]: sopsOf(A, 8), [B]: sopsOf(B, 6), [C]: sopsOf(C, 2), [D]: sopsOf(D, 1) } as Record<string, string[]>;
const zOf = (series: string, k: number): number => (series === B ? -10 - 5 * k : -5 * k);

function fakeApi(): DicomWebApi {
  const qido: DicomJsonDataset[] = Object.entries(SOPS).flatMap(([series, sops]) =>
    // As Orthanc answers: position and orientation from its index, so stacks line up before any file is in.
    sops.map((sop, k) => ({
      '0020000E': { vr: 'UI', Value: [series] },
      '00080018': { vr: 'UI', Value: [sop] },
      '00200013': { vr: 'IS', Value: [k + 1] },
      '00200032': { vr: 'DS', Value: [0, 0, zOf(series, k)] },
      '00200037': { vr: 'DS', Value: [1, 0, 0, 0, 1, 0] },
    })),
  );
  return {
    searchForStudies: async () => [],
    searchForInstances: async () => qido,
    retrieveInstance: async (uids: { seriesInstanceUID: string; sopInstanceUID: string }) => {
      const series = Object.keys(SOPS).find((s) => SOPS[s]!.includes(uids.sopInstanceUID))!;
      const k = SOPS[series]!.indexOf(uids.sopInstanceUID);
      return tinyPart10({ sop: uids.sopInstanceUID, series, instanceNumber: k + 1, z: zOf(series, k) });
    },
  } as unknown as DicomWebApi;
}

interface Deferred {
  sop: string;
  release(): void;
}

/** Cornerstone stand-in: one viewport per element; decodes can be held. */
function fakeImaging(): ImagingRuntime & { painted: Map<unknown, string[]>; loads: string[]; ids: string[]; held: Deferred[]; hold: boolean } {
  const files: Blob[] = [];
  const viewports = new Map<unknown, { voi: { windowWidth: number; windowCenter: number }; scale: number; translation: { x: number; y: number }; rotation: number; hflip: boolean; vflip: boolean; invert: boolean }>();
  const painted = new Map<unknown, string[]>();
  const shownImages = new Map<unknown, unknown>();
  const rt = {
    painted,
    loads: [] as string[],
    ids: [] as string[],
    held: [] as Deferred[],
    hold: false,
  };
  const allSops = Object.values(SOPS).flat().sort((a, b) => b.length - a.length);
  const cornerstone = {
    enable: (el: unknown) => painted.set(el, []),
    // As Cornerstone does: a disabled element forgets its viewport (zoom, pan, window…).
    disable: (el: unknown) => void viewports.delete(el),
    loadAndCacheImage: async (id: string) => {
      const text = new TextDecoder('latin1').decode(await files[Number(id.replace('dicomfile:', '').split('?')[0])]!.arrayBuffer());
      const sop = allSops.find((s) => text.includes(s))!;
      rt.loads.push(sop);
      rt.ids.push(id);
      if (rt.hold) await new Promise<void>((release) => rt.held.push({ sop, release }));
      const short = sop.startsWith(`${C}.`);
      return {
        imageId: id,
        sop,
        rows: 4,
        columns: 4,
        windowCenter: 40,
        windowWidth: 400,
        getPixelData: () => new Int16Array(short ? 8 : 16),
        data: {
          string: (tag: string) => (tag === 'x00200052' ? '1.2.3.4.FOR' : undefined),
          intString: (tag: string) => (tag === 'x00280008' && sop.startsWith(`${D}.`) ? FRAMES : undefined),
          floatString: () => undefined,
        },
      };
    },
    displayImage: (el: unknown, image: { sop: string }) => {
      painted.get(el)!.push(image.sop);
      shownImages.set(el, image);
      if (!viewports.has(el)) viewports.set(el, { voi: { windowWidth: 400, windowCenter: 40 }, scale: 1, translation: { x: 0, y: 0 }, rotation: 0, hflip: false, vflip: false, invert: false });
    },
    reset: (el: unknown) => viewports.set(el, { voi: { windowWidth: 400, windowCenter: 40 }, scale: 1, translation: { x: 0, y: 0 }, rotation: 0, hflip: false, vflip: false, invert: false }),
    getViewport: (el: unknown) => (viewports.has(el) ? structuredClone(viewports.get(el)) : undefined),
    setViewport: (el: unknown, vp: never) => viewports.set(el, vp),
    resize: () => undefined,
    getImage: (el: unknown) => shownImages.get(el),
    getDefaultViewportForImage: () => ({ voi: { windowWidth: 400, windowCenter: 40 }, scale: 1, translation: { x: 0, y: 0 }, rotation: 0, hflip: false, vflip: false, invert: false }),
  };
  return Object.assign(rt, {
    cornerstone: cornerstone as unknown as ImagingRuntime['cornerstone'],
    addFile: (blob: Blob) => `dicomfile:${files.push(blob) - 1}`,
    releaseAll: () => undefined,
  });
}

function manualTicker(): Ticker & { tick(): void; running: number } {
  let fn: (() => void) | undefined;
  const t = {
    running: 0,
    every(_ms: number, tick: () => void) {
      fn = tick;
      t.running++;
      return () => {
        fn = undefined;
        t.running--;
      };
    },
    tick: () => fn?.(),
  };
  return t;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 3000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

let dbs: TeleradDB[] = [];
let n = 0;
afterEach(async () => {
  for (const db of dbs) {
    db.close();
    await db.delete();
  }
  dbs = [];
});

const elements = [{ id: 'el-1' }, { id: 'el-2' }, { id: 'el-3' }, { id: 'el-4' }] as unknown as HTMLElement[];

async function openViewer(opts: { layout?: '1x1' | '1x2' | '2x2'; preload?: boolean } = {}): Promise<{ viewer: ViewerStore; imaging: ReturnType<typeof fakeImaging>; ticker: ReturnType<typeof manualTicker>; close: () => void; detach: (() => void)[] }> {
  const db = new TeleradDB(`telerad-viewports-${process.pid}-${n++}`, { sealer: testRowSealer() });
  dbs.push(db);
  const cache = new StudyCache(db);
  const retriever = new StudyRetriever({ cache, dicomweb: () => fakeApi(), log: createLogger('t', memorySink()), concurrency: 2 });
  const imaging = fakeImaging();
  const ticker = manualTicker();
  const viewer = createViewerStore({
    cache,
    retriever,
    imaging,
    log: createLogger('v', memorySink()),
    ticker,
    ...(opts.preload ? { createPreloader: createStackPreloader } : {}),
  });
  viewer.setLayout(opts.layout ?? '1x2');
  const count = { '1x1': 1, '1x2': 2, '2x2': 4 }[opts.layout ?? '1x2'];
  const detach: (() => void)[] = [];
  for (let i = 0; i < count; i++) detach.push(viewer.attachViewport(i, elements[i]!));
  const close = viewer.open({ study: studyFields(STUDY), site: TEST_SITE });
  await until(() => viewer.viewports.slice(0, count).every((v) => v.getState().displayedIndex >= 0 || v.getState().error !== undefined), 'every viewport painted');
  return { viewer, imaging, ticker, close, detach };
}

describe('layout and the active viewport', () => {
  it('starts 1 × 1 with viewport 1 active; a smaller layout moves the active viewport back into view', () => {
    const db = new TeleradDB(`telerad-viewports-${process.pid}-${n++}`, { sealer: testRowSealer() });
    dbs.push(db);
    const cache = new StudyCache(db);
    const retriever = new StudyRetriever({ cache, dicomweb: () => fakeApi(), log: createLogger('t', memorySink()), concurrency: 2 });
    const viewer = createViewerStore({ cache, retriever, imaging: fakeImaging(), log: createLogger('v', memorySink()) });
    expect(viewer.getState()).toMatchObject({ layout: '1x1', active: 0, sync: true, mode: 'wl' });
    viewer.setActive(2);
    expect(viewer.getState().active).toBe(0); // not shown in 1 × 1
    viewer.setLayout('2x2');
    viewer.setActive(3);
    expect(viewer.getState().active).toBe(3);
    expect(viewer.activeViewport().slot).toBe(3);
    viewer.setLayout('1x2');
    expect(viewer.getState()).toMatchObject({ layout: '1x2', active: 0 });
  });

  it('fills the viewports with the study’s series, largest first, and loads a chosen series into the active one', async () => {
    const { viewer } = await openViewer({ layout: '2x2' });
    expect(viewer.viewports.map((v) => v.getState().seriesInstanceUID)).toEqual([A, B, C, D]);
    expect(viewer.viewports[0]!.getState()).toMatchObject({ count: 8, displayedIndex: 4 });
    viewer.setActive(3);
    viewer.selectSeries(B);
    await until(() => viewer.viewports[3]!.getState().seriesInstanceUID === B && viewer.viewports[3]!.getState().displayedIndex === 3, 'series B in viewport 4');
    expect(viewer.viewports[0]!.getState().seriesInstanceUID).toBe(A);
  });

  it('a viewport hidden by a smaller layout comes back with its zoom, pan and rotation', async () => {
    const { viewer, imaging, detach } = await openViewer({ layout: '2x2' });
    const vp4 = viewer.viewports[3]!;
    vp4.zoomBy(2);
    vp4.panBy(30, -10);
    vp4.rotateBy(90);
    const before = imaging.cornerstone.getViewport(elements[3]!)!;
    expect(before.scale).toBe(2);
    viewer.setLayout('1x1');
    detach[3]!(); // React unmounts the hidden viewport
    viewer.setLayout('2x2');
    viewer.attachViewport(3, elements[3]!);
    await until(() => imaging.cornerstone.getViewport(elements[3]!)?.rotation === 90, 'viewport 4 repainted');
    const after = imaging.cornerstone.getViewport(elements[3]!)!;
    expect(after.scale).toBe(before.scale);
    expect(after.translation).toEqual(before.translation);
  });

  it('closing the study empties every viewport and stops cine', async () => {
    const { viewer, ticker, close } = await openViewer();
    viewer.toggleCine();
    expect(ticker.running).toBe(1);
    close();
    expect(ticker.running).toBe(0);
    expect(viewer.viewports.every((v) => v.getState().count === 0 && v.getState().displayedIndex === -1)).toBe(true);
    expect(viewer.getState().cine.slot).toBeUndefined();
  });
});

describe('synchronised scroll', () => {
  it('moves the other viewport of the same frame of reference to the slice at the same position', async () => {
    const { viewer, imaging } = await openViewer();
    const [a, b] = viewer.viewports as [ViewerStore['viewports'][number], ViewerStore['viewports'][number]];
    a.show(6); // z = -30 → B's slice at z = -30 is its index 4
    await until(() => b.getState().displayedIndex === 4, 'B at z = -30');
    expect(imaging.painted.get(elements[1])!.at(-1)).toBe(SOPS[B]![4]);
    a.show(0); // z = 0: above B's first slice, which is the nearest
    await until(() => b.getState().displayedIndex === 0, 'B at its first slice');
    b.show(5); // z = -35 → A's index 7; and A does not bounce B back
    await until(() => a.getState().displayedIndex === 7, 'A at z = -35');
    expect(b.getState().index).toBe(5);
  });

  it('leaves the other viewport alone when turned off', async () => {
    const { viewer } = await openViewer();
    const [a, b] = viewer.viewports as [ViewerStore['viewports'][number], ViewerStore['viewports'][number]];
    viewer.setSync(false);
    const before = b.getState().index;
    a.show(7);
    await until(() => a.getState().displayedIndex === 7, 'A moved');
    expect(b.getState().index).toBe(before);
  });
});

describe('cine', () => {
  it('steps one slice per tick in the active viewport and loops at the end', async () => {
    const { viewer, ticker } = await openViewer({ layout: '1x1' });
    const a = viewer.viewports[0]!;
    a.show(6);
    await until(() => a.getState().displayedIndex === 6, 'slice 7');
    viewer.setCineFps(20);
    viewer.toggleCine();
    expect(viewer.getState().cine).toEqual({ fps: 20, slot: 0 });
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      await until(() => !a.getState().busy, 'decode done');
      ticker.tick();
      await until(() => !a.getState().busy && a.getState().displayedIndex === a.getState().index, 'step painted');
      seen.push(a.getState().displayedIndex);
    }
    expect(seen).toEqual([7, 0, 1]);
    viewer.toggleCine();
    expect(viewer.getState().cine.slot).toBeUndefined();
  });

  it('skips ticks while the last slice is still decoding instead of piling up decodes', async () => {
    const { viewer, imaging, ticker } = await openViewer({ layout: '1x1' });
    const a = viewer.viewports[0]!;
    viewer.toggleCine();
    imaging.hold = true;
    const loadsBefore = imaging.loads.length;
    ticker.tick();
    await until(() => imaging.held.length === 1, 'one decode started');
    for (let i = 0; i < 5; i++) ticker.tick();
    await new Promise((r) => setTimeout(r, 20));
    expect(imaging.loads.length - loadsBefore).toBe(1);
    expect(a.getState().busy).toBe(true);
    imaging.hold = false;
    imaging.held.splice(0).forEach((d) => d.release());
    await until(() => !a.getState().busy, 'decode done');
    expect(a.getState().displayedIndex).toBe(5);
  });
});

describe('multi-frame instances', () => {
  it('scroll frame by frame when the series is one multi-frame instance', async () => {
    const { viewer, imaging } = await openViewer({ layout: '1x1' });
    viewer.selectSeries(D);
    const a = viewer.viewports[0]!;
    await until(() => a.getState().count === FRAMES && a.getState().displayedIndex >= 0, 'the frames counted');
    a.show(FRAMES - 1);
    await until(() => a.getState().displayedIndex === FRAMES - 1, 'the last frame');
    expect(imaging.ids.at(-1)).toMatch(new RegExp(`^dicomfile:\\d+\\?frame=${FRAMES - 1}$`));
    expect(a.getState().displayed?.imageId).toBe(imaging.ids.at(-1));
    a.scroll(1); // past the end stays on the last frame
    a.show(0);
    await until(() => a.getState().displayedIndex === 0, 'the first frame');
    expect(a.getState().displayed?.imageId).toMatch(/\?frame=0$/);
  });
});

describe('late decodes and failures stay in their viewport', () => {
  it('a slow decode of an older slice does not paint over the newer one', async () => {
    const { viewer, imaging } = await openViewer();
    const [a, b] = viewer.viewports as [ViewerStore['viewports'][number], ViewerStore['viewports'][number]];
    viewer.setSync(false);
    imaging.hold = true;
    a.show(1);
    await until(() => imaging.held.length === 1, 'slice 2 decoding');
    a.show(2);
    await until(() => imaging.held.length === 2, 'slice 3 decoding');
    b.show(0);
    await until(() => imaging.held.length === 3, 'B slice 1 decoding');
    imaging.hold = false;
    const [old, newer, other] = imaging.held.splice(0);
    newer!.release();
    await until(() => a.getState().displayedIndex === 2, 'slice 3 shown');
    old!.release();
    other!.release();
    await until(() => b.getState().displayedIndex === 0, 'B shown');
    await new Promise((r) => setTimeout(r, 20));
    expect(a.getState().displayedIndex).toBe(2);
    expect(imaging.painted.get(elements[0])!.at(-1)).toBe(SOPS[A]![2]);
    expect(imaging.painted.get(elements[1])!.at(-1)).toBe(SOPS[B]![0]);
  });

  it('a viewport whose image has too few pixels says why, and the others keep painting', async () => {
    const { viewer } = await openViewer({ layout: '2x2' });
    const broken = viewer.viewports[2]!;
    expect(broken.getState().seriesInstanceUID).toBe(C);
    await until(() => broken.getState().error !== undefined, 'the error');
    expect(broken.getState()).toMatchObject({ phase: 'error', displayedIndex: -1 });
    expect(broken.getState().error).toBe('Image 2/2 could not be decoded: the pixel data is truncated: 8 values where Rows × Columns needs 16');
    const a = viewer.viewports[0]!;
    a.show(3);
    await until(() => a.getState().displayedIndex === 3, 'viewport 1 scrolls');
    expect(a.getState().error).toBeUndefined();
    expect(viewer.getState().message).toBeUndefined();
  });
});
