import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { DicomJsonDataset } from '../../shared/dicom/dicomweb-json';
import type { DicomWebApiFactory } from '../dicomweb/dicomweb-api';
import { classifySiteError, isOfflineFailure } from '../dicomweb/site-error';
import type { SiteFailure } from '../dicomweb/site-error';
import type { TransfersStore } from './transfers-store';
import type { SeriesRecord, StudyListingRecord } from './telerad-db';
import { SiteLink } from './site-link';
import type { StudyCache } from './study-cache';
import { errorMessage } from '../../shared/error-message';
import { InstanceFetcher } from './instance-fetcher';
import { gatherCallers } from './retrieval-callers';
import type { SharedRun } from './retrieval-callers';
import { instanceQuery, listedOf, negotiatesTransferSyntax, planInstances, seriesFromQido } from './retrieval-plan';
import type { PlannedInstance } from './retrieval-plan';
import { RetrievalProgress } from './retrieval-progress';
import { cancelledFailure, failureOf, untilAborted, withRetry } from './site-requests';
import type { RequestPolicy, RetryPolicy, StudyRun } from './site-requests';
import { StudyStream } from './study-stream';
import type { StudyStreamDeps } from './study-stream';

export { previewViewport } from './retrieval-plan';
export type { RetryPolicy } from './site-requests';
import type { StoredAnyEvent, EnsureStudyRequest, EnsureStudyResult } from './retrieval-types';
export type { RetrieveProgress, StoredAnyEvent, StoredPreviewEvent, StoredInstanceEvent, EnsureStudyRequest, BackgroundPacing, EnsureStudyResult } from './retrieval-types';

/** Neither in the cache nor retrievable now: the viewer shows this message instead of waiting. */
export class StudyUnavailableError extends Error {
  constructor(
    message: string,
    readonly failure?: SiteFailure,
  ) {
    super(message);
    this.name = 'StudyUnavailableError';
  }
}

export const NOT_OFFLINE_MESSAGE = 'This study is not available offline and its site cannot be reached';

/** Previews: the longer side in pixels and the JPEG quality (a 512² CT slice is ≈ 4 kB at 256 px, quality 50). */
export const DEFAULT_PREVIEWS = { size: 256, quality: 50 } as const;

/** How long an instance list asked at the click is used for the open that follows. */
const LISTED_AHEAD_MS = 10_000;

/** Requests in flight per site: the browser host's page has six connections to its origin; one stays for the rest. */
export const DEFAULT_SITE_SLOTS = 5;

/** One retrieval that brought instances from a site, as the audit trail records it. */
export interface StudyRetrievedEvent {
  studyInstanceUID: string;
  siteId: string;
  /** What the worklist knew of the patient (the audit view filters by it). */
  patient: { id?: string; name?: string };
  /** The instances this retrieval fetched from the site and stored (not those already cached). */
  sopInstanceUIDs: string[];
  /** 'failure' when it stopped on an error or a cancel before the study was complete. */
  outcome: 'success' | 'failure';
  reason?: string;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 8000 };

export interface StudyRetrieverDeps {
  cache: StudyCache;
  dicomweb: DicomWebApiFactory;
  log: Logger;
  /** Parallel WADO-RS requests per site; a few keep a slow link busy without starving the worklist. */
  concurrency?: number;
  /** The global transfers model the panel shows; optional (tests, prefetch without a panel). */
  transfers?: TransfersStore;
  retry?: Partial<RetryPolicy>;
  /** Deadline of one request, headers and body; the gateway has its own timeouts too. */
  requestTimeoutMs?: number;
  /** Previews: size of their longer side in pixels and JPEG quality; false: none (default 256 px, quality 50). */
  previews?: { size: number; quality: number } | false;
  /** Ask sites for JPEG-LS lossless when they offer it (default true). */
  negotiateJpegLs?: boolean;
  random?: () => number;
  /**
   * Told once per retrieval that fetched at least one instance from the site
   * (the audit trail's 'study.retrieve'); never for a study the cache had
   * complete, nor for one whose instances were all cached already.
   */
  onStudyRetrieved?: (e: StudyRetrievedEvent) => void;
}

