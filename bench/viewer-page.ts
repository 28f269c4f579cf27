// The page side of bench/viewer.bench.ts, bundled twice with esbuild and run
// in Chromium. Both bundles store the generated CT in the app's own cache
// (TeleradDB / StudyCache, real IndexedDB) and show it from there, as the
// viewer does: cached bytes → hash check → Blob → wadouri.fileManager.add →
// loadAndCacheImage → displayImage on a 1024×1024 enabled element.
// - app: Cornerstone wired by the app's initCornerstone (decode workers from
//   the standalone worker file, 512 MiB decoded-image cache) and the viewer's
//   stack preloader (src/renderer/viewer/stack-preloader.ts): two loads per
//   decode worker in flight, window = the whole stack when it fits the image
//   cache, focused on each requested slice in the scroll direction.
// - baseline: cornerstone's defaults — webWorkerManager not initialised (the
//   loader 4.13.2 has no main-thread decode: on the first decode it starts
//   its default workers, one per core, from an inline blob: URL), no
//   prefetch, each slice loaded only when it is shown.
// Scrolling "at full speed" = one new slice asked for per animation frame, the
// fastest a display can show: at the start of each frame (where a wheel or key
// event lands, before Cornerstone's own animation-frame draw) the next slice is
// asked for, if the previous one has been painted; a frame in which the asked-for
// slice is not painted is a dropped frame. Two full passes. Per slice:
// input → painted (the request at the frame's start → its
// cornerstoneimagerendered), the paint work itself (Cornerstone's draw of it:
// cornerstoneprerender → cornerstoneimagerendered in the same frame), and the
// interval since the previous slice was painted (what "request → rendered"
// measured when the next slice was asked for on each paint: at least one frame).
import cornerstone from 'cornerstone-core';
import cornerstoneWADOImageLoader from 'cornerstone-wado-image-loader';
import { createLogger } from '../src/shared/log';
import { StudyCache } from '../src/renderer/cache/study-cache';
import { TeleradDB } from '../src/renderer/cache/telerad-db';
import { createRowSealer } from '../src/renderer/cache/sealing/row-sealer';
import { DECODED_IMAGE_CACHE_BYTES, decodeWorkerCount, initCornerstone, preloadConcurrency } from '../src/renderer/viewer/cornerstone-setup';
import { createStackPreloader, preloadWindow, type StackPreloader } from '../src/renderer/viewer/stack-preloader';
import { dicomParser } from '../src/renderer/lib/dicom/dicom-parser';

declare const __VIEWER_MODE__: 'app' | 'baseline';
/** Loads in flight for the preloader; 0 = the viewer's setting (preloadConcurrency). */
declare const __PRELOAD_CONCURRENCY__: number;

export interface PassFigures {
  /** Per slice: from asking for it at the start of a frame to its cornerstoneimagerendered event. */
  inputToPaintMs: number[];
  /** Per slice: Cornerstone's draw of it (cornerstoneprerender → cornerstoneimagerendered, one frame). */
  paintWorkMs: number[];
  /** Per slice: from the previous slice's paint to this one's (the first slice: from its request). */
  paintIntervalMs: number[];
  /** Per slice: from asking for it to displayImage called (bytes read, decoded, ready). */
  readyMs: number[];
  /** Animation frames in which the asked-for slice was not painted. */
  droppedFrames: number;
  /** From the first request to the last slice painted. */
  elapsedMs: number;
}

export interface ViewerPageFigures {
  mode: 'app' | 'baseline';
  slices: number;
  storedBytes: number;
  transferSyntaxUID: string;
  passes: PassFigures[];
  /** performance.memory.usedJSHeapSize after the two passes, after a forced GC. */
  heapBytes: number;
  heapBeforeBytes: number;
  /** Cornerstone's image cache: its configured maximum and what it held after the two passes. */
  imageCacheMaxBytes: number;
  imageCacheUsedBytes: number;
  imagesCached: number;
  /** Median interval between animation frames while idle: the display's frame budget. */
  frameIntervalMs: number;
  decodeWorkers: number;
  /** The preloader's window and concurrency (app only; 0 for the baseline). */
  preloadWindow: number;
  preloadConcurrency: number;
  /** From the first scroll request until the preloader had loaded every slice (NaN: never, or the baseline). */
  preloadAllMs: number;
}

interface CacheInfo {
  maximumSizeInBytes: number;
  cacheSizeInBytes: number;
  numberOfImagesCached: number;
}
// The ambient typings (src/renderer/types/cornerstone.d.ts) declare only what the app calls.
const cs = cornerstone as typeof cornerstone & {
  imageCache: { purgeCache(): void; getCacheInfo(): CacheInfo };
  EVENTS: { PRE_RENDER: string };
};

