import type { Logger } from '../../shared/log';
import { errorMessage } from '../../shared/error-message';
import { BadAnswerError, HttpStatusError, classifySiteError, isOfflineFailure } from '../dicomweb/site-error';
import type { SiteFailure } from '../dicomweb/site-error';
import { CacheFullError } from './cache-budget';
import type { InstanceFetcher, Downloaded } from './instance-fetcher';
import type { RetrievalCallers } from './retrieval-callers';
import { RetrievalOrder } from './retrieval-order';
import { orderedSeries, previewViewport } from './retrieval-plan';
import type { PlannedInstance } from './retrieval-plan';
import type { RetrievalProgress } from './retrieval-progress';
import type { LinkSource, LinkWork } from './site-link';
import { failureOf, withDeadline } from './site-requests';
import type { StudyRun } from './site-requests';
import type { StudyCache } from './study-cache';
import type { EnsureStudyRequest, StoredAnyEvent, StoredInstanceEvent } from './retrieval-types';
import type { SeriesRecord } from './telerad-db';
import { instanceWriter, previewWriterOf } from './write-behind';

/** Previews per batch request, and batch requests at once (the gateway asks the site for eight of a batch at a time). */
const PREVIEW_BATCH_SIZE = 16;
const PREVIEW_BATCHES_IN_FLIGHT = 2;

/** How long previews go before the lossless transfer (but for the hanging and focused slices), at most. */
const PREVIEW_FIRST_MS = 10_000;

/** What a study's stream uses of the retriever: shared by every retrieval, owned by none. */
export interface StudyStreamDeps {
  cache: StudyCache;
  log: Logger;
  fetcher: InstanceFetcher;
  requestTimeoutMs: number;
  /** Previews' longer side in pixels and JPEG quality. */
  previews: { size: number; quality: number };
  /** Sites whose gateway answered a preview batch 404/405 (a host without batches): previews one by one. */
  noBatches: Set<string>;
  /** A slot may have freed for other work on the site's link. */
  pump: () => void;
  tellStored: (e: StoredAnyEvent) => void;
  /** The site was found not to render: remembered across sessions. */
  rememberNoRendering: () => void;
  /** Which of these instances get a preview, for a reader who joined a background retrieval. */
  planPreviews: (missing: readonly PlannedInstance[]) => Promise<PlannedInstance[]>;
}

export interface StudyStreamPlan {
  /** The retrieval's requests to its callers (the fan-out). */
  req: EnsureStudyRequest;
  run: StudyRun;
  shared: RetrievalCallers['shared'];
  progress: RetrievalProgress;
  planned: readonly PlannedInstance[];
  /** Listed and not stored yet. */
  missing: PlannedInstance[];
  /** Of `missing`, those that get a preview now. */
  previews: PlannedInstance[];
  rank: number;
  paused: boolean;
}

/**
 * One study's retrieval on its site's link: which request goes next (previews first, then
 * lossless; the hanging and focused slices before either), each instance fetched and
 * written behind, each preview kept unless its lossless file won the race. `finished`
 * settles when nothing is left or the retrieval was stopped; what went wrong first is
 * `firstFailure`. Writes are awaited outside the request slots: a slot is not held while
 * its batch fills.
 */
export class StudyStream implements LinkSource {
  readonly studyInstanceUID: string;
  readonly order: RetrievalOrder;
  foreground: boolean;
  rank: number;
  paused: boolean;
  /** Why the study is incomplete, when the network let us down part way. */
  firstFailure: SiteFailure | undefined;
  /** Fetched from the site by this retrieval and committed to the cache. */
  readonly fetchedHere: string[] = [];
  /** Series fields from the files' headers, for what QIDO left empty. */
  readonly headerSeries = new Map<string, Partial<SeriesRecord>>();
  readonly finished: Promise<void>;

