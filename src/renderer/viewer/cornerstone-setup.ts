import cornerstone from 'cornerstone-core';
import cornerstoneWADOImageLoader from 'cornerstone-wado-image-loader';
import type { Logger } from '../../shared/log';
import { dicomParser } from '../lib/dicom-parser';

/** What the viewer needs from Cornerstone, handed to it by the app root rather than imported. */
export interface ImagingRuntime {
  cornerstone: typeof cornerstone;
  /** Registers a cached file with the image loader; returns its `dicomfile:` imageId. */
  addFile(file: Blob): string;
  /** Forgets every registered file and decoded image (the viewer closed). */
  releaseAll(): void;
}

/**
 * Wires Cornerstone and its DICOM image loader, once, from the app root —
 * never at import time, so tests and the worklist-only paths import viewer
 * code without starting web workers. Decoding runs in the loader's bundled
 * workers (its WASM codecs inside them), 2 up to one per core.
 */
export function initCornerstone(log: Logger, hardwareConcurrency: number): ImagingRuntime {
  cornerstoneWADOImageLoader.external.cornerstone = cornerstone;
  cornerstoneWADOImageLoader.external.dicomParser = dicomParser;
  // At most 8: each worker holds its own codec heaps, and past that decode is not the bottleneck.
  const maxWebWorkers = Math.max(2, Math.min(hardwareConcurrency || 2, 8));
  cornerstoneWADOImageLoader.webWorkerManager.initialize({
    maxWebWorkers,
    startWebWorkersOnDemand: true,
    taskConfiguration: {
      // Codecs load lazily in each worker: most studies need only one or none (raw little endian).
      decodeTask: { initializeCodecsOnStartup: false, strict: false },
    },
  });
  log.info(`Cornerstone ready, up to ${maxWebWorkers} decode workers`);
  const fileManager = cornerstoneWADOImageLoader.wadouri.fileManager;
  return {
    cornerstone,
    addFile: (file) => fileManager.add(file),
    releaseAll: () => {
      fileManager.purge();
      cornerstone.imageCache.purgeCache();
    },
  };
}