/**
 * Brings studies into the cache: QIDO-RS lists a study's instances, WADO-RS
 * fetches each one not stored yet — JPEG-LS lossless where the site offers it,
 * as stored otherwise — through a bounded queue per site, first image of each
 * series first; failures that may pass (5xx, timeouts, a dropped connection)
 * are retried with backoff. The cache stores each instance whole (hash
 * included, a few instances per transaction) and the study is marked complete when all are in. The viewer
 * never reads the network: it waits for this, then reads the cache.
 */
export class StudyRetriever {
  private readonly concurrency: number;
  private readonly policy: RequestPolicy;
  private readonly previewOptions: { size: number; quality: number };
  private readonly fetcher: InstanceFetcher;
  /** Request slots per site, shared by every retrieval from it. */
  private readonly links = new Map<string, SiteLink>();
  /** Retrievals on a link now (the instance list is in), for focus, priority and pause. */
  private readonly streams = new Set<StudyStream>();
  private rankSeq = 0;
  private readonly pausedStudies = new Set<string>();
  /** Whether each site renders previews, as remembered in the cache (undefined: not known yet). */
  private readonly rendered = new Map<string, boolean | undefined>();
  private readonly storedListeners = new Set<(e: StoredAnyEvent) => void>();
  /** Sites whose gateway answered a preview batch 404/405 (a host without batches): previews one by one. */
  private readonly noBatches = new Set<string>();
  /** Instance lists asked at the click, for the retrieval about to start (listAhead). */
  private readonly listedAhead = new Map<string, { siteId: string; at: number; promise: Promise<DicomJsonDataset[]> }>();
  /** Studies the viewer is opening, whose instance list is about to be asked. */
  private readonly expected = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  /** Retrievals under way, by study. */
  private readonly runs = new Map<string, SharedRun>();
  /** Retrievals the user is waiting for (not background ones): prefetch yields while any runs. */
  private foreground = 0;
  private readonly foregroundListeners = new Set<(active: number) => void>();

  constructor(private readonly deps: StudyRetrieverDeps) {
    this.concurrency = Math.max(1, deps.concurrency ?? DEFAULT_SITE_SLOTS);
    this.policy = {
      retry: { ...DEFAULT_RETRY, ...deps.retry },
      requestTimeoutMs: deps.requestTimeoutMs ?? 120_000,
      random: deps.random ?? Math.random,
      log: deps.log,
    };
    this.previewOptions = deps.previews ? deps.previews : DEFAULT_PREVIEWS;
    this.fetcher = new InstanceFetcher({ cache: deps.cache, policy: this.policy, negotiateJpegLs: deps.negotiateJpegLs !== false, previews: this.previewOptions });
  }

  /**
   * Makes sure the study is in the cache, as completely as the network allows.
   * A study already complete in the cache returns at once without any request,
   * so it opens the same with the site down. A study partly cached whose site
   * fails resolves incomplete with the failure (the viewer shows what it has);
   * one with nothing cached throws StudyUnavailableError. Nothing already
   * cached is changed by a failure.
   */
  async ensureStudy(req: EnsureStudyRequest): Promise<EnsureStudyResult> {
    if (req.background) return this.ensureStudyOnce(req);
    this.setForeground(this.foreground + 1);
    try {
      return await this.ensureStudyOnce(req);
    } finally {
      this.setForeground(this.foreground - 1);
    }
  }

  /** Retrievals the user is waiting for right now. */
  get foregroundActive(): number {
    return this.foreground;
  }

  /** Told whenever the number of retrievals the user waits for changes; returns the unsubscribe. */
  onForegroundChange(listener: (active: number) => void): () => void {
    this.foregroundListeners.add(listener);
    return () => this.foregroundListeners.delete(listener);
  }

  /**
   * The reader is on `sopInstanceUID` of the study, moving in `direction`:
   * the next free request slots go to that slice, then to its neighbours.
   * Nothing already in flight is cancelled.
   */
  focus(studyInstanceUID: string, sopInstanceUID: string, direction: 1 | -1 | 0 = 0): void {
    for (const s of this.streams) {
      if (s.studyInstanceUID !== studyInstanceUID || !s.order.focus(sopInstanceUID, direction)) continue;
      s.rank = ++this.rankSeq;
      this.pumpAll();
    }
  }

