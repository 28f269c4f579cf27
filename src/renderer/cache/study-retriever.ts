import PQueue from 'p-queue';
import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import { Tag, getNumber, getString } from '../../shared/dicom/dicomweb-json';
import type { DicomJsonDataset } from '../../shared/dicom/dicomweb-json';
import { TS_JPEG_LS_LOSSLESS } from '../dicomweb/dicomweb-api';
import type { DicomWebApi, DicomWebApiFactory } from '../dicomweb/dicomweb-api';
import { BadAnswerError, HttpStatusError, RequestTimeoutError, classifySiteError, isOfflineFailure, isRetryableSiteError } from '../dicomweb/site-error';
import type { SiteFailure } from '../dicomweb/site-error';
import { dicomParser } from '../lib/dicom-parser';
import type { TransferHandle, TransfersStore } from '../transfers/transfers-store';
import type { SeriesRecord } from './telerad-db';
import type { InstanceMeta, StudyCache, StudyUpsert } from './study-cache';
import { CacheFullError } from './cache-budget';
import { readPart10Header } from './part10-header';
import type { Part10Header } from './part10-header';

export interface RetrieveProgress {
  /** Instances stored so far, those that were cached before included. */
  done: number;
  total: number;
  /** Bytes received by this retrieval so far (after HTTP decoding). */
  bytes?: number;
}

/** One instance newly stored in the cache. */
export interface StoredInstanceEvent {
  seriesInstanceUID: string;
  sopInstanceUID: string;
  /** The instance of its series that was fetched first (the one the viewer shows first). */
  firstOfSeries: boolean;
  transferSyntaxUID: string;
  size: number;
}

export interface EnsureStudyRequest {
  /** The study's site; undefined when the site is no longer configured (only the cache can help then). */
  site: SiteSummary | undefined;
  /** What the worklist knows of the study; written to the cache so it lists offline. */
  study: StudyUpsert;
  onProgress?: (p: RetrieveProgress) => void;
  /** Told as each instance lands in the cache. */
  onInstanceStored?: (e: StoredInstanceEvent) => void;
  /** Stops the retrieval: queued downloads are dropped, running ones aborted (the viewer was closed). */
  signal?: AbortSignal;
  /** Set by prefetch: the retrieval is background work, paced by these hooks and not counted as the user's. */
  background?: BackgroundPacing;
}

/** How a background retrieval is paced (a bandwidth cap): waited on before each instance request, told of every chunk. */
export interface BackgroundPacing {
  beforeRequest: (signal: AbortSignal) => Promise<void>;
  onBytes: (n: number) => void;
}

export interface EnsureStudyResult {
  /** 'cache': no network was used. */
  source: 'cache' | 'network';
  /** Every instance of the study is in the cache. */
  complete: boolean;
  /** Why the study is incomplete, when the network let us down part way. */
  failure?: SiteFailure;
}

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

/** Instance-level QIDO fields: enough to build series records before any pixel arrives. */
const INSTANCE_FIELDS = [Tag.SeriesDescription, Tag.Modality, Tag.SeriesNumber, Tag.InstanceNumber];

const SOP_CLASS_UID = '00080016';

/**
 * SOP classes always fetched as stored, never asked for JPEG-LS:
 *  - no pixel data to transcode (SR, encapsulated PDF/CDA, presentation
 *    states, waveforms, RT plans/structures);
 *  - photographs (VL family 77.1.*, Secondary Capture 7*), which arrive as
 *    JPEG already: re-encoding them losslessly only makes them bigger.
 */
const AS_STORED_SOP_CLASS_PREFIXES = [
  '1.2.840.10008.5.1.4.1.1.77.1.',
  '1.2.840.10008.5.1.4.1.1.7',
  '1.2.840.10008.5.1.4.1.1.88.',
  '1.2.840.10008.5.1.4.1.1.104.',
  '1.2.840.10008.5.1.4.1.1.11.',
  '1.2.840.10008.5.1.4.1.1.9.',
  '1.2.840.10008.5.1.4.1.1.481.2',
  '1.2.840.10008.5.1.4.1.1.481.3',
  '1.2.840.10008.5.1.4.1.1.481.5',
];

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

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
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
  /** Fetch one instance ahead of the full instance list, from a limit=1 QIDO (default true). */
  earlyFirstImage?: boolean;
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