  private readonly req: EnsureStudyRequest;
  private readonly run: StudyRun;
  private readonly shared: RetrievalCallers['shared'];
  private readonly progress: RetrievalProgress;
  private readonly bySop: Map<string, PlannedInstance>;
  /** The slice the viewer shows first: the hanging slice of the first (largest) series. */
  private readonly firstSliceSop: string | undefined;
  private firstSliceStored: boolean;
  private readonly previews: PlannedInstance[];
  private previewsOn: boolean;
  private promoted: boolean;
  private previewFailures = 0;
  private readonly listedAt: number;
  private losslessInFlight = 0;
  /** Preview requests in flight (a batch counts once). */
  private previewsInFlight = 0;
  private inFlight = 0;
  private readonly writer: ReturnType<typeof instanceWriter>;
  private readonly previewWriter: ReturnType<typeof previewWriterOf>;
  private readonly writes: Promise<unknown>[] = [];
  private settleRun!: () => void;

  constructor(
    private readonly deps: StudyStreamDeps,
    plan: StudyStreamPlan,
  ) {
    const { req, run, shared, progress, planned, missing, previews } = plan;
    this.req = req;
    this.run = run;
    this.shared = shared;
    this.progress = progress;
    this.studyInstanceUID = req.study.studyInstanceUID;
    this.bySop = new Map(planned.map((p) => [p.sopInstanceUID, p]));
    this.firstSliceSop = planned.find((p) => p.firstOfSeries)?.sopInstanceUID;
    this.firstSliceStored = this.firstSliceSop === undefined || progress.stored.has(this.firstSliceSop);
    if (this.firstSliceStored) shared.firstSliceDone();
    this.order = new RetrievalOrder(orderedSeries(planned));
    for (const p of missing) this.order.want('lossless', p.sopInstanceUID);
    this.previews = previews;
    for (const p of previews) this.order.want('preview', p.sopInstanceUID);
    progress.previewsTotal = previews.length;
    this.previewsOn = previews.length > 0;
    // Prefetch fetches no previews; a reader who opens the study meanwhile gets them for what is still missing.
    this.promoted = !req.background;
    shared.promote = () => this.promote(missing);
    if (shared.foregroundJoined) shared.promote();
    this.listedAt = Date.now();
    this.writer = instanceWriter(deps.cache);
    this.previewWriter = previewWriterOf(deps.cache);
    this.finished = new Promise<void>((r) => (this.settleRun = r));
    this.foreground = !req.background || shared.foregroundJoined === true;
    this.rank = plan.rank;
    this.paused = plan.paused;
  }

  /** The retrieval was stopped: nothing queued goes out. */
  readonly onAbort = (): void => {
    this.order.clear();
    this.maybeFinished();
  };

  maybeFinished(): void {
    if (this.inFlight === 0 && (this.order.count('lossless') === 0 || this.run.signal.aborted)) {
      this.order.clear();
      this.settleRun();
    }
  }

  /** Writes what is queued now rather than after the batch delay; settles when every write has. */
  flushWrites(): Promise<unknown[]> {
    this.writer.flush();
    this.previewWriter.flush();
    return Promise.all(this.writes);
  }

  next(previewSlots: number): LinkWork | undefined {
    const { order } = this;
    if (this.run.signal.aborted) return undefined;
    const urgent = order.takeUrgent();
    if (urgent !== undefined) return this.lossless(urgent);
    const losslessLeft = order.count('lossless') > 0;
    // Previews first: on a slow link a lossless file queued on the line holds every small answer
    // behind it (bench/progressive: 4 previews beside one lossless download took 0.3 s each, 28 s for
    // 300). So while previews remain they take every slot the hanging and focused slices leave —
    // a few seconds at 10 Mbit/s — except past PREVIEW_FIRST_MS (a slow renderer), when one lossless
    // download always runs.
    const previewsFirst = Date.now() - this.listedAt < PREVIEW_FIRST_MS || this.losslessInFlight > 0;
    // While the first slice is on its way, two previews beside it at most: every request more then is a
    // new connection and a render at the site competing with the one file the reader is waiting for.
    // Batched, two requests carry sixteen previews at a time; one beside the first slice.
    const batched = this.batching();
    const besideFirst = !this.firstSliceStored && this.previewsInFlight >= (batched ? 1 : 2);
    const tooMany = batched && this.previewsInFlight >= PREVIEW_BATCHES_IN_FLIGHT;
    if (this.previewsOn && order.count('preview') > 0 && (previewsFirst || !losslessLeft)) {
      // A slot a preview may not take now stays free: it is not given to a lossless file either.
      if (besideFirst || tooMany || previewSlots <= 0) return undefined;
      if (batched) {
        const sops: string[] = [];
        for (let p = order.take('preview'); p !== undefined; p = sops.length < PREVIEW_BATCH_SIZE ? order.take('preview') : undefined) sops.push(p);
        if (sops.length > 0) return this.previewBatch(sops);
      } else {
        const p = order.take('preview');
        if (p !== undefined) return this.preview(p);
      }
    }
    const next = order.take('lossless');
    return next !== undefined ? this.lossless(next) : undefined;
  }