  /** These instances of the study go before everything but the hanging slices (a signature waits for them). */
  prioritize(studyInstanceUID: string, sopInstanceUIDs: readonly string[]): void {
    for (const s of this.streams) if (s.studyInstanceUID === studyInstanceUID) s.order.prioritize(sopInstanceUIDs);
    this.pumpAll();
  }

  /**
   * The user left the study (or came back to it): its retrieval goes on behind
   * the studies the user is waiting for (`background`), or ahead again; what
   * is fetched is kept either way.
   */
  setForegroundStudy(studyInstanceUID: string, foreground: boolean): void {
    for (const s of this.streams) {
      if (s.studyInstanceUID !== studyInstanceUID || s.foreground === foreground) continue;
      s.foreground = foreground;
      if (foreground) s.rank = ++this.rankSeq;
    }
    this.pumpAll();
  }

  /** Pauses (no new request; those in flight finish) or resumes the study's retrieval. */
  setPaused(studyInstanceUID: string, paused: boolean): void {
    if (paused) this.pausedStudies.add(studyInstanceUID);
    else this.pausedStudies.delete(studyInstanceUID);
    for (const s of this.streams) if (s.studyInstanceUID === studyInstanceUID) s.paused = paused;
    this.pumpAll();
  }

  /**
   * Resolves once the first slice the viewer shows of the study (the hanging slice of its first series)
   * is stored — or the instance list failed, or nothing was left to fetch — at once when no retrieval
   * of it is under way; never rejects, and waits at most 3 s. What else asks the site about the study
   * waits for this: the first slice on screen comes first.
   */
  firstSliceSettled(studyInstanceUID: string): Promise<void> {
    const pending = this.runs.get(studyInstanceUID)?.firstSlice ?? this.expected.get(studyInstanceUID)?.promise;
    if (!pending) return Promise.resolve();
    return Promise.race([pending, new Promise<void>((r) => setTimeout(r, 3000))]);
  }

  /**
   * The reader clicked a study: its instance list is asked now, before the viewer has mounted and
   * opened it (≈ 0.2 s of rendering on the way to the first slice, bench/progressive), and the
   * retrieval that follows within LISTED_AHEAD_MS uses that answer instead of asking again. Nothing
   * is asked for a study already being retrieved; the caller asks only for a study not complete in
   * the cache. The request goes out in the click's own task: the viewer's first render (≈ 0.15 s)
   * follows in the same task, and anything awaited first (an IndexedDB read) would wait behind it.
   */
  listAhead(site: SiteSummary, studyInstanceUID: string): void {
    const uid = studyInstanceUID;
    // Lists nobody took (the reader clicked and went elsewhere) are let go.
    for (const [k, v] of this.listedAhead) if (Date.now() - v.at >= LISTED_AHEAD_MS) this.listedAhead.delete(k);
    const earlier = this.listedAhead.get(uid);
    if (this.runs.has(uid) || (earlier && Date.now() - earlier.at < LISTED_AHEAD_MS)) return;
    const promise = this.deps.dicomweb(site).searchForInstances(uid, instanceQuery());
    // A failure here is the retrieval's to report (it asks again); nothing is said twice.
    promise.catch(() => undefined);
    this.listedAhead.set(uid, { siteId: site.id, at: Date.now(), promise });
  }

  /** The list asked ahead for this study at this site, if recent; taken once. */
  private takeListedAhead(uid: string, siteId: string): Promise<DicomJsonDataset[]> | undefined {
    const ahead = this.listedAhead.get(uid);
    this.listedAhead.delete(uid);
    return ahead && ahead.siteId === siteId && Date.now() - ahead.at < LISTED_AHEAD_MS ? ahead.promise : undefined;
  }

