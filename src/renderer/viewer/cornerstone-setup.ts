import { createDicomFileIds } from './dicom-file-ids';
import cornerstone from 'cornerstone-core';
import type { Image } from 'cornerstone-core';
import cornerstoneWADOImageLoader from 'cornerstone-wado-image-loader';
import type { Logger } from '../../shared/log';
import { dicomParser } from '../lib/dicom/dicom-parser';

/** What the viewer needs from Cornerstone, handed to it by the app root rather than imported. */
export interface ImagingRuntime {
  cornerstone: typeof cornerstone;
  /** Registers a cached file with the image loader; returns its `dicomfile:` imageId. */
  addFile(file: Blob): string;
  /**
   * Forgets one registered file (a one-off decode, e.g. the quality checks'),
   * only while `imageId` still names `file`: releaseAll renumbers from 0.
   */
  removeFile?(imageId: string, file: Blob): void;
  /**
   * Registers a stored preview (a JPEG the site rendered) with the preview
   * loader; returns its `telerad-preview:` imageId. The decoded image has the
   * instance's own `columns` × `rows` when they are known (the JPEG is scaled
   * up to them), so zoom, pan and the overlay carry over unchanged when the
   * lossless image replaces it.
   */
  addPreview?(jpeg: ArrayBuffer, size: { columns?: number; rows?: number }): string;
  /** Forgets a preview and its decoded image (its lossless image arrived). */
  removePreview?(imageId: string): void;
  /** Forgets every registered file and decoded image (the viewer closed). */
  releaseAll(): void;
}

/** The image loader scheme of previews. */
export const PREVIEW_SCHEME = 'telerad-preview';

/** What a decoded preview needs: the JPEG and the instance's own size. */
interface PreviewEntry {
  jpeg: ArrayBuffer;
  columns?: number;
  rows?: number;
}

/**
 * Decodes a preview JPEG into a Cornerstone image: off the main thread where
 * the browser can (createImageBitmap), scaled onto the instance's own grid.
 * A grey preview becomes an 8-bit greyscale image with the identity window
 * (what the site rendered is what is shown); a colour one stays RGB. The
 * image says it is a preview, with no pixel spacing, so nothing measures on it.
 */
async function decodePreview(imageId: string, entry: PreviewEntry): Promise<Image> {
  const bitmap = await createImageBitmap(new Blob([entry.jpeg], { type: 'image/jpeg' }));
  try {
    const columns = entry.columns ?? bitmap.width;
    const rows = entry.rows ?? bitmap.height;
    const canvas = new OffscreenCanvas(columns, rows);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('no 2d context to decode a preview');
    // Bilinear, as Cornerstone itself scales: 'high' cost several ms more per preview on the main thread.
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'low';
    ctx.drawImage(bitmap, 0, 0, columns, rows);
    const rgba = ctx.getImageData(0, 0, columns, rows).data;
    // Plain loops over typed arrays: this runs on the main thread for every preview shown or read ahead
    // (Uint8Array.from with a callback cost 20–30 ms per 512² preview in bench/progressive's profile).
    const n = columns * rows;
    let grey = true;
    for (let i = 0; i < rgba.length; i += 4) {
      if (rgba[i] !== rgba[i + 1] || rgba[i] !== rgba[i + 2]) {
        grey = false;
        break;
      }
    }
    let pixels: Uint8Array | Uint8ClampedArray = rgba;
    if (grey) {
      const g = new Uint8Array(n);
      for (let k = 0, i = 0; k < n; k++, i += 4) g[k] = rgba[i]!;
      pixels = g;
    }
    const image = {
      imageId,
      minPixelValue: 0,
      maxPixelValue: 255,
      slope: 1,
      intercept: 0,
      windowCenter: 128,
      windowWidth: 256,
      getPixelData: () => pixels,
      rows,
      columns,
      height: rows,
      width: columns,
      color: !grey,
      rgba: false,
      invert: false,
      sizeInBytes: pixels.byteLength,
      preview: true,
    };
    return image as unknown as Image;
  } finally {
    bitmap.close();
  }
}

/**
 * Wires Cornerstone and its DICOM image loader, once, from the app root —
 * never at import time, so tests and the worklist-only paths import viewer
 * code without starting web workers. Decoding runs in the loader's bundled
 * workers (its WASM codecs inside them), 2 to 4 (decodeWorkerCount).
 */
export interface DecodeWorkerHost {
  Worker: typeof Worker;
}

/**
 * Starts the loader's decode workers from `decodeWorkerUrl` (the loader's
 * standalone worker file, served by the app with its own CSP) instead of the
 * inline blob: URL the loader builds. Why: the codecs' Emscripten glue needs
 * eval; a blob: worker inherits the page's policy, which forbids eval, and
 * Chromium blocks a CSP-refused blob: worker asynchronously, so the loader's
 * own fallback to its file never triggers. The swap is confined to the
 * synchronous `initialize` call, which spawns every worker up front; the
 * global constructor is restored before anything else runs.
 */