  private promote(missing: readonly PlannedInstance[]): void {
    if (this.promoted) return;
    this.promoted = true;
    const { stored } = this.progress;
    void this.deps
      .planPreviews(missing.filter((p) => !stored.has(p.sopInstanceUID) && this.order.has('lossless', p.sopInstanceUID)))
      .then((more) => {
        if (this.run.signal.aborted || more.length === 0) return;
        for (const p of more) {
          this.order.want('preview', p.sopInstanceUID);
          this.previews.push(p);
        }
        this.progress.previewsTotal += more.length;
        this.previewsOn = true;
        this.progress.report();
        this.deps.pump();
      })
      .catch((err: unknown) => this.deps.log.warn(`Planning previews of ${this.studyInstanceUID} failed`, err));
  }

  private lossless(sop: string): LinkWork {
    return {
      kind: 'lossless',
      run: async () => {
        const item = this.bySop.get(sop)!;
        this.inFlight++;
        this.losslessInFlight++;
        let downloaded: Downloaded | undefined;
        try {
          if (this.run.signal.aborted) return this.settleLossless();
          downloaded = await this.deps.fetcher.fetchOne(this.run, item);
        } catch (err) {
          this.noteLosslessFailure(item, err);
          return this.settleLossless();
        } finally {
          this.losslessInFlight--;
        }
        // The write waits outside the slot: a download slot is not held while its batch fills.
        void this.storeLossless(item, downloaded).finally(() => this.settleLossless());
      },
    };
  }

  private settleLossless(): void {
    this.inFlight--;
    this.maybeFinished();
  }

  private async storeLossless(item: PlannedInstance, downloaded: Downloaded | undefined): Promise<void> {
    const sop = item.sopInstanceUID;
    try {
      if (downloaded) {
        const { fetched } = downloaded;
        const write = (async () => {
          try {
            await this.writer.add({ meta: downloaded.meta, bytes: fetched.bytes }, item.firstOfSeries);
          } finally {
            downloaded.release();
          }
        })();
        this.writes.push(write.catch(() => undefined));
        await write;
        this.fetchedHere.push(sop);
        if (!this.headerSeries.has(item.seriesInstanceUID)) {
          this.headerSeries.set(item.seriesInstanceUID, { modality: fetched.header.modality, description: fetched.header.seriesDescription, seriesNumber: fetched.header.seriesNumber });
        }
        this.req.onInstanceStored?.(storedInstanceEvent(item, downloaded));
        this.deps.tellStored({ studyInstanceUID: this.studyInstanceUID, sopInstanceUID: sop, kind: 'lossless', header: fetched.header });
      }
      if (sop === this.firstSliceSop) {
        this.firstSliceStored = true;
        this.shared.firstSliceDone();
        this.deps.pump();
      }
      this.progress.stored.add(sop);
      // Its preview is of no use any more.
      if (this.order.has('preview', sop)) {
        this.order.drop('preview', sop);
        this.progress.previewsTotal--;
      }
      this.progress.report();
    } catch (err) {
      this.noteLosslessFailure(item, err);
    }
  }