declare global {
  interface Window {
    __runViewerBench?: (count: number, studyUID: string, seriesUID: string, transferSyntaxUID: string) => Promise<ViewerPageFigures>;
    gc?: () => void;
  }
}

const nextFrame = (): Promise<number> => new Promise((r) => requestAnimationFrame(r));

async function deleteDb(name: string): Promise<void> {
  await new Promise<void>((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => resolve();
  });
}

const heap = (): number => (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? NaN;

window.__runViewerBench = async (count, studyUID, seriesUID, transferSyntaxUID): Promise<ViewerPageFigures> => {
  const mode = __VIEWER_MODE__;
  // Into the app's cache, as the retriever stores it: batches of 8.
  const dbName = `bench-viewer-${mode}`;
  await deleteDb(dbName);
  // Sealed as in the app since encryption at rest (issue 9): random keys made here, as main would hand them over.
  const key = (): string => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
  const sealer = await createRowSealer({ keyId: [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, '0')).join(''), dataKey: key(), outboxKey: key() });
  const db = new TeleradDB(dbName, { sealer });
  const cache = new StudyCache(db);
  await cache.upsertStudy({
    studyInstanceUID: studyUID,
    siteId: 'bench',
    patientName: 'BENCH^VIEWER',
    patientId: 'BENCH-VIEWER',
    studyDate: '20260101',
    modalities: ['CT'],
    description: 'CT',
    numInstances: count,
  });
  const sop = (i: number): string => `${seriesUID}.${i + 1}`;
  let storedBytes = 0;
  for (let i = 0; i < count; i += 8) {
    const batch = [];
    for (let k = i; k < Math.min(count, i + 8); k++) {
      const bytes = await (await fetch(`/ct/${k}`)).arrayBuffer();
      storedBytes += bytes.byteLength;
      batch.push({
        meta: { sopInstanceUID: sop(k), studyInstanceUID: studyUID, seriesInstanceUID: seriesUID, instanceNumber: k + 1, transferSyntaxUID },
        bytes,
      });
    }
    await cache.putInstances(batch);
  }

  const logs: string[] = [];
  const log = createLogger('viewer-bench', (r) => logs.push(`${r.level} ${r.message}`));
  let addFile: (file: Blob) => string;
  let decodeWorkers = 0;
  if (mode === 'app') {
    decodeWorkers = decodeWorkerCount(navigator.hardwareConcurrency);
    const imaging = initCornerstone(log, navigator.hardwareConcurrency, {
      host: window,
      url: new URL('/index.worker.bundle.min.worker.js', document.baseURI).href,
    });
    addFile = imaging.addFile;
  } else {
    cornerstoneWADOImageLoader.external.cornerstone = cornerstone;
    cornerstoneWADOImageLoader.external.dicomParser = dicomParser;
    addFile = (file) => cornerstoneWADOImageLoader.wadouri.fileManager.add(file);
  }

  const element = document.createElement('div');
  element.style.width = '1024px';
  element.style.height = '1024px';
  document.body.style.margin = '0';
  document.body.append(element);
  cs.enable(element);

  // The viewer store's imageIdFor: cached bytes (hash-checked) registered once per SOP instance.
  const imageIds = new Map<string, Promise<string>>();
  const imageIdFor = (i: number): Promise<string> => {
    let p = imageIds.get(sop(i));
    if (!p) {
      p = cache.readInstanceBytes(sop(i)).then((bytes) => {
        if (!bytes) throw new Error(`slice ${i} missing from the cache`);
        return addFile(new Blob([bytes], { type: 'application/dicom' }));
      });
      imageIds.set(sop(i), p);
    }
    return p;
  };

  // The viewer's preloader: a decoded 512×512 16-bit slice is 0.5 MB, so the whole stack fits the cache.
  const concurrency = __PRELOAD_CONCURRENCY__ || preloadConcurrency(navigator.hardwareConcurrency);
  let preloaded = 0;
  let preloadDoneAt = NaN;
  const window_ = mode === 'app' ? preloadWindow(count, 512 * 512 * 2, DECODED_IMAGE_CACHE_BYTES) : 0;
  const preloader: StackPreloader | undefined =
    mode === 'app'
      ? createStackPreloader({
          count,
          concurrency,
          window: window_,
          log,
          load: async (i) => {
            await cs.loadAndCacheImage(await imageIdFor(i));
            if (++preloaded === count) preloadDoneAt = performance.now();
          },
        })
      : undefined;

  // Cornerstone draws in its own animation-frame loop: cornerstoneprerender starts each frame's
  // draw, cornerstoneimagerendered ends the draw of a new image.
  let preRenderAt = 0;
  let onRendered: ((imageId: string, at: number) => void) | undefined;
  let onPreRender: (() => void) | undefined;
  element.addEventListener(cs.EVENTS.PRE_RENDER, () => {
    preRenderAt = performance.now();
    const once = onPreRender;
    onPreRender = undefined;
    once?.();
  });
  element.addEventListener(cs.EVENTS.IMAGE_RENDERED, (e) => {
    const at = performance.now();
    const detail = (e as CustomEvent<{ image?: { imageId: string } }>).detail;
    if (detail.image) onRendered?.(detail.image.imageId, at);
  });

  // The display's frame budget, measured while idle.
  const stamps: number[] = [];
  for (let f = 0; f < 30; f++) stamps.push(await nextFrame());
  const intervals = stamps.slice(1).map((t, k) => t - stamps[k]!).sort((a, b) => a - b);
  const frameIntervalMs = intervals[Math.floor(intervals.length / 2)]!;

  /** One pass: a new slice asked for at the start of every animation frame once the previous one is painted. */
  const scrollPass = (): Promise<PassFigures> =>
    new Promise((resolve, reject) => {
      const fig: PassFigures = { inputToPaintMs: [], paintWorkMs: [], paintIntervalMs: [], readyMs: [], droppedFrames: 0, elapsedMs: 0 };
      let next = 0;
      let waiting: { index: number; imageId?: string; t0: number } | undefined;
      let start = 0;
      let lastPaint = 0;
      onRendered = (imageId, at) => {
        if (!waiting || waiting.imageId !== imageId) return;
        fig.inputToPaintMs.push(at - waiting.t0);
        fig.paintWorkMs.push(at - preRenderAt);
        fig.paintIntervalMs.push(at - (lastPaint || waiting.t0));
        lastPaint = at;
        waiting = undefined;
        if (next >= count) {
          fig.elapsedMs = at - start;
          onRendered = undefined;
          resolve(fig);
        }
      };
      const request = (index: number): void => {
        const t0 = performance.now();
        if (index === 0) start = t0;
        const w: { index: number; imageId?: string; t0: number } = { index, t0 };
        waiting = w;
        preloader?.focus(index, 1);
        void (async () => {
          const id = await imageIdFor(index);
          w.imageId = id;
          const image = await cs.loadAndCacheImage(id);
          fig.readyMs.push(performance.now() - t0);
          cs.displayImage(element, image);
        })().catch(reject);
      };
      // Registered from a frame's draw start, this callback runs before Cornerstone's draw in
      // every later frame (callbacks run in the order they were registered): as input would.
      let lastTick = 0;
      const tick = (frameStart: number): void => {
        if (next >= count && !waiting) return;
        // Frames the browser skipped (a long task on the main thread) showed no new slice either.
        if (lastTick) fig.droppedFrames += Math.max(0, Math.round((frameStart - lastTick) / frameIntervalMs) - 1);
        lastTick = frameStart;
        if (waiting) fig.droppedFrames++;
        else request(next++);
        requestAnimationFrame(tick);
      };
      onPreRender = () => requestAnimationFrame(tick);
    });

  window.gc?.();
  const heapBeforeBytes = heap();
  const passes: PassFigures[] = [];
  const scrollStart = performance.now();
  for (let pass = 0; pass < 2; pass++) passes.push(await scrollPass());
  // Let the last loads land, then collect garbage: what the viewer keeps, not what it dropped.
  await new Promise((r) => setTimeout(r, 500));
  window.gc?.();
  const heapBytes = heap();
  const info = cs.imageCache.getCacheInfo();
  preloader?.stop();
  db.close();
  await deleteDb(dbName);
  if (logs.some((l) => l.startsWith('warn') || l.startsWith('error'))) console.error(logs.join('\n'));
  return {
    mode,
    slices: count,
    storedBytes,
    transferSyntaxUID,
    passes,
    heapBytes,
    heapBeforeBytes,
    imageCacheMaxBytes: info.maximumSizeInBytes,
    imageCacheUsedBytes: info.cacheSizeInBytes,
    imagesCached: info.numberOfImagesCached,
    frameIntervalMs,
    decodeWorkers,
    preloadWindow: window_,
    preloadConcurrency: mode === 'app' ? concurrency : 0,
    preloadAllMs: preloadDoneAt - scrollStart,
  };
};
