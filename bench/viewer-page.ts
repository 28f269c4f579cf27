// The page side of bench/viewer.bench.ts, bundled twice with esbuild and run
// in Chromium. Both bundles store the generated CT in the app's own cache
// (TeleradDB / StudyCache, real IndexedDB) and show it from there, as the
// viewer does: cached bytes → hash check → Blob → wadouri.fileManager.add →
// loadAndCacheImage → displayImage on a 1024×1024 enabled element.
// - app: Cornerstone wired by the app's initCornerstone (decode workers from
//   the standalone worker file), and after each painted slice the viewer
//   store's prefetch: slices k+1, k-1, k+2, k-2 read and loadAndCacheImage'd.
// - baseline: cornerstone's defaults — webWorkerManager not initialised (the
//   loader 4.13.2 has no main-thread decode: on the first decode it starts
//   its default workers, one per core, from an inline blob: URL), no
//   prefetch, each slice loaded only when it is shown.
// Scrolling "at full speed": slice k+1 is asked for the moment slice k is
// painted (its cornerstoneimagerendered event), two full passes.
import cornerstone from 'cornerstone-core';
import cornerstoneWADOImageLoader from 'cornerstone-wado-image-loader';
import { createLogger } from '../src/shared/log';
import { StudyCache } from '../src/renderer/cache/study-cache';
import { TeleradDB } from '../src/renderer/cache/telerad-db';
import { initCornerstone } from '../src/renderer/viewer/cornerstone-setup';
import { dicomParser } from '../src/renderer/lib/dicom-parser';

declare const __VIEWER_MODE__: 'app' | 'baseline';

export interface PassFigures {
  /** Per slice: from asking for it to its cornerstoneimagerendered event. */
  paintMs: number[];
  /** Per slice: from asking for it to displayImage called (bytes read, decoded, ready). */
  readyMs: number[];
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
  /** Median interval between animation frames while idle: the display's frame budget. */
  frameIntervalMs: number;
  decodeWorkers: number;
}

interface CacheInfo {
  maximumSizeInBytes: number;
  cacheSizeInBytes: number;
  numberOfImagesCached: number;
}
// The ambient typings (src/renderer/types/cornerstone.d.ts) declare only what the app calls.
const cs = cornerstone as typeof cornerstone & {
  imageCache: { purgeCache(): void; getCacheInfo(): CacheInfo };
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
  const db = new TeleradDB(dbName);
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
    decodeWorkers = Math.max(2, Math.min(navigator.hardwareConcurrency || 2, 4));
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
  // The viewer store's prefetch, after each painted slice.
  const prefetch = (around: number): void => {
    for (const d of [1, -1, 2, -2]) {
      const k = around + d;
      if (k < 0 || k >= count) continue;
      imageIdFor(k)
        .then((id) => cs.loadAndCacheImage(id))
        .catch(() => undefined);
    }
  };

  let onRendered: ((imageId: string) => void) | undefined;
  element.addEventListener(cs.EVENTS.IMAGE_RENDERED, (e) => {
    const detail = (e as CustomEvent<{ image?: { imageId: string } }>).detail;
    debug(`rendered ${detail.image?.imageId ?? '?'}`);
    if (detail.image) onRendered?.(detail.image.imageId);
  });

  // Progress on the console for a tiny study only (BENCH_VIEWER_SLICES ≤ 5 with BENCH_VIEWER_DEBUG=1 shows it).
  const debug = (m: string): void => {
    if (count <= 5) console.log(m);
  };
  const showAndPaint = async (i: number): Promise<{ paint: number; ready: number }> => {
    const t0 = performance.now();
    const id = await imageIdFor(i);
    debug(`slice ${i}: ${id}`);
    const image = await cs.loadAndCacheImage(id);
    const painted = new Promise<number>((resolve) => {
      onRendered = (rendered) => {
        if (rendered === id) resolve(performance.now());
      };
    });
    const ready = performance.now() - t0;
    debug(`slice ${i}: loaded`);
    cs.displayImage(element, image);
    const t1 = await painted;
    if (mode === 'app') prefetch(i);
    return { paint: t1 - t0, ready };
  };

  // The display's frame budget, measured while idle.
  const stamps: number[] = [];
  for (let f = 0; f < 30; f++) stamps.push(await nextFrame());
  const intervals = stamps.slice(1).map((t, k) => t - stamps[k]!).sort((a, b) => a - b);
  const frameIntervalMs = intervals[Math.floor(intervals.length / 2)]!;

  window.gc?.();
  const heapBeforeBytes = heap();
  const passes: PassFigures[] = [];
  for (let pass = 0; pass < 2; pass++) {
    const paintMs: number[] = [];
    const readyMs: number[] = [];
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      const f = await showAndPaint(i);
      paintMs.push(f.paint);
      readyMs.push(f.ready);
    }
    passes.push({ paintMs, readyMs, elapsedMs: performance.now() - start });
  }
  // Let the last prefetches land, then collect garbage: what the viewer keeps, not what it dropped.
  await new Promise((r) => setTimeout(r, 500));
  window.gc?.();
  const heapBytes = heap();
  const info = cs.imageCache.getCacheInfo();
  db.close();
  await deleteDb(dbName);
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
    frameIntervalMs,
    decodeWorkers,
  };
};