function withDecodeWorkerUrl(host: DecodeWorkerHost, decodeWorkerUrl: string, start: () => void): void {
  const Original = host.Worker;
  host.Worker = class extends Original {
    constructor(url: string | URL, options?: WorkerOptions) {
      const href = String(url);
      super(href.startsWith('blob:') || href.startsWith('data:') ? decodeWorkerUrl : url, options);
    }
  };
  try {
    start();
  } finally {
    host.Worker = Original;
  }
}

/**
 * Decode workers for a machine with `hardwareConcurrency` cores: 2 up to 4.
 * At most 4: each worker holds its own codec heaps, and past that decode is not the bottleneck here.
 */
export function decodeWorkerCount(hardwareConcurrency: number): number {
  return Math.max(2, Math.min(hardwareConcurrency || 2, 4));
}

/**
 * Slice loads the stack preloader keeps in flight: two per decode worker, so
 * each worker has the next slice queued while the main thread reads, hash-checks
 * and parses it. bench/viewer's decoding pass on the shared 2-core machine: 31–51 fps (median 39,
 * 6 runs) with two per worker, 31–41 (median 32, 3 runs) with one — noisy, but never worse.
 */
export function preloadConcurrency(hardwareConcurrency: number): number {
  return 2 * decodeWorkerCount(hardwareConcurrency);
}

/** Upper bound of decoded pixels kept in memory across viewports and studies. */
export const DECODED_IMAGE_CACHE_BYTES = 512 * 1024 * 1024;

export function initCornerstone(
  log: Logger,
  hardwareConcurrency: number,
  decodeWorker: { host: DecodeWorkerHost; url: string },
): ImagingRuntime {
  cornerstoneWADOImageLoader.external.cornerstone = cornerstone;
  cornerstoneWADOImageLoader.external.dicomParser = dicomParser;
  const maxWebWorkers = decodeWorkerCount(hardwareConcurrency);
  withDecodeWorkerUrl(decodeWorker.host, decodeWorker.url, () =>
    cornerstoneWADOImageLoader.webWorkerManager.initialize({
      maxWebWorkers,
      // All workers now, inside withDecodeWorkerUrl: an on-demand spawn later would use the blob: URL.
      startWebWorkersOnDemand: false,
      taskConfiguration: {
        // JPEG-LS and JPEG 2000 are compiled in each worker as it starts (in the background, before any study
        // is opened): loaded lazily, the first JPEG-LS slice of a study waited ≈ 150–200 ms more for it, and
        // JPEG-LS is what every transcoding site sends (bench/progressive: the first lossless paint).
        decodeTask: { initializeCodecsOnStartup: true, strict: false },
      },
    }),
  );
  // Decoded images live in Cornerstone's cache; its 1 GiB default is what bounded the heap in
  // bench/viewer. 512 MiB holds a decoded 300-slice CT (~160 MB) three times over.
  cornerstone.imageCache.setMaximumSizeBytes(DECODED_IMAGE_CACHE_BYTES);
  log.info(`Cornerstone ready, ${maxWebWorkers} decode workers from ${decodeWorker.url}`);
  const fileManager = cornerstoneWADOImageLoader.wadouri.fileManager;
  const previews = new Map<string, PreviewEntry>();
  let previewSeq = 0;
  cornerstone.registerImageLoader(PREVIEW_SCHEME, (imageId: string) => {
    const entry = previews.get(imageId);
    return { promise: entry ? decodePreview(imageId, entry) : Promise.reject(new Error(`Preview ${imageId} is not registered`)) };
  });
  const forgetPreview = (imageId: string): void => {
    previews.delete(imageId);
    try {
      cornerstone.imageCache.removeImageLoadObject(imageId);
    } catch {
      // Never decoded (or already evicted from the image cache): nothing to release.
    }
  };
  const files = createDicomFileIds(fileManager);
  return {
    cornerstone,
    addFile: (file) => files.add(file),
    removeFile: (imageId, file) => files.remove(imageId, file),
    addPreview: (jpeg, size) => {
      const imageId = `${PREVIEW_SCHEME}:${++previewSeq}`;
      previews.set(imageId, { jpeg, ...(size.columns ? { columns: size.columns } : {}), ...(size.rows ? { rows: size.rows } : {}) });
      return imageId;
    },
    removePreview: forgetPreview,
    releaseAll: () => {
      previews.clear();
      files.removeAll();
      cornerstone.imageCache.purgeCache();
    },
  };
}