  /** A lossless download that failed for good (after its retries): noted, and the retrieval stopped when going on is pointless. */
  private noteLosslessFailure(item: PlannedInstance, err: unknown): void {
    const { run } = this;
    const { log } = this.deps;
    // Cancelled, or stopped after the site went away (then the first failure says why).
    if (run.signal.aborted) return;
    // The local disk is full: its message says what to do, and every other download
    // would only be refused the same way. Say it unchanged and stop the retrieval.
    if (err instanceof CacheFullError) {
      this.firstFailure ??= { kind: 'other', message: err.message };
      run.handle?.noteError(err.message);
      log.warn(err.message);
      run.stop();
      return;
    }
    const failure = failureOf(err, `retrieving instance ${item.sopInstanceUID} by WADO-RS`);
    this.firstFailure ??= failure;
    run.handle?.noteError(`${run.site.name}: ${failure.message}`);
    log.warn(`WADO-RS of ${item.sopInstanceUID} (${run.site.id}) failed: ${failure.message}`);
    // No network: every other request would wait for the same timeout. Stop them all.
    if (isOfflineFailure(failure)) run.stop();
  }

  private viewportOf(item: PlannedInstance): { width: number; height: number } {
    return previewViewport(item.columns, item.rows, this.deps.previews.size);
  }

  /** A preview that arrived: written (outside the request slot: a write batch fills for up to 40 ms). */
  private keepPreview(item: PlannedInstance, jpeg: { bytes: ArrayBuffer; width: number; height: number }): void {
    const { progress } = this;
    const sop = item.sopInstanceUID;
    if (progress.stored.has(sop)) {
      // The lossless file won the race: no preview is kept for it.
      progress.previewsTotal--;
      progress.report();
      return;
    }
    const put = this.previewWriter.add({ sopInstanceUID: sop, studyInstanceUID: this.studyInstanceUID, seriesInstanceUID: item.seriesInstanceUID, bytes: jpeg.bytes, width: jpeg.width, height: jpeg.height });
    this.inFlight++;
    const written = put.then(
      (kept) => {
        if (kept) {
          progress.previewsDone++;
          this.req.onPreviewStored?.({ seriesInstanceUID: item.seriesInstanceUID, sopInstanceUID: sop });
          this.deps.tellStored({ studyInstanceUID: this.studyInstanceUID, sopInstanceUID: sop, kind: 'preview' });
        } else progress.previewsTotal--;
        progress.report();
      },
      (err: unknown) => {
        progress.previewsTotal--;
        this.deps.log.warn(`Storing the preview of ${sop} failed`, err);
        progress.report();
      },
    );
    this.writes.push(
      written.finally(() => {
        this.inFlight--;
        this.maybeFinished();
      }),
    );
  }

  /** A preview that failed: the site does not render (no more previews), is gone (stop), or this one is skipped. */
  private previewFailed(sop: string, err: unknown): void {
    const { run, progress } = this;
    if (run.signal.aborted) return;
    if (refusedRendering(err)) {
      // The site does not render: no previews from it, the study streams lossless only.
      if (this.previewsOn) {
        this.previewsOn = false;
        for (const p of this.previews) this.order.drop('preview', p.sopInstanceUID);
        progress.previewsTotal = progress.previewsDone;
        this.deps.log.info(`${run.site.id} does not answer WADO-RS /rendered (${errorMessage(err)}): no previews, lossless only`);
        this.deps.rememberNoRendering();
        progress.report();
      }
      return;
    }
    const failure = classifySiteError(err);
    if (isOfflineFailure(failure)) {
      this.firstFailure ??= { ...failure, message: `${failure.message} while retrieving a preview by WADO-RS` };
      run.handle?.noteError(`${run.site.name}: ${failure.message}`);
      run.stop();
      return;
    }
    // A preview is a convenience: one that fails is skipped, its slice waits for the lossless file.
    if (this.previewFailures++ === 0) this.deps.log.warn(`Preview of ${sop} (${run.site.id}) failed: ${failure.message}; skipped`);
    progress.previewsTotal--;
    progress.report();
  }

