import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { StudyListingRecord } from './telerad-db';
import type { EnsureStudyRequest, EnsureStudyResult, RetrieveProgress } from './retrieval-types';

/** A retrieval under way, that a second caller of the same study joins. */
export interface SharedRun {
  siteId: string;
  signal: AbortSignal;
  promise: Promise<EnsureStudyResult>;
  join(req: EnsureStudyRequest): Promise<EnsureStudyResult>;
  /** Settles when the viewer's first slice is stored (or the instance list failed, or nothing is left to fetch). */
  firstSlice: Promise<void>;
  firstSliceDone: () => void;
  /** A reader joined a background retrieval: previews are planned now. */
  promote?: () => void;
  foregroundJoined?: boolean;
}

export interface RetrievalCallers {
  shared: SharedRun;
  /** What the retrieval runs with: it tells every caller still there, and what came before to one who joins late. */
  fanout: EnsureStudyRequest;
  controller: AbortController;
  /** The user's cancel (not the site going away): the retrieval ends as cancelled. */
  cancel: () => void;
  cancelled: () => boolean;
}

export interface RetrievalCallersDeps {
  log: Logger;
  /** The viewer's first slice is in (or will not come): whoever waits for it goes on. */
  onFirstSlice: () => void;
  /** A reader joined: the study's retrieval goes ahead of background work again. */
  onForegroundJoin: () => void;
}

/**
 * The callers of one retrieval and its cancellation. One controller ends it all: every
 * caller leaving, the user cancelling in the transfers panel, and the link going down. A
 * caller leaving (its signal) only detaches it; the retrieval stops when none is left. A
 * listener that throws is logged and never stops the others being told.
 */
export function gatherCallers(req: EnsureStudyRequest, site: SiteSummary, deps: RetrievalCallersDeps): RetrievalCallers {
  const controller = new AbortController();
  let cancelled = false;
  const cancel = (): void => {
    cancelled = true;
    controller.abort(new DOMException('Retrieval cancelled', 'AbortError'));
  };
  const callers = new Set<EnsureStudyRequest>();
  const live = (): EnsureStudyRequest[] => [...callers].filter((r) => !r.signal?.aborted);
  const tell = <T>(pick: (r: EnsureStudyRequest) => ((e: T) => void) | undefined, e: T): void => {
    for (const r of live()) {
      try {
        pick(r)?.(e);
      } catch (err) {
        deps.log.error('A retrieval listener failed', err);
      }
    }
  };
  let listing: StudyListingRecord | undefined;
  let lastProgress: RetrieveProgress | undefined;
  let listedNow!: () => void;
  const listingPromise = new Promise<void>((r) => (listedNow = r));
  const shared: SharedRun = {
    siteId: site.id,
    signal: controller.signal,
    firstSlice: listingPromise,
    firstSliceDone: () => {
      listedNow();
      deps.onFirstSlice();
    },
    promise: Promise.resolve({ source: 'network', complete: false }),
    join: (joiner) => {
      attach(joiner);
      if (listing) joiner.onListed?.(listing);
      if (lastProgress) joiner.onProgress?.(lastProgress);
      if (!joiner.background) {
        shared.foregroundJoined = true;
        deps.onForegroundJoin();
        shared.promote?.();
      }
      return shared.promise;
    },
  };
  const attach = (r: EnsureStudyRequest): void => {
    callers.add(r);
    if (r.signal?.aborted) return void (live().length === 0 && cancel());
    r.signal?.addEventListener(
      'abort',
      () => {
        if (live().length === 0) cancel();
      },
      { once: true },
    );
  };
  attach(req);
  const fanout: EnsureStudyRequest = {
    site,
    study: req.study,
    ...(req.background ? { background: req.background } : {}),
    ...(req.previews !== undefined ? { previews: req.previews } : {}),
    onProgress: (p) => {
      lastProgress = p;
      tell((r) => r.onProgress, p);
    },
    onInstanceStored: (e) => tell((r) => r.onInstanceStored, e),
    onPreviewStored: (e) => tell((r) => r.onPreviewStored, e),
    onListed: (l) => {
      listing = l;
      tell((r) => r.onListed, l);
    },
  };
  return { shared, fanout, controller, cancel, cancelled: () => cancelled };
}