interface PlannedInstance {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  instanceNumber?: number;
  sopClassUID?: string;
  firstOfSeries: boolean;
}

type Mode = { kind: 'original' } | { kind: 'jpegls' } | { kind: 'probe'; settle: (jpegLs: boolean | undefined) => void };

interface Fetched {
  bytes: ArrayBuffer;
  header: Part10Header;
}

/** A download waiting to be written; `release` ends its claim on the SOP instance (after the write, whatever its outcome). */
interface Downloaded {
  fetched: Fetched;
  meta: InstanceMeta;
  release: () => void;
}

/** Instances written together: a batch holds at most this many... */
const WRITE_BATCH = 8;
/** ...and waits at most this long after its first instance arrived. */
const WRITE_DELAY_MS = 40;

/**
 * The write-behind buffer of one retrieval. One IndexedDB transaction per
 * instance held a 300-slice CT to 75–125 MB/s in Chromium; 8 per transaction
 * reach 170–215 MB/s (bench/cache.bench.ts). Each instance's promise settles when its batch has
 * committed — whole or not at all — so nothing counts as stored before it is.
 */
class WriteBehind {
  private pending: Array<{ meta: InstanceMeta; bytes: ArrayBuffer; resolve: () => void; reject: (err: unknown) => void }> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly cache: StudyCache) {}

  /** Queues an instance; `now` writes it (and whatever is queued) at once, as for the first image of a series. */
  add(meta: InstanceMeta, bytes: ArrayBuffer, now: boolean): Promise<void> {
    const written = new Promise<void>((resolve, reject) => this.pending.push({ meta, bytes, resolve, reject }));
    if (now || this.pending.length >= WRITE_BATCH) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), WRITE_DELAY_MS);
    return written;
  }

  /** Writes what is queued, in one transaction. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.cache.putInstances(batch.map(({ meta, bytes }) => ({ meta, bytes }))).then(
      () => batch.forEach((b) => b.resolve()),
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    );
  }
}

/** What one task knows of the retrieval it belongs to. */
interface StudyRun {
  site: SiteSummary;
  api: DicomWebApi;
  signal: AbortSignal;
  handle: TransferHandle | undefined;
  addBytes: (n: number) => void;
  beforeRequest?: (signal: AbortSignal) => Promise<void>;
  /** Aborts every queued and running download of the retrieval (its site is gone); not a cancel. */
  stop: () => void;
}

/** A site answered 400/406/415 to a transfer syntax it does not offer. */
function refusedTransferSyntax(err: unknown): boolean {
  return err instanceof HttpStatusError && (err.status === 400 || err.status === 406 || err.status === 415);
}

function negotiatesTransferSyntax(sopClassUID: string | undefined): boolean {
  return !sopClassUID || !AS_STORED_SOP_CLASS_PREFIXES.some((p) => sopClassUID.startsWith(p));
}

/** Rejects when `signal` aborts; otherwise settles as `p` does. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return untilAborted(new Promise<void>((r) => setTimeout(r, ms)), signal);
}

/**
 * A Part 10 file parsed to its last byte: a part that was cut short (a link
 * dropped mid-instance, a site that truncated it) throws here, so it is never
 * stored as if whole. Only offsets are read; nothing is decoded.
 */