  /**
   * The viewer is about to open the study: `firstSliceSettled` waits from now on, not only once the
   * retrieval has started. The returned function ends the wait (the study opened from the cache); it also
   * ends with the retrieval's first slice, or after 3 s.
   */
  expectFirstSlice(studyInstanceUID: string): () => void {
    const existing = this.expected.get(studyInstanceUID);
    if (existing) return existing.resolve;
    let resolveFn!: () => void;
    const promise = new Promise<void>((r) => (resolveFn = r));
    const entry = {
      promise,
      resolve: (): void => {
        if (this.expected.get(studyInstanceUID) === entry) this.expected.delete(studyInstanceUID);
        resolveFn();
      },
    };
    this.expected.set(studyInstanceUID, entry);
    setTimeout(entry.resolve, 3000);
    return entry.resolve;
  }

  /** Whether a retrieval of the study is on a link now. */
  isStreaming(studyInstanceUID: string): boolean {
    for (const s of this.streams) if (s.studyInstanceUID === studyInstanceUID) return true;
    return false;
  }

  /** Told of every instance and preview any retrieval stores (a resume from the transfers panel included); returns the unsubscribe. */
  onStored(listener: (e: StoredAnyEvent) => void): () => void {
    this.storedListeners.add(listener);
    return () => this.storedListeners.delete(listener);
  }

  private pumpAll(): void {
    for (const link of this.links.values()) link.pump();
  }

  private setForeground(n: number): void {
    this.foreground = n;
    for (const l of this.foregroundListeners) l(n);
  }

  private async ensureStudyOnce(req: EnsureStudyRequest): Promise<EnsureStudyResult> {
    const { cache, log } = this.deps;
    const uid = req.study.studyInstanceUID;
    const cached = await cache.getStudy(uid);
    if (cached?.complete) {
      const stored = await cache.getStudyInstances(uid);
      req.onProgress?.({ done: stored.length, total: stored.length });
      return { source: 'cache', complete: true };
    }

    const { site } = req;
    if (!site) return this.fromCacheOnly(uid, { kind: 'other', message: 'its site is no longer configured' }, undefined, req);

    // A retrieval of this study is under way (prefetch, a study left and opened again, a
    // resume): join it rather than start a second one over the same instances.
    const running = this.runs.get(uid);
    if (running && running.siteId === site.id && !running.signal.aborted) return running.join(req);

    const callers = gatherCallers(req, site, {
      log,
      onFirstSlice: () => this.expected.get(uid)?.resolve(),
      onForegroundJoin: () => this.setForegroundStudy(uid, true),
    });
    const { shared, cancel, controller } = callers;

    const label = [req.study.patientName, req.study.description].filter(Boolean).join(' · ') || uid;
    const handle = this.deps.transfers?.begin(
      { studyInstanceUID: uid, siteId: site.id, siteName: site.name, label },
      {
        cancel,
        pause: (paused) => this.setPaused(uid, paused),
        // Resuming runs the same retrieval again without the viewer: what is stored stays, the rest is fetched.
        resume: () =>
          void this.ensureStudy({ site, study: req.study }).catch((err: unknown) => log.warn(`Resume of ${uid} failed`, err)),
      },
    );
    let bytes = 0;
    // Paced (prefetch's bandwidth cap) only while nobody waits for the study: a reader who opens it is never throttled.
    const pacing = req.background;
    const background = (): boolean => pacing !== undefined && !(run.source?.foreground ?? false);
    const run: StudyRun = {
      site,
      api: this.deps.dicomweb(site),
      signal: controller.signal,
      handle,
      addBytes: (n) => {
        bytes += n;
        handle?.addBytes(n);
        if (background()) pacing?.onBytes(n);
      },
      ...(pacing ? { beforeRequest: (signal: AbortSignal) => (background() ? pacing.beforeRequest(signal) : Promise.resolve()) } : {}),
      stop: () => controller.abort(new DOMException('The site cannot be reached', 'AbortError')),
    };

    const promise = (async () => {
      try {
        return await this.retrieve(callers.fanout, run, () => bytes, callers.cancelled, shared);
      } catch (err) {
        handle?.finish(callers.cancelled() ? 'cancelled' : 'failed', errorMessage(err));
        throw err;
      } finally {
        shared.firstSliceDone();
        if (this.runs.get(uid) === shared) {
          this.runs.delete(uid);
          this.pausedStudies.delete(uid);
        }
      }
    })();
    shared.promise = promise;
    this.runs.set(uid, shared);
    return promise;
  }