  private preview(sop: string): LinkWork {
    return {
      kind: 'preview',
      run: async () => {
        const item = this.bySop.get(sop)!;
        this.inFlight++;
        this.previewsInFlight++;
        try {
          if (this.run.signal.aborted) return;
          if (this.progress.stored.has(sop)) {
            this.progress.previewsTotal--;
            return;
          }
          this.keepPreview(item, await this.deps.fetcher.fetchPreview(this.run, item));
        } catch (err) {
          this.previewFailed(sop, err);
        } finally {
          this.previewsInFlight--;
          this.inFlight--;
          this.maybeFinished();
        }
      },
    };
  }

  /** Several previews in one request to the gateway (it asks the site for each): see shared/gateway.ts. */
  private previewBatch(sops: string[]): LinkWork {
    return {
      kind: 'preview',
      run: async () => {
        const { run, progress } = this;
        const items = sops.map((s) => this.bySop.get(s)!).filter((i) => !progress.stored.has(i.sopInstanceUID));
        progress.previewsTotal -= sops.length - items.length;
        if (items.length === 0 || run.signal.aborted) return;
        this.inFlight++;
        this.previewsInFlight++;
        try {
          // One raster for the batch: a series' slices share their size (a slice of another size is asked alone).
          const viewport = this.viewportOf(items[0]!);
          const same = items.filter((i) => { const v = this.viewportOf(i); return v.width === viewport.width && v.height === viewport.height; });
          for (const other of items.filter((i) => !same.includes(i))) this.order.want('preview', other.sopInstanceUID);
          const { quality } = this.deps.previews;
          if (run.beforeRequest) await run.beforeRequest(run.signal);
          const answers = await withDeadline(run, this.deps.requestTimeoutMs, (signal) =>
            run.api.retrieveRenderedBatch!(this.studyInstanceUID, same, { viewport, quality, onBytes: run.addBytes }, signal),
          );
          const answered = new Set<string>();
          for (const a of answers) {
            const item = this.bySop.get(a.sopInstanceUID);
            if (!item || answered.has(a.sopInstanceUID) || !same.includes(item)) continue;
            answered.add(a.sopInstanceUID);
            if (a.ok) this.keepPreview(item, { bytes: a.bytes, ...viewport });
            else this.previewFailed(a.sopInstanceUID, a.error);
          }
          for (const i of same) if (!answered.has(i.sopInstanceUID)) this.previewFailed(i.sopInstanceUID, new BadAnswerError('the preview batch left this instance out'));
        } catch (err) {
          if (err instanceof HttpStatusError && (err.status === 404 || err.status === 405) && !run.signal.aborted) {
            // A host without preview batches: ask these (and the rest) one by one.
            this.deps.noBatches.add(run.site.id);
            for (const i of items) this.order.want('preview', i.sopInstanceUID);
          } else for (const i of items) this.previewFailed(i.sopInstanceUID, err);
        } finally {
          this.previewsInFlight--;
          this.inFlight--;
          this.maybeFinished();
        }
      },
    };
  }

  private batching(): boolean {
    return this.run.api.retrieveRenderedBatch !== undefined && !this.deps.noBatches.has(this.run.site.id);
  }
}

/** What the caller is told of an instance newly stored. */
function storedInstanceEvent(item: PlannedInstance, { fetched }: Downloaded): StoredInstanceEvent {
  return {
    seriesInstanceUID: item.seriesInstanceUID,
    sopInstanceUID: item.sopInstanceUID,
    firstOfSeries: item.firstOfSeries,
    transferSyntaxUID: fetched.header.transferSyntaxUID,
    size: fetched.bytes.byteLength,
    ...(fetched.header.imagePositionPatient ? { imagePositionPatient: fetched.header.imagePositionPatient } : {}),
    ...(fetched.header.imageOrientationPatient ? { imageOrientationPatient: fetched.header.imageOrientationPatient } : {}),
  };
}

/** A site that does not render previews: 400/404/406/415/501 (or 405) to /rendered. */
function refusedRendering(err: unknown): boolean {
  // The site's own answer, not one the gateway made (an unknown site is not a site that does not render).
  return err instanceof HttpStatusError && [400, 404, 405, 406, 415, 501].includes(err.status) && err.request.getResponseHeader('x-telerad-error') === null;
}