function checkComplete(bytes: ArrayBuffer): void {
  try {
    dicomParser.parseDicom(new Uint8Array(bytes));
  } catch {
    throw new BadAnswerError('the DICOM file in the answer is cut short', true);
  }
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
  private readonly retry: RetryPolicy;
  private readonly requestTimeoutMs: number;
  private readonly random: () => number;
  private readonly queues = new Map<string, PQueue>();
  /** Downloads under way, by SOP Instance UID: a second retrieval of the same study waits for them instead of fetching again. */
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** What each site supports, as remembered in the cache (undefined: not probed yet). */
  private readonly capabilities = new Map<string, boolean | undefined>();
  /** The one probe per site under way; the site's other downloads wait for its outcome. */
  private readonly probes = new Map<string, Promise<void>>();
  /** Retrievals the user is waiting for (not background ones): prefetch yields while any runs. */
  private foreground = 0;
  private readonly foregroundListeners = new Set<(active: number) => void>();

  constructor(private readonly deps: StudyRetrieverDeps) {
    this.concurrency = Math.max(1, deps.concurrency ?? 4);
    this.retry = { ...DEFAULT_RETRY, ...deps.retry };
    this.requestTimeoutMs = deps.requestTimeoutMs ?? 120_000;
    this.random = deps.random ?? Math.random;
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
    if (!site) return this.fromCacheOnly(uid, { kind: 'other', message: 'its site is no longer configured' }, undefined);

    // One controller for the whole retrieval: the caller closing, the user
    // cancelling in the transfers panel, and the link going down all end it.
    const controller = new AbortController();
    let cancelled = false;
    const cancel = (): void => {
      cancelled = true;
      controller.abort(new DOMException('Retrieval cancelled', 'AbortError'));
    };
    if (req.signal?.aborted) cancel();
    req.signal?.addEventListener('abort', cancel, { once: true });

    const label = [req.study.patientName, req.study.description].filter(Boolean).join(' · ') || uid;
    const handle = this.deps.transfers?.begin(
      { studyInstanceUID: uid, siteId: site.id, siteName: site.name, label },
      {
        cancel,
        // Resuming runs the same retrieval again without the viewer: what is stored stays, the rest is fetched.
        resume: () =>
          void this.ensureStudy({ site, study: req.study }).catch((err: unknown) => log.warn(`Resume of ${uid} failed`, err)),
      },
    );
    let bytes = 0;
    const run: StudyRun = {
      site,
      api: this.deps.dicomweb(site),
      signal: controller.signal,
      handle,
      addBytes: (n) => {
        bytes += n;
        handle?.addBytes(n);
        req.background?.onBytes(n);
      },
      ...(req.background ? { beforeRequest: req.background.beforeRequest } : {}),
      stop: () => controller.abort(new DOMException('The site cannot be reached', 'AbortError')),
    };

    try {
      return await this.retrieve(req, run, () => bytes, () => cancelled);
    } catch (err) {
      handle?.finish(cancelled ? 'cancelled' : 'failed', err instanceof Error ? err.message : String(err));
      throw err;
    } finally {
      req.signal?.removeEventListener('abort', cancel);
    }
  }

  private async retrieve(req: EnsureStudyRequest, run: StudyRun, bytes: () => number, wasCancelled: () => boolean): Promise<EnsureStudyResult> {
    const { cache, log } = this.deps;
    const { site, handle } = run;
    const uid = req.study.studyInstanceUID;

    const stored = new Set<string>();
    /** Fetched from the site by this retrieval and committed to the cache. */
    const fetchedHere: string[] = [];
    const scheduled = new Map<string, Promise<void>>();
    // Unknown until the full instance list is in.
    let total: number | undefined = undefined;
    const report = (): void => {
      if (total === undefined) return;
      req.onProgress?.({ done: stored.size, total, bytes: bytes() });
      handle?.progress(stored.size, total);
    };
    let firstFailure: SiteFailure | undefined;
    const headerSeries = new Map<string, Partial<SeriesRecord>>();
    const queue = this.queueFor(site.id);
    const writer = new WriteBehind(cache);
    const downloads: Promise<unknown>[] = [];
    const schedule = (item: PlannedInstance, priority: number): void => {
      if (scheduled.has(item.sopInstanceUID)) return;
      const download = queue.add(
        async () => {
          // Checked here rather than with p-queue's signal option, which keeps one listener per queued task.
          if (run.signal.aborted) throw run.signal.reason;
          return this.fetchOne(run, item);
        },
        { priority },
      );
      downloads.push(download.catch(() => undefined));
      // The write waits outside the queue: a download slot is not held while its batch fills.
      const task = download
        .then(async (downloaded) => {
          if (downloaded) {
            const { fetched } = downloaded;
            try {
              await writer.add(downloaded.meta, fetched.bytes, item.firstOfSeries);
            } finally {
              downloaded.release();
            }
            fetchedHere.push(item.sopInstanceUID);
            if (!headerSeries.has(item.seriesInstanceUID)) {
              headerSeries.set(item.seriesInstanceUID, {
                modality: fetched.header.modality,
                description: fetched.header.seriesDescription,
                seriesNumber: fetched.header.seriesNumber,
              });
            }
            req.onInstanceStored?.({
              seriesInstanceUID: item.seriesInstanceUID,
              sopInstanceUID: item.sopInstanceUID,
              firstOfSeries: item.firstOfSeries,
              transferSyntaxUID: fetched.header.transferSyntaxUID,
              size: fetched.bytes.byteLength,
            });
          }
          stored.add(item.sopInstanceUID);
          report();
        })
        .catch((err: unknown) => {
          // Cancelled, or stopped after the site went away (then the first failure says why).
          if (run.signal.aborted) return;
          // The local disk is full: its message says what to do, and every other download
          // would only be refused the same way. Say it unchanged and stop the retrieval.
          if (err instanceof CacheFullError) {
            firstFailure ??= { kind: 'other', message: err.message };
            handle?.noteError(err.message);
            log.warn(err.message);
            run.stop();
            return;
          }
          const failure = this.failureOf(err, `retrieving instance ${item.sopInstanceUID} by WADO-RS`);
          firstFailure ??= failure;
          handle?.noteError(`${site.name}: ${failure.message}`);
          log.warn(`WADO-RS of ${item.sopInstanceUID} (${site.id}) failed: ${failure.message}`);
          // No network: every other request would wait for the same timeout. Stop them all.
          if (isOfflineFailure(failure)) run.stop();
        });
      scheduled.set(item.sopInstanceUID, task);
    };

    // The full instance list of a 300-slice series takes the site a few hundred
    // milliseconds to build; one instance listed with limit=1 comes back in a
    // round trip, and its download (which also probes the transfer syntax)
    // starts while the rest of the list is on its way.
    const early =
      this.deps.earlyFirstImage === false
        ? Promise.resolve()
        : run.api
            .searchForInstances(uid, { limit: '1', includefield: [SOP_CLASS_UID] })
            .then(async (first) => {
              const item = plan(uid, first.slice(0, 1))[0];
              if (!item || total !== undefined || run.signal.aborted || (await cache.hasInstance(item.sopInstanceUID))) return;
              schedule(item, 2);
            })
            .catch(() => undefined); // only a head start: the full list below reports failures

    let listed: DicomJsonDataset[];
    const listing = "listing the study's instances by QIDO-RS";
    try {
      listed = await this.withRetry(run, listing, () =>
        run.api.searchForInstances(uid, { includefield: [...INSTANCE_FIELDS, SOP_CLASS_UID] }),
      );
    } catch (err) {
      const failure = wasCancelled() ? cancelledFailure() : this.failureOf(err, listing);
      // Without the list there is no study record to store against: drop the head start too.
      run.stop();
      await early;
      await Promise.all(downloads);
      writer.flush();
      await Promise.all(scheduled.values());
      log.warn(`Instance list of ${uid} at ${site.id} failed: ${failure.message}`);
      handle?.finish(wasCancelled() ? 'cancelled' : 'failed', `${site.name}: ${failure.message}`);
      this.tellRetrieved(req, site, fetchedHere, failure.message);
      return this.fromCacheOnly(uid, failure, site);
    }
    const planned = plan(uid, listed);
    if (planned.length === 0) {
      run.stop();
      this.tellRetrieved(req, site, fetchedHere, `${site.name} lists no instances for this study`);
      handle?.finish('failed', `${site.name} lists no instances for this study`);
      throw new StudyUnavailableError(`${site.name} lists no instances for this study`);
    }
    // The instance fetched ahead is its series' first image.
    for (const sop of scheduled.keys()) {
      const series = planned.find((p) => p.sopInstanceUID === sop)?.seriesInstanceUID;
      for (const p of planned) if (p.seriesInstanceUID === series) p.firstOfSeries = p.sopInstanceUID === sop;
    }

    await cache.upsertStudy({ ...req.study, siteId: site.id, numInstances: planned.length });
    await cache.putSeries(seriesFromQido(uid, listed));

    const missing: PlannedInstance[] = [];
    for (const p of planned) {
      if (scheduled.has(p.sopInstanceUID)) continue;
      if (await cache.hasInstance(p.sopInstanceUID)) stored.add(p.sopInstanceUID);
      else missing.push(p);
    }
    total = planned.length;
    report();

    // Firsts added first: p-queue starts a task at once while it has free slots, before priorities can matter.
    // The first image of each series goes ahead of every other queued instance at the site.
    for (const item of missing) if (item.firstOfSeries) schedule(item, 1);
    for (const item of missing) if (!item.firstOfSeries) schedule(item, 0);
    await early;
    // The last downloads are in: write what is queued now rather than after the batch delay.
    await Promise.all(downloads);
    writer.flush();
    await Promise.all(scheduled.values());
    const done = stored.size;

    await this.fillSeriesFromHeaders(uid, headerSeries);
    const complete = await cache.markComplete(uid);
    const cancelled = wasCancelled() && !complete;
    const failure = firstFailure ?? (cancelled ? cancelledFailure() : undefined);
    if (complete) handle?.finish('done');
    else handle?.finish(cancelled ? 'cancelled' : 'failed', failure ? `${site.name}: ${failure.message}` : undefined);
    this.tellRetrieved(req, site, fetchedHere, complete ? undefined : `${failure?.message ?? 'incomplete'}; ${done} of ${total} instances in the cache`);
    if (!complete && done === 0) {
      throw new StudyUnavailableError(
        failure && isOfflineFailure(failure)
          ? `${NOT_OFFLINE_MESSAGE}: ${site.name} ${failure.message}`
          : `${site.name}: ${failure?.message ?? 'retrieval failed'}`,
        failure,
      );
    }
    log.info(`Study ${uid}: ${done}/${total} instances cached, ${bytes()} bytes received${complete ? ', complete' : ''}`);
    return { source: 'network', complete, ...(complete || !failure ? {} : { failure }) };
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

  private queueFor(siteId: string): PQueue {
    let q = this.queues.get(siteId);
    if (!q) {
      q = new PQueue({ concurrency: this.concurrency });
      this.queues.set(siteId, q);
    }
    return q;
  }

  private failureOf(err: unknown, what: string): SiteFailure {
    const f = classifySiteError(err);
    return { ...f, message: `${f.message} while ${what}` };
  }

  /** Runs `fn`, again after a growing pause with jitter while it fails in a way that may pass. */
  private async withRetry<T>(run: StudyRun, what: string, fn: () => Promise<T>): Promise<T> {
    const { attempts, baseDelayMs, maxDelayMs } = this.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (run.signal.aborted || attempt >= attempts || !isRetryableSiteError(err)) throw err;
        const failure = classifySiteError(err);
        // "Equal jitter": half the backoff fixed, half random, so parallel downloads do not retry in step.
        const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        const delay = Math.round(backoff / 2 + (this.random() * backoff) / 2);
        run.handle?.noteError(`${run.site.name}: ${failure.message} while ${what}; try ${attempt + 1} of ${attempts} in ${(delay / 1000).toFixed(1)} s`);
        this.deps.log.info(`${run.site.id}: ${failure.message} while ${what}; retrying in ${delay} ms`);
        await sleep(delay, run.signal);
      }
    }
  }

  /**
   * Fetches one instance unless it is stored already or being fetched by
   * another retrieval (then waits for that one). Returns what was fetched,
   * still claimed until `release` (called once its write has settled), or
   * undefined when someone else stored it.
   */
  private async fetchOne(run: StudyRun, item: PlannedInstance): Promise<Downloaded | undefined> {
    const { cache } = this.deps;
    const sop = item.sopInstanceUID;
    for (;;) {
      if (await cache.hasInstance(sop)) return undefined;
      const other = this.inflight.get(sop);
      if (!other) break;
      await untilAborted(
        other.catch(() => undefined),
        run.signal,
      );
    }
    // Claimed until written, not only until downloaded: another retrieval that finds it
    // neither in flight nor stored while it waits in the write buffer would fetch it twice.
    let settle!: () => void;
    const claim = new Promise<void>((r) => (settle = r));
    this.inflight.set(sop, claim);
    const release = (): void => {
      if (this.inflight.get(sop) === claim) this.inflight.delete(sop);
      settle();
    };
    let fetched: Fetched;
    try {
      fetched = await this.withRetry(run, `retrieving instance ${sop} by WADO-RS`, () => this.downloadOnce(run, item));
    } catch (err) {
      release();
      throw err;
    }
    const instanceNumber = fetched.header.instanceNumber ?? item.instanceNumber;
    const meta: InstanceMeta = {
      sopInstanceUID: sop,
      studyInstanceUID: item.studyInstanceUID,
      seriesInstanceUID: item.seriesInstanceUID,
      transferSyntaxUID: fetched.header.transferSyntaxUID,
      ...(instanceNumber !== undefined ? { instanceNumber } : {}),
      ...(fetched.header.imagePositionPatient ? { imagePositionPatient: fetched.header.imagePositionPatient } : {}),
      ...(fetched.header.imageOrientationPatient ? { imageOrientationPatient: fetched.header.imageOrientationPatient } : {}),
    };
    return { fetched, meta, release };
  }

  /** One try at one instance, in the transfer syntax negotiated for its site. */
  private async downloadOnce(run: StudyRun, item: PlannedInstance): Promise<Fetched> {
    const mode: Mode = negotiatesTransferSyntax(item.sopClassUID) ? await this.modeFor(run.site.id, run.signal) : { kind: 'original' };
    if (mode.kind === 'original') return this.fetchAs(run, item, '*');

    let answer: Fetched | undefined;
    try {
      answer = await this.fetchAs(run, item, TS_JPEG_LS_LOSSLESS);
    } catch (err) {
      const refused = refusedTransferSyntax(err);
      if (mode.kind === 'probe') mode.settle(refused ? false : undefined);
      // A site that offers JPEG-LS may still fail to transcode one object (500): that one comes as stored.
      if (!refused && !(mode.kind === 'jpegls' && err instanceof HttpStatusError && err.status === 500)) throw err;
      this.deps.log.info(`${run.site.id} refused JPEG-LS for ${item.sopInstanceUID} (${err instanceof Error ? err.message : String(err)}); fetching it as stored`);
      return this.fetchAs(run, item, '*');
    }
    const isJpegLs = answer.header.transferSyntaxUID === TS_JPEG_LS_LOSSLESS;
    if (mode.kind === 'probe') {
      mode.settle(isJpegLs);
      this.deps.log.info(`${run.site.id} ${isJpegLs ? 'transcodes' : 'does not transcode'} to JPEG-LS lossless (answered ${answer.header.transferSyntaxUID})`);
    }
    if (isJpegLs) return answer;
    // Asked for lossless JPEG-LS, got something else (possibly lossy): never stored as if it were what we asked for.
    return this.fetchAs(run, item, '*');
  }

  /** Fetches one instance in `transferSyntax` and checks it is a whole DICOM file of the instance asked for. */
  private async fetchAs(run: StudyRun, item: PlannedInstance, transferSyntax: string): Promise<Fetched> {
    // Paced before the deadline starts: waiting for bandwidth is not the site being slow.
    if (run.beforeRequest) await run.beforeRequest(run.signal);
    // One controller per request, tied to the retrieval and to our deadline; listeners are
    // removed when it settles, so a 300-instance study does not pile them on the study's signal.
    const request = new AbortController();
    let timedOut = false;
    const onAbort = (): void => request.abort(run.signal.reason);
    run.signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      request.abort(new RequestTimeoutError(this.requestTimeoutMs));
    }, this.requestTimeoutMs);
    let bytes: ArrayBuffer;
    try {
      if (run.signal.aborted) throw run.signal.reason;
      bytes = await run.api.retrieveInstance(item, request.signal, { transferSyntax, onBytes: run.addBytes });
    } catch (err) {
      if (timedOut && !run.signal.aborted) throw new RequestTimeoutError(this.requestTimeoutMs);
      throw err;
    } finally {
      clearTimeout(timer);
      run.signal.removeEventListener('abort', onAbort);
    }
    let header: Part10Header;
    try {
      header = readPart10Header(bytes);
    } catch {
      throw new BadAnswerError(`the answer for ${item.sopInstanceUID} is not a DICOM file`);
    }
    if (header.sopInstanceUID && header.sopInstanceUID !== item.sopInstanceUID) {
      throw new BadAnswerError(`asked for instance ${item.sopInstanceUID}, got ${header.sopInstanceUID}`);
    }
    checkComplete(bytes);
    return { bytes, header };
  }

  /**
   * The transfer syntax to ask a site for. Unknown sites are probed once,
   * with the first instance fetched there; the others wait for the outcome,
   * which is remembered in the cache (siteCapabilities) across sessions.
   */
  private async modeFor(siteId: string, signal: AbortSignal): Promise<Mode> {
    if (this.deps.negotiateJpegLs === false) return { kind: 'original' };
    for (;;) {
      if (!this.capabilities.has(siteId)) {
        const rec = await this.deps.cache.getSiteCapability(siteId);
        if (!this.capabilities.has(siteId)) this.capabilities.set(siteId, rec?.jpegLsLossless);
      }
      const known = this.capabilities.get(siteId);
      if (known !== undefined) return { kind: known ? 'jpegls' : 'original' };
      const pending = this.probes.get(siteId);
      if (pending) {
        await untilAborted(pending, signal);
        continue;
      }
      let release!: () => void;
      const probe = new Promise<void>((r) => (release = r));
      this.probes.set(siteId, probe);
      let settled = false;
      return {
        kind: 'probe',
        settle: (jpegLs) => {
          if (settled) return;
          settled = true;
          this.probes.delete(siteId);
          if (jpegLs !== undefined) {
            this.capabilities.set(siteId, jpegLs);
            void this.deps.cache
              .putSiteCapability({ siteId, jpegLsLossless: jpegLs, probedAt: Date.now() })
              .catch((err: unknown) => this.deps.log.warn(`Could not remember ${siteId}'s capabilities`, err));
          }
          release();
        },
      };
    }
  }

  /** The site could not list the study: show what the cache has, or say plainly that there is nothing. */
  private async fromCacheOnly(uid: string, failure: SiteFailure, site: SiteSummary | undefined): Promise<EnsureStudyResult> {
    const stored = await this.deps.cache.getStudyInstances(uid);
    if (stored.length === 0) {
      const who = site ? `${site.name} ` : '';
      throw new StudyUnavailableError(
        isOfflineFailure(failure) ? `${NOT_OFFLINE_MESSAGE}: ${who}${failure.message}` : `Cannot retrieve the study: ${who}${failure.message}`,
        failure,
      );
    }
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

function cancelledFailure(): SiteFailure {
  return { kind: 'other', message: 'retrieval cancelled' };
}

/**
 * The download order: per series, the instance the viewer paints first (the
 * middle one by instance number, see viewer-store) is marked to go ahead of
 * everything else; the rest follow in instance order.
 */
function plan(uid: string, listed: DicomJsonDataset[]): PlannedInstance[] {
  const bySeries = new Map<string, PlannedInstance[]>();
  for (const ds of listed) {
    const sop = getString(ds, Tag.SOPInstanceUID);
    const series = getString(ds, Tag.SeriesInstanceUID);
    if (!sop || !series) continue;
    const n = getNumber(ds, Tag.InstanceNumber);
    const sopClass = getString(ds, SOP_CLASS_UID);
    const list = bySeries.get(series) ?? [];
    list.push({
      studyInstanceUID: uid,
      seriesInstanceUID: series,
      sopInstanceUID: sop,
      firstOfSeries: false,
      ...(n !== undefined ? { instanceNumber: n } : {}),
      ...(sopClass ? { sopClassUID: sopClass } : {}),
    });
    bySeries.set(series, list);
  }
  const out: PlannedInstance[] = [];
  for (const list of bySeries.values()) {
    list.sort((a, b) => (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0));
    list[Math.floor(list.length / 2)]!.firstOfSeries = true;
    out.push(...list);
  }
  return out;
}

function seriesFromQido(uid: string, listed: DicomJsonDataset[]): SeriesRecord[] {
  const bySeries = new Map<string, SeriesRecord>();
  for (const ds of listed) {
    const seriesUid = getString(ds, Tag.SeriesInstanceUID);
    if (!seriesUid || bySeries.has(seriesUid)) continue;
    const seriesNumber = getNumber(ds, Tag.SeriesNumber);
    bySeries.set(seriesUid, {
      seriesInstanceUID: seriesUid,
      studyInstanceUID: uid,
      modality: getString(ds, Tag.Modality) ?? '',
      description: getString(ds, Tag.SeriesDescription) ?? '',
      ...(seriesNumber !== undefined ? { seriesNumber } : {}),
    });
  }
  return [...bySeries.values()];
}