  private async retrieve(req: EnsureStudyRequest, run: StudyRun, bytes: () => number, wasCancelled: () => boolean, shared: SharedRun): Promise<EnsureStudyResult> {
    const { cache, log } = this.deps;
    const { site, handle } = run;
    const uid = req.study.studyInstanceUID;
    const progress = new RetrievalProgress((p) => req.onProgress?.(p), handle, bytes);

    let listed: DicomJsonDataset[];
    const listing = "listing the study's instances by QIDO-RS";
    try {
      listed = await this.listInstances(run, uid, listing);
    } catch (err) {
      const failure = wasCancelled() ? cancelledFailure() : failureOf(err, listing);
      run.stop();
      log.warn(`Instance list of ${uid} at ${site.id} failed: ${failure.message}`);
      handle?.finish(wasCancelled() ? 'cancelled' : 'failed', `${site.name}: ${failure.message}`);
      this.tellRetrieved(req, site, [], failure.message);
      return this.fromCacheOnly(uid, failure, site, req);
    }
    const planned = planInstances(uid, listed);
    if (planned.length === 0) {
      run.stop();
      this.tellRetrieved(req, site, [], `${site.name} lists no instances for this study`);
      handle?.finish('failed', `${site.name} lists no instances for this study`);
      throw new StudyUnavailableError(`${site.name} lists no instances for this study`);
    }

    const missing: PlannedInstance[] = [];
    // One keys-only query, not one read per instance: 300 sealed reads held the first request back ≈ 0.6 s.
    // The preview plan's reads (the site's capability, the previews kept) go beside it, not after it.
    const [already, previewsOf] = await Promise.all([cache.storedSops(uid), this.previewPicker(req, site, uid)]);
    for (const p of planned) {
      if (already.has(p.sopInstanceUID)) progress.stored.add(p.sopInstanceUID);
      else missing.push(p);
    }
    progress.total = planned.length;
    const listingRecord: StudyListingRecord = { studyInstanceUID: uid, siteId: site.id, instances: planned.map(listedOf), listedAt: Date.now() };
    const bookkeeping = this.recordListing(req, run, listed, listingRecord, progress);

    const stream = new StudyStream(this.streamDeps(req, site), {
      req,
      run,
      shared,
      progress,
      planned,
      missing,
      previews: previewsOf(missing),
      rank: ++this.rankSeq,
      paused: this.pausedStudies.has(uid),
    });
    const link = this.linkFor(site.id);
    this.streams.add(stream);
    run.source = stream;
    run.signal.addEventListener('abort', stream.onAbort, { once: true });
    link.add(stream);
    stream.maybeFinished();
    let bookkeepingError: unknown;
    try {
      bookkeepingError = await bookkeeping;
      await stream.finished;
    } finally {
      link.remove(stream);
      this.streams.delete(stream);
      run.signal.removeEventListener('abort', stream.onAbort);
    }
    // The last downloads are in: write what is queued now rather than after the batch delay.
    await stream.flushWrites();
    if (bookkeepingError !== undefined) throw bookkeepingError;
    const done = progress.stored.size;

    await this.fillSeriesFromHeaders(uid, stream.headerSeries);
    const complete = await cache.markComplete(uid);
    const cancelled = wasCancelled() && !complete;
    const failure = stream.firstFailure ?? (cancelled ? cancelledFailure() : undefined);
    if (complete) handle?.finish('done');
    else handle?.finish(cancelled ? 'cancelled' : 'failed', failure ? `${site.name}: ${failure.message}` : undefined);
    this.tellRetrieved(req, site, stream.fetchedHere, complete ? undefined : `${failure?.message ?? 'incomplete'}; ${done} of ${planned.length} instances in the cache`);
    if (!complete && done === 0 && progress.previewsDone === 0) {
      throw new StudyUnavailableError(
        failure && isOfflineFailure(failure)
          ? `${NOT_OFFLINE_MESSAGE}: ${site.name} ${failure.message}`
          : `${site.name}: ${failure?.message ?? 'retrieval failed'}`,
        failure,
      );
    }
    log.info(`Study ${uid}: ${done}/${planned.length} instances cached, ${progress.previewsDone} previews, ${bytes()} bytes received${complete ? ', complete' : ''}`);
    return { source: 'network', complete, ...(complete || !failure ? {} : { failure }) };
  }

