import type { Logger } from '../../../shared/log';
import { DECODE_WORKER_FILE } from '../../../shared/csp';
import type { TeleradDB } from '../../cache/telerad-db';
import { createAnnotationRepo } from '../../viewer/annotations/annotation-repo';
import { createMeasurementStore } from '../../viewer/annotations/measurement-store';
import type { ImagingRuntime } from '../../viewer/cornerstone-setup';
import { DECODED_IMAGE_CACHE_BYTES, initCornerstone } from '../../viewer/cornerstone-setup';
import { createStackPreloader } from '../../viewer/stack-preloader';
import { initTools } from '../../viewer/tools-setup';
import type { ViewerStore } from '../../viewer/viewer-store';
import { createViewerStore } from '../../viewer/viewer-store';
import type { WorklistStore } from '../../worklist/worklist-store';
import type { ConnectivityStore } from '../connectivity';
import type { CacheWiring } from './cache';
import type { Page } from './page';

export interface ViewerWiring {
  viewer: ViewerStore;
  /** Cornerstone and its decode workers; the quality checks decode through them too. */
  imaging: ImagingRuntime;
}

/** The viewer over the cache: Cornerstone, the measurement tools, and a store that keeps its open study from eviction. */
export function wireViewer(deps: { db: TeleradDB; page: Page; log: Logger; cache: CacheWiring; worklist: WorklistStore; connectivity: ConnectivityStore }): ViewerWiring {
  const { db, page, log, worklist, connectivity } = deps;
  const { cache, retriever, openStudies, progressive } = deps.cache;
  const imaging = initCornerstone(log.child('cornerstone'), page.navigator.hardwareConcurrency, {
    host: page.window,
    url: new URL(`assets/${DECODE_WORKER_FILE}`, page.document.baseURI).href,
  });
  const measurements = createMeasurementStore({
    tools: initTools(imaging, log.child('tools')),
    repo: createAnnotationRepo(db),
    getImage: (el) => imaging.cornerstone.getImage(el),
    now: page.now,
    log: log.child('measurements'),
  });
  const viewerBase = createViewerStore({
    cache,
    retriever,
    imaging,
    log: log.child('viewer'),
    onCacheChanged: () => void worklist.refreshCached(),
    isOnline: connectivity.isOnline,
    measurements,
    createPreloader: createStackPreloader,
    decodedCacheBytes: DECODED_IMAGE_CACHE_BYTES,
    progressive,
  });
  // The open study is never evicted while it is on screen.
  const viewer: ViewerStore = {
    ...viewerBase,
    open(req) {
      const uid = req.study.studyInstanceUID;
      openStudies.opened(uid);
      const close = viewerBase.open(req);
      return () => {
        openStudies.closed(uid);
        close();
      };
    },
  };
  // Images dropped by the integrity check while offline are fetched as soon as the network is back.
  connectivity.subscribe(() => {
    if (connectivity.isOnline()) viewer.refetchDropped();
  });
  return { viewer, imaging };
}