  /** The study's instance list: the one asked at the click if it is recent, else asked now, with retries. */
  private listInstances(run: StudyRun, uid: string, what: string): Promise<DicomJsonDataset[]> {
    let ahead = this.takeListedAhead(uid, run.site.id);
    return withRetry(run, this.policy, what, async () => {
      // An early list that failed is asked again here, as if it had never been asked — but for a timeout,
      // which has already made the reader wait the whole wait once. A reader leaving stops the wait.
      const early =
        ahead &&
        (await untilAborted(ahead, run.signal).catch((err: unknown) => {
          if (run.signal.aborted || classifySiteError(err).kind === 'timeout') throw err;
          return undefined;
        }));
      ahead = undefined;
      return early ?? run.api.searchForInstances(uid, instanceQuery());
    });
  }

  /**
   * The records go to the cache beside the first requests, not before them (≈ 0.1–0.3 s of sealed
   * transactions on the way to the first slice). Instances stored meanwhile are counted either way:
   * putInstances adds to an existing study row, upsertStudy counts what is there when it makes one.
   * Resolves to what failed (the retrieval is stopped then), or undefined.
   */
  private recordListing(req: EnsureStudyRequest, run: StudyRun, listed: DicomJsonDataset[], record: StudyListingRecord, progress: RetrievalProgress): Promise<unknown> {
    const { cache, log } = this.deps;
    const uid = record.studyInstanceUID;
    return (async () => {
      await cache.upsertStudy({ ...req.study, siteId: run.site.id, numInstances: record.instances.length });
      await cache.putSeries(seriesFromQido(uid, listed));
      await cache.putListing(record);
      // The viewer opens now, on the instance list: the slices fill in as they land.
      try {
        req.onListed?.(record);
      } catch (err) {
        log.error('The instance-list listener failed', err);
      }
      progress.report();
    })().catch((err: unknown) => {
      log.error(`Recording ${uid} in the cache failed`, err);
      run.stop();
      return err;
    });
  }

  /** What a study's stream uses of the retriever: the site's link, the shared fetcher, the listeners. */
  private streamDeps(req: EnsureStudyRequest, site: SiteSummary): StudyStreamDeps {
    const uid = req.study.studyInstanceUID;
    return {
      cache: this.deps.cache,
      log: this.deps.log,
      fetcher: this.fetcher,
      requestTimeoutMs: this.policy.requestTimeoutMs,
      previews: this.previewOptions,
      noBatches: this.noBatches,
      pump: () => this.linkFor(site.id).pump(),
      tellStored: (e) => this.tellStored(e),
      rememberNoRendering: () => this.rememberRendered(site.id, false),
      planPreviews: (missing) => this.previewPlan({ ...req, background: undefined }, site, uid, missing),
    };
  }

  /**
   * Which missing instances get a preview: image objects of one frame (SRs,
   * PDFs and photographs come as stored and are small or not slices), none
   * already previewed, none when the site was found not to render or the
   * caller wants lossless only.
   */
  private async previewPlan(req: EnsureStudyRequest, site: SiteSummary, uid: string, missing: readonly PlannedInstance[]): Promise<PlannedInstance[]> {
    if (missing.length === 0) return [];
    return (await this.previewPicker(req, site, uid))(missing);
  }

  /** Which of the instances still missing get a preview: those of one frame, with none kept, from a site that renders. */
  private async previewPicker(req: EnsureStudyRequest, site: SiteSummary, uid: string): Promise<(missing: readonly PlannedInstance[]) => PlannedInstance[]> {
    const none = (): PlannedInstance[] => [];
    const opts = this.deps.previews;
    if (opts === false || req.previews === false || req.background) return none;
    if (site.capabilities?.rendered === 'no') return none;
    const [capability, kept] = await Promise.all([
      this.rendered.has(site.id) ? undefined : this.deps.cache.getSiteCapability(site.id),
      this.deps.cache.previewSops(uid),
    ]);
    if (!this.rendered.has(site.id)) this.rendered.set(site.id, capability?.rendered);
    if (this.rendered.get(site.id) === false) return none;
    const have = new Set(kept);
    return (missing) => missing.filter((p) => negotiatesTransferSyntax(p.sopClassUID) && (p.numberOfFrames ?? 1) <= 1 && !have.has(p.sopInstanceUID));
  }

  private rememberRendered(siteId: string, rendered: boolean): void {
    this.rendered.set(siteId, rendered);
    void this.deps.cache
      .putSiteCapability({ siteId, rendered, probedAt: Date.now() })
      .catch((err: unknown) => this.deps.log.warn(`Could not remember ${siteId}'s capabilities`, err));
  }

  private linkFor(siteId: string): SiteLink {
    let link = this.links.get(siteId);
    if (!link) {
      // Every slot may carry a preview: they go first (see the sources' next()), a few seconds in all.
      link = new SiteLink(this.concurrency, this.concurrency);
      this.links.set(siteId, link);
    }
    return link;
  }

  private tellStored(e: StoredAnyEvent): void {
    for (const l of this.storedListeners) {
      try {
        l(e);
      } catch (err) {
        this.deps.log.error('A stored-instance listener failed', err);
      }
    }
  }

  /** The audit hook: once per retrieval that fetched anything; a failing listener never fails the retrieval. */
  private tellRetrieved(req: EnsureStudyRequest, site: SiteSummary, fetched: readonly string[], failure: string | undefined): void {
    if (!this.deps.onStudyRetrieved || fetched.length === 0) return;
    const { patientId, patientName } = req.study;
    try {
      this.deps.onStudyRetrieved({
        studyInstanceUID: req.study.studyInstanceUID,
        siteId: site.id,
        patient: { ...(patientId ? { id: patientId } : {}), ...(patientName ? { name: patientName } : {}) },
        sopInstanceUIDs: [...fetched],
        outcome: failure === undefined ? 'success' : 'failure',
        ...(failure !== undefined ? { reason: failure } : {}),
      });
    } catch (err) {
      this.deps.log.error('The study-retrieved listener failed', err);
    }
  }

  /** The site could not list the study: show what the cache has, or say plainly that there is nothing. */
  private async fromCacheOnly(uid: string, failure: SiteFailure, site: SiteSummary | undefined, req: EnsureStudyRequest): Promise<EnsureStudyResult> {
    const [stored, previews, listing] = await Promise.all([
      this.deps.cache.getStudyInstances(uid),
      this.deps.cache.previewSops(uid),
      this.deps.cache.getListing(uid),
    ]);
    if (stored.length === 0 && previews.length === 0) {
      const who = site ? `${site.name} ` : '';
      throw new StudyUnavailableError(
        isOfflineFailure(failure) ? `${NOT_OFFLINE_MESSAGE}: ${who}${failure.message}` : `Cannot retrieve the study: ${who}${failure.message}`,
        failure,
      );
    }
    // The stack as it was listed before: the viewer shows what arrived, and which slices did not.
    if (listing) req.onListed?.(listing);
    return { source: 'cache', complete: false, failure };
  }

  /** QIDO may leave series fields empty (not every PACS returns them at instance level); the files have them. */
  private async fillSeriesFromHeaders(uid: string, fromHeaders: Map<string, Partial<SeriesRecord>>): Promise<void> {
    if (fromHeaders.size === 0) return;
    await this.deps.cache.putSeries(
      [...fromHeaders].map(([seriesUid, h]) => ({
        seriesInstanceUID: seriesUid,
        studyInstanceUID: uid,
        modality: h.modality ?? '',
        description: h.description ?? '',
        ...(h.seriesNumber !== undefined ? { seriesNumber: h.seriesNumber } : {}),
      })),
    );
  }
}
