import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import { Tag, getNumber, getString } from '../../shared/dicom/dicomweb-json';
import type { DicomJsonDataset } from '../../shared/dicom/dicomweb-json';
import { TS_JPEG_LS_LOSSLESS } from '../dicomweb/dicomweb-api';
import type { DicomWebApi, DicomWebApiFactory } from '../dicomweb/dicomweb-api';
import { BadAnswerError, HttpStatusError, RequestTimeoutError, classifySiteError, isOfflineFailure, isRetryableSiteError } from '../dicomweb/site-error';
import type { SiteFailure } from '../dicomweb/site-error';
import { dicomParser } from '../lib/dicom/dicom-parser';
import type { TransferHandle, TransfersStore } from './transfers-store';
import type { ListedInstance, SeriesRecord, StudyListingRecord } from './telerad-db';
import { hangingIndex, sortStack } from '../../shared/dicom/stack-order';
import { RetrievalOrder } from './retrieval-order';
import type { OrderedSeries } from './retrieval-order';
import { SiteLink } from './site-link';
import type { LinkSource, LinkWork } from './site-link';
import type { InstanceMeta, PreviewPut, StudyCache, StudyUpsert } from './study-cache';
import { CacheFullError } from './cache-budget';
import { readPart10Header } from './part10-header';
import type { Part10Header } from './part10-header';
import { errorMessage } from '../../shared/error-message';

export interface RetrieveProgress {
  /** Instances stored so far, those that were cached before included. */
  done: number;
  total: number;
  /** Bytes received by this retrieval so far (after HTTP decoding). */
  bytes?: number;
  /** Previews stored by this retrieval, of those it asked for (0 of 0: none asked, e.g. the site does not render). */
  previewsDone?: number;
  previewsTotal?: number;
}

/** Anything a retrieval stored, as the retriever tells every listener. */
export interface StoredAnyEvent {
  studyInstanceUID: string;
  sopInstanceUID: string;
  kind: 'lossless' | 'preview';
  /** A lossless file's header (transfer syntax, geometry). */
  header?: Part10Header;
}

/** A preview newly stored in the cache. */
export interface StoredPreviewEvent {
  seriesInstanceUID: string;
  sopInstanceUID: string;
}

/** One instance newly stored in the cache. */
export interface StoredInstanceEvent {
  seriesInstanceUID: string;
  sopInstanceUID: string;
  /** The instance of its series that was fetched first (the one the viewer shows first). */
  firstOfSeries: boolean;
  transferSyntaxUID: string;
  size: number;
  /** From the stored file's header: what the site's instance list may have left out. */
  imagePositionPatient?: number[];
  imageOrientationPatient?: number[];
}

export interface EnsureStudyRequest {
  /** The study's site; undefined when the site is no longer configured (only the cache can help then). */
  site: SiteSummary | undefined;
  /** What the worklist knows of the study; written to the cache so it lists offline. */
  study: StudyUpsert;
  onProgress?: (p: RetrieveProgress) => void;
  /** Told as each instance lands in the cache. */
  onInstanceStored?: (e: StoredInstanceEvent) => void;
  /**
   * Told once the site has listed the study's instances (before any is
   * fetched), with the list in reading order; also, when the site cannot be
   * reached, with the list stored by an earlier retrieval, if any. The viewer
   * opens on it.
   */
  onListed?: (listing: StudyListingRecord) => void;
  /** Told as each preview lands in the cache. */
  onPreviewStored?: (e: StoredPreviewEvent) => void;
  /** Fetch a rendered preview of every slice beside the lossless transfer (default true; never for background work). */
  previews?: boolean;
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

/**
 * Instance-level QIDO fields: enough to build series records and order each
 * stack before any pixel arrives (position and orientation: Orthanc answers
 * them from its index; a PACS that leaves them out gets instance-number order),
 * and to ask previews in the image's aspect (rows, columns).
 */
const INSTANCE_FIELDS = [
  Tag.SeriesDescription,
  Tag.Modality,
  Tag.SeriesNumber,
  Tag.InstanceNumber,
  '00200032', // Image Position (Patient)
  '00200037', // Image Orientation (Patient)
  '00280010', // Rows
  '00280011', // Columns
  '00280008', // Number of Frames
];

/** Previews: the longer side in pixels and the JPEG quality (a 512² CT slice is ≈ 4 kB at 256 px, quality 50). */
export const DEFAULT_PREVIEWS = { size: 256, quality: 50 } as const;

/** Previews per batch request, and batch requests at once (the gateway asks the site for eight of a batch at a time). */
const PREVIEW_BATCH_SIZE = 16;
const PREVIEW_BATCHES_IN_FLIGHT = 2;

/** How long an instance list asked at the click is used for the open that follows. */
const LISTED_AHEAD_MS = 10_000;

/** How long previews go before the lossless transfer (but for the hanging and focused slices), at most. */
const PREVIEW_FIRST_MS = 10_000;

/** Requests in flight per site: the browser host's page has six connections to its origin; one stays for the rest. */
export const DEFAULT_SITE_SLOTS = 5;

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

interface PlannedInstance extends ListedInstance {
  /** The series' hanging slice (what the viewer shows first). */
  firstOfSeries: boolean;
}

/** A retrieval under way, that a second caller of the same study joins. */
interface SharedRun {
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

/** A retrieval on its site's link, as the retriever steers it (focus, priority, pause). */
interface StreamSource extends LinkSource {
  readonly studyInstanceUID: string;
  readonly order: RetrievalOrder;
  foreground: boolean;
  rank: number;
  paused: boolean;
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
 * A write-behind buffer of one retrieval: items queue until `size` of them
 * wait, or `WRITE_DELAY_MS` after the first, then go to `write` in one call.
 * One IndexedDB transaction per instance held a 300-slice CT to 75–125 MB/s
 * in Chromium; 8 per transaction reach 170–215 MB/s (bench/cache.bench.ts).
 * Each item's promise settles when its batch has committed — whole or not at
 * all — so nothing counts as stored before it is; `outcome` turns what the
 * batch's write returned into what each item's promise says.
 */
class WriteBehind<T, W, R> {
  private pending: Array<{ item: T; resolve: (result: R) => void; reject: (err: unknown) => void }> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly size: number,
    private readonly write: (items: T[]) => Promise<W>,
    private readonly outcome: (written: W) => (item: T) => R,
  ) {}

  /** Queues an item; `now` writes it (and whatever is queued) at once, as for the first image of a series. */
  add(item: T, now = false): Promise<R> {
    const written = new Promise<R>((resolve, reject) => this.pending.push({ item, resolve, reject }));
    if (now || this.pending.length >= this.size) this.flush();
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
    this.write(batch.map((b) => b.item)).then(
      (written) => {
        const of = this.outcome(written);
        batch.forEach((b) => b.resolve(of(b.item)));
      },
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    );
  }
}

/** Previews written together (they are small; one transaction each would cost more than the JPEGs). */
const PREVIEW_BATCH = 16;

/** The write-behind buffer for instances; each promise settles when its instance is stored. */
function instanceWriter(cache: StudyCache): WriteBehind<{ meta: InstanceMeta; bytes: ArrayBuffer }, unknown, void> {
  return new WriteBehind<{ meta: InstanceMeta; bytes: ArrayBuffer }, unknown, void>(WRITE_BATCH, (items) => cache.putInstances(items), () => () => undefined);
}

/** The write-behind buffer for previews; each promise says whether its preview was kept (not when its lossless file was there first). */
function previewWriterOf(cache: StudyCache): WriteBehind<PreviewPut, readonly string[], boolean> {
  return new WriteBehind<PreviewPut, readonly string[], boolean>(
    PREVIEW_BATCH,
    (puts) => cache.putPreviews(puts),
    (kept) => {
      const set = new Set(kept);
      return (put) => set.has(put.sopInstanceUID);
    },
  );
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
  /** Its place on the site's link, once the instance list is in. */
  source?: StreamSource;
}

/** A site answered 400/406/415 to a transfer syntax it does not offer. */
function refusedTransferSyntax(err: unknown): boolean {
  return err instanceof HttpStatusError && (err.status === 400 || err.status === 406 || err.status === 415);
}

/** A site that does not render previews: 400/404/406/415/501 (or 405) to /rendered. */
function refusedRendering(err: unknown): boolean {
  // The site's own answer, not one the gateway made (an unknown site is not a site that does not render).
  return err instanceof HttpStatusError && [400, 404, 405, 406, 415, 501].includes(err.status) && err.request.getResponseHeader('x-telerad-error') === null;
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
  /** Request slots per site, shared by every retrieval from it. */
  private readonly links = new Map<string, SiteLink>();
  /** Retrievals on a link now (the instance list is in), for focus, priority and pause. */
  private readonly streams = new Set<StreamSource>();
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
    this.concurrency = Math.max(1, deps.concurrency ?? DEFAULT_SITE_SLOTS);
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
    const promise = this.deps.dicomweb(site).searchForInstances(uid, { includefield: [...INSTANCE_FIELDS, SOP_CLASS_UID] });
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

    // One controller for the whole retrieval: every caller leaving, the user
    // cancelling in the transfers panel, and the link going down all end it.
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
          log.error('A retrieval listener failed', err);
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
        this.expected.get(uid)?.resolve();
      },
      promise: Promise.resolve({ source: 'network', complete: false }),
      join: (joiner) => {
        attach(joiner);
        if (listing) joiner.onListed?.(listing);
        if (lastProgress) joiner.onProgress?.(lastProgress);
        if (!joiner.background) {
          shared.foregroundJoined = true;
          this.setForegroundStudy(uid, true);
          shared.promote?.();
        }
        return shared.promise;
      },
    };
    // A caller leaving (its signal) only detaches it; the retrieval stops when none is left.
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
        return await this.retrieve(fanout, run, () => bytes, () => cancelled, shared);
      } catch (err) {
        handle?.finish(cancelled ? 'cancelled' : 'failed', errorMessage(err));
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

    const stored = new Set<string>();
    /** Fetched from the site by this retrieval and committed to the cache. */
    const fetchedHere: string[] = [];
    let total: number | undefined = undefined;
    let previewsDone = 0;
    let previewsTotal = 0;
    let previewsReported = false;
    const report = (): void => {
      if (total === undefined) return;
      req.onProgress?.({ done: stored.size, total, bytes: bytes(), previewsDone, previewsTotal });
      handle?.progress(stored.size, total);
      if (previewsTotal > 0 || previewsReported) {
        previewsReported = true;
        handle?.previews(previewsDone, previewsTotal);
      }
    };
    let firstFailure: SiteFailure | undefined;
    const headerSeries = new Map<string, Partial<SeriesRecord>>();

    let listed: DicomJsonDataset[];
    const listing = "listing the study's instances by QIDO-RS";
    try {
      let ahead = this.takeListedAhead(uid, site.id);
      listed = await this.withRetry(run, listing, async () => {
        // An early list that failed is asked again here, as if it had never been asked — but for a timeout,
        // which has already made the reader wait the whole wait once. A reader leaving stops the wait.
        const early =
          ahead &&
          (await untilAborted(ahead, run.signal).catch((err: unknown) => {
            if (run.signal.aborted || classifySiteError(err).kind === 'timeout') throw err;
            return undefined;
          }));
        ahead = undefined;
        return early ?? run.api.searchForInstances(uid, { includefield: [...INSTANCE_FIELDS, SOP_CLASS_UID] });
      });
    } catch (err) {
      const failure = wasCancelled() ? cancelledFailure() : this.failureOf(err, listing);
      run.stop();
      log.warn(`Instance list of ${uid} at ${site.id} failed: ${failure.message}`);
      handle?.finish(wasCancelled() ? 'cancelled' : 'failed', `${site.name}: ${failure.message}`);
      this.tellRetrieved(req, site, fetchedHere, failure.message);
      return this.fromCacheOnly(uid, failure, site, req);
    }
    const planned = plan(uid, listed);
    if (planned.length === 0) {
      run.stop();
      this.tellRetrieved(req, site, fetchedHere, `${site.name} lists no instances for this study`);
      handle?.finish('failed', `${site.name} lists no instances for this study`);
      throw new StudyUnavailableError(`${site.name} lists no instances for this study`);
    }

    const missing: PlannedInstance[] = [];
    // One keys-only query, not one read per instance: 300 sealed reads held the first request back ≈ 0.6 s.
    // The preview plan's reads (the site's capability, the previews kept) go beside it, not after it.
    const [already, previewsOf] = await Promise.all([cache.storedSops(uid), this.previewPicker(req, site, uid)]);
    for (const p of planned) {
      if (already.has(p.sopInstanceUID)) stored.add(p.sopInstanceUID);
      else missing.push(p);
    }
    total = planned.length;
    const listingRecord: StudyListingRecord = { studyInstanceUID: uid, siteId: site.id, instances: planned.map(listedOf), listedAt: Date.now() };
    // The records go to the cache beside the first requests, not before them (≈ 0.1–0.3 s of sealed
    // transactions on the way to the first slice). Instances stored meanwhile are counted either way:
    // putInstances adds to an existing study row, upsertStudy counts what is there when it makes one.
    let bookkeepingError: unknown;
    const bookkeeping = (async () => {
      await cache.upsertStudy({ ...req.study, siteId: site.id, numInstances: planned.length });
      await cache.putSeries(seriesFromQido(uid, listed));
      await cache.putListing(listingRecord);
      // The viewer opens now, on the instance list: the slices fill in as they land.
      try {
        req.onListed?.(listingRecord);
      } catch (err) {
        log.error('The instance-list listener failed', err);
      }
      report();
    })().catch((err: unknown) => {
      bookkeepingError = err;
      log.error(`Recording ${uid} in the cache failed`, err);
      run.stop();
    });

    const bySop = new Map(planned.map((p) => [p.sopInstanceUID, p]));
    // The slice the viewer shows first: the hanging slice of the first (largest) series.
    const firstSliceSop = planned.find((p) => p.firstOfSeries)?.sopInstanceUID;
    let firstSliceStored = firstSliceSop === undefined || stored.has(firstSliceSop);
    if (firstSliceStored) shared.firstSliceDone();
    const order = new RetrievalOrder(orderedSeries(planned));
    for (const p of missing) order.want('lossless', p.sopInstanceUID);
    const previews = previewsOf(missing);
    for (const p of previews) order.want('preview', p.sopInstanceUID);
    previewsTotal = previews.length;
    let previewsOn = previews.length > 0;
    // Prefetch fetches no previews; a reader who opens the study meanwhile gets them for what is still missing.
    let promoted = !req.background;
    shared.promote = () => {
      if (promoted) return;
      promoted = true;
      void this.previewPlan({ ...req, background: undefined }, site, uid, missing.filter((p) => !stored.has(p.sopInstanceUID) && order.has('lossless', p.sopInstanceUID)))
        .then((more) => {
          if (run.signal.aborted || more.length === 0) return;
          for (const p of more) {
            order.want('preview', p.sopInstanceUID);
            previews.push(p);
          }
          previewsTotal += more.length;
          previewsOn = true;
          report();
          this.linkFor(site.id).pump();
        })
        .catch((err: unknown) => log.warn(`Planning previews of ${uid} failed`, err));
    };
    if (shared.foregroundJoined) shared.promote();
    let previewFailures = 0;

    const listedAt = Date.now();
    let losslessInFlight = 0;
    const writer = instanceWriter(cache);
    const previewWriter = previewWriterOf(cache);
    const writes: Promise<unknown>[] = [];
    let inFlight = 0;
    let settleRun!: () => void;
    const finished = new Promise<void>((r) => (settleRun = r));
    const maybeFinished = (): void => {
      if (inFlight === 0 && (order.count('lossless') === 0 || run.signal.aborted)) {
        order.clear();
        settleRun();
      }
    };

    const lossless = (sop: string): LinkWork => ({
      kind: 'lossless',
      run: async () => {
        const item = bySop.get(sop)!;
        inFlight++;
        losslessInFlight++;
        let downloaded: Downloaded | undefined;
        try {
          if (run.signal.aborted) return settleLossless();
          downloaded = await this.fetchOne(run, item);
        } catch (err) {
          this.noteLosslessFailure(run, item, err, (f) => (firstFailure ??= f));
          return settleLossless();
        } finally {
          losslessInFlight--;
        }
        // The write waits outside the slot: a download slot is not held while its batch fills.
        void storeLossless(item, downloaded).finally(settleLossless);
      },
    });
    const settleLossless = (): void => {
      inFlight--;
      maybeFinished();
    };
    const storeLossless = async (item: PlannedInstance, downloaded: Downloaded | undefined): Promise<void> => {
      const sop = item.sopInstanceUID;
      try {
        if (downloaded) {
          const { fetched } = downloaded;
          const write = (async () => {
            try {
              await writer.add({ meta: downloaded.meta, bytes: fetched.bytes }, item.firstOfSeries);
            } finally {
              downloaded.release();
            }
          })();
          writes.push(write.catch(() => undefined));
          await write;
          fetchedHere.push(sop);
          if (!headerSeries.has(item.seriesInstanceUID)) {
            headerSeries.set(item.seriesInstanceUID, { modality: fetched.header.modality, description: fetched.header.seriesDescription, seriesNumber: fetched.header.seriesNumber });
          }
          req.onInstanceStored?.({
            seriesInstanceUID: item.seriesInstanceUID,
            sopInstanceUID: sop,
            firstOfSeries: item.firstOfSeries,
            transferSyntaxUID: fetched.header.transferSyntaxUID,
            size: fetched.bytes.byteLength,
            ...(fetched.header.imagePositionPatient ? { imagePositionPatient: fetched.header.imagePositionPatient } : {}),
            ...(fetched.header.imageOrientationPatient ? { imageOrientationPatient: fetched.header.imageOrientationPatient } : {}),
          });
          this.tellStored({ studyInstanceUID: uid, sopInstanceUID: sop, kind: 'lossless', header: fetched.header });
        }
        if (sop === firstSliceSop) {
          firstSliceStored = true;
          shared.firstSliceDone();
          this.linkFor(site.id).pump();
        }
        stored.add(sop);
        // Its preview is of no use any more.
        if (order.has('preview', sop)) {
          order.drop('preview', sop);
          previewsTotal--;
        }
        report();
      } catch (err) {
        this.noteLosslessFailure(run, item, err, (f) => (firstFailure ??= f));
      }
    };

    /** Preview requests in flight (a batch counts once). */
    let previewsInFlight = 0;
    const viewportOf = (item: PlannedInstance): { width: number; height: number } =>
      previewViewport(item.columns, item.rows, this.deps.previews ? this.deps.previews.size : DEFAULT_PREVIEWS.size);

    /** A preview that arrived: written (outside the request slot: a write batch fills for up to 40 ms). */
    const keepPreview = (item: PlannedInstance, jpeg: { bytes: ArrayBuffer; width: number; height: number }): void => {
      const sop = item.sopInstanceUID;
      if (stored.has(sop)) {
        // The lossless file won the race: no preview is kept for it.
        previewsTotal--;
        report();
        return;
      }
      const put = previewWriter.add({ sopInstanceUID: sop, studyInstanceUID: uid, seriesInstanceUID: item.seriesInstanceUID, bytes: jpeg.bytes, width: jpeg.width, height: jpeg.height });
      inFlight++;
      const written = put.then(
        (kept) => {
          if (kept) {
            previewsDone++;
            req.onPreviewStored?.({ seriesInstanceUID: item.seriesInstanceUID, sopInstanceUID: sop });
            this.tellStored({ studyInstanceUID: uid, sopInstanceUID: sop, kind: 'preview' });
          } else previewsTotal--;
          report();
        },
        (err: unknown) => {
          previewsTotal--;
          log.warn(`Storing the preview of ${sop} failed`, err);
          report();
        },
      );
      writes.push(
        written.finally(() => {
          inFlight--;
          maybeFinished();
        }),
      );
    };

    /** A preview that failed: the site does not render (no more previews), is gone (stop), or this one is skipped. */
    const previewFailed = (sop: string, err: unknown): void => {
      if (run.signal.aborted) return;
      if (refusedRendering(err)) {
        // The site does not render: no previews from it, the study streams lossless only.
        if (previewsOn) {
          previewsOn = false;
          for (const p of previews) order.drop('preview', p.sopInstanceUID);
          previewsTotal = previewsDone;
          log.info(`${site.id} does not answer WADO-RS /rendered (${errorMessage(err)}): no previews, lossless only`);
          this.rememberRendered(site.id, false);
          report();
        }
        return;
      }
      const failure = classifySiteError(err);
      if (isOfflineFailure(failure)) {
        firstFailure ??= { ...failure, message: `${failure.message} while retrieving a preview by WADO-RS` };
        handle?.noteError(`${site.name}: ${failure.message}`);
        run.stop();
        return;
      }
      // A preview is a convenience: one that fails is skipped, its slice waits for the lossless file.
      if (previewFailures++ === 0) log.warn(`Preview of ${sop} (${site.id}) failed: ${failure.message}; skipped`);
      previewsTotal--;
      report();
    };

    const preview = (sop: string): LinkWork => ({
      kind: 'preview',
      run: async () => {
        const item = bySop.get(sop)!;
        inFlight++;
        previewsInFlight++;
        try {
          if (run.signal.aborted) return;
          if (stored.has(sop)) {
            previewsTotal--;
            return;
          }
          keepPreview(item, await this.fetchPreview(run, item));
        } catch (err) {
          previewFailed(sop, err);
        } finally {
          previewsInFlight--;
          inFlight--;
          maybeFinished();
        }
      },
    });

    /** Several previews in one request to the gateway (it asks the site for each): see shared/gateway.ts. */
    const previewBatch = (sops: string[]): LinkWork => ({
      kind: 'preview',
      run: async () => {
        const items = sops.map((s) => bySop.get(s)!).filter((i) => !stored.has(i.sopInstanceUID));
        previewsTotal -= sops.length - items.length;
        if (items.length === 0 || run.signal.aborted) return;
        inFlight++;
        previewsInFlight++;
        try {
          // One raster for the batch: a series' slices share their size (a slice of another size is asked alone).
          const viewport = viewportOf(items[0]!);
          const same = items.filter((i) => { const v = viewportOf(i); return v.width === viewport.width && v.height === viewport.height; });
          for (const other of items.filter((i) => !same.includes(i))) order.want('preview', other.sopInstanceUID);
          const quality = this.deps.previews ? this.deps.previews.quality : DEFAULT_PREVIEWS.quality;
          if (run.beforeRequest) await run.beforeRequest(run.signal);
          const answers = await this.withDeadline(run, (signal) => run.api.retrieveRenderedBatch!(uid, same, { viewport, quality, onBytes: run.addBytes }, signal));
          const answered = new Set<string>();
          for (const a of answers) {
            const item = bySop.get(a.sopInstanceUID);
            if (!item || answered.has(a.sopInstanceUID) || !same.includes(item)) continue;
            answered.add(a.sopInstanceUID);
            if (a.ok) keepPreview(item, { bytes: a.bytes, ...viewport });
            else previewFailed(a.sopInstanceUID, a.error);
          }
          for (const i of same) if (!answered.has(i.sopInstanceUID)) previewFailed(i.sopInstanceUID, new BadAnswerError('the preview batch left this instance out'));
        } catch (err) {
          if (err instanceof HttpStatusError && (err.status === 404 || err.status === 405) && !run.signal.aborted) {
            // A host without preview batches: ask these (and the rest) one by one.
            this.noBatches.add(site.id);
            for (const i of items) order.want('preview', i.sopInstanceUID);
          } else for (const i of items) previewFailed(i.sopInstanceUID, err);
        } finally {
          previewsInFlight--;
          inFlight--;
          maybeFinished();
        }
      },
    });
    const batching = (): boolean => run.api.retrieveRenderedBatch !== undefined && !this.noBatches.has(site.id);

    const source: StreamSource = {
      studyInstanceUID: uid,
      order,
      foreground: !req.background || shared.foregroundJoined === true,
      rank: ++this.rankSeq,
      paused: this.pausedStudies.has(uid),
      next(previewSlots) {
        if (run.signal.aborted) return undefined;
        const urgent = order.takeUrgent();
        if (urgent !== undefined) return lossless(urgent);
        const losslessLeft = order.count('lossless') > 0;
        // Previews first: on a slow link a lossless file queued on the line holds every small answer
        // behind it (bench/progressive: 4 previews beside one lossless download took 0.3 s each, 28 s for
        // 300). So while previews remain they take every slot the hanging and focused slices leave —
        // a few seconds at 10 Mbit/s — except past PREVIEW_FIRST_MS (a slow renderer), when one lossless
        // download always runs.
        const previewsFirst = Date.now() - listedAt < PREVIEW_FIRST_MS || losslessInFlight > 0;
        // While the first slice is on its way, two previews beside it at most: every request more then is a
        // new connection and a render at the site competing with the one file the reader is waiting for.
        // Batched, two requests carry sixteen previews at a time; one beside the first slice.
        const batched = batching();
        const besideFirst = !firstSliceStored && previewsInFlight >= (batched ? 1 : 2);
        const tooMany = batched && previewsInFlight >= PREVIEW_BATCHES_IN_FLIGHT;
        if (previewsOn && order.count('preview') > 0 && (previewsFirst || !losslessLeft)) {
          // A slot a preview may not take now stays free: it is not given to a lossless file either.
          if (besideFirst || tooMany || previewSlots <= 0) return undefined;
          if (batched) {
            const sops: string[] = [];
            for (let p = order.take('preview'); p !== undefined; p = sops.length < PREVIEW_BATCH_SIZE ? order.take('preview') : undefined) sops.push(p);
            if (sops.length > 0) return previewBatch(sops);
          } else {
            const p = order.take('preview');
            if (p !== undefined) return preview(p);
          }
        }
        const next = order.take('lossless');
        return next !== undefined ? lossless(next) : undefined;
      },
    };
    const link = this.linkFor(site.id);
    this.streams.add(source);
    run.source = source;
    const onAbort = (): void => {
      order.clear();
      maybeFinished();
    };
    run.signal.addEventListener('abort', onAbort, { once: true });
    link.add(source);
    maybeFinished();
    try {
      await bookkeeping;
      await finished;
    } finally {
      link.remove(source);
      this.streams.delete(source);
      run.signal.removeEventListener('abort', onAbort);
    }
    if (bookkeepingError !== undefined) {
      writer.flush();
      previewWriter.flush();
      await Promise.all(writes);
      throw bookkeepingError;
    }
    // The last downloads are in: write what is queued now rather than after the batch delay.
    writer.flush();
    previewWriter.flush();
    await Promise.all(writes);
    const done = stored.size;

    await this.fillSeriesFromHeaders(uid, headerSeries);
    const complete = await cache.markComplete(uid);
    const cancelled = wasCancelled() && !complete;
    const failure = firstFailure ?? (cancelled ? cancelledFailure() : undefined);
    if (complete) handle?.finish('done');
    else handle?.finish(cancelled ? 'cancelled' : 'failed', failure ? `${site.name}: ${failure.message}` : undefined);
    this.tellRetrieved(req, site, fetchedHere, complete ? undefined : `${failure?.message ?? 'incomplete'}; ${done} of ${total} instances in the cache`);
    if (!complete && done === 0 && previewsDone === 0) {
      throw new StudyUnavailableError(
        failure && isOfflineFailure(failure)
          ? `${NOT_OFFLINE_MESSAGE}: ${site.name} ${failure.message}`
          : `${site.name}: ${failure?.message ?? 'retrieval failed'}`,
        failure,
      );
    }
    log.info(`Study ${uid}: ${done}/${total} instances cached, ${previewsDone} previews, ${bytes()} bytes received${complete ? ', complete' : ''}`);
    return { source: 'network', complete, ...(complete || !failure ? {} : { failure }) };
  }

  /** A lossless download that failed for good (after its retries): noted, and the retrieval stopped when going on is pointless. */
  private noteLosslessFailure(run: StudyRun, item: PlannedInstance, err: unknown, first: (f: SiteFailure) => void): void {
    const { log } = this.deps;
    // Cancelled, or stopped after the site went away (then the first failure says why).
    if (run.signal.aborted) return;
    // The local disk is full: its message says what to do, and every other download
    // would only be refused the same way. Say it unchanged and stop the retrieval.
    if (err instanceof CacheFullError) {
      first({ kind: 'other', message: err.message });
      run.handle?.noteError(err.message);
      log.warn(err.message);
      run.stop();
      return;
    }
    const failure = this.failureOf(err, `retrieving instance ${item.sopInstanceUID} by WADO-RS`);
    first(failure);
    run.handle?.noteError(`${run.site.name}: ${failure.message}`);
    log.warn(`WADO-RS of ${item.sopInstanceUID} (${run.site.id}) failed: ${failure.message}`);
    // No network: every other request would wait for the same timeout. Stop them all.
    if (isOfflineFailure(failure)) run.stop();
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

  /** One preview, at most PREVIEW_SIZE pixels on its longer side and never larger than the image. */
  private async fetchPreview(run: StudyRun, item: PlannedInstance): Promise<{ bytes: ArrayBuffer; width: number; height: number }> {
    const size = this.deps.previews ? this.deps.previews.size : DEFAULT_PREVIEWS.size;
    const quality = this.deps.previews ? this.deps.previews.quality : DEFAULT_PREVIEWS.quality;
    const viewport = previewViewport(item.columns, item.rows, size);
    if (run.beforeRequest) await run.beforeRequest(run.signal);
    const bytes = await this.withDeadline(run, (signal) => run.api.retrieveRendered(item, { viewport, quality, onBytes: run.addBytes }, signal));
    return { bytes, ...viewport };
  }

  /**
   * One request under the retrieval's signal and our deadline: a controller per request, its
   * listener removed when it settles (a 300-instance study does not pile them on the study's
   * signal); a deadline passed rejects with RequestTimeoutError, whatever the fetch said.
   */
  private async withDeadline<T>(run: StudyRun, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const request = new AbortController();
    let timedOut = false;
    const onAbort = (): void => request.abort(run.signal.reason);
    run.signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      request.abort(new RequestTimeoutError(this.requestTimeoutMs));
    }, this.requestTimeoutMs);
    try {
      if (run.signal.aborted) throw run.signal.reason;
      return await send(request.signal);
    } catch (err) {
      if (timedOut && !run.signal.aborted) throw new RequestTimeoutError(this.requestTimeoutMs);
      throw err;
    } finally {
      clearTimeout(timer);
      run.signal.removeEventListener('abort', onAbort);
    }
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
      this.deps.log.info(`${run.site.id} refused JPEG-LS for ${item.sopInstanceUID} (${errorMessage(err)}); fetching it as stored`);
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
    const bytes = await this.withDeadline(run, (signal) => run.api.retrieveInstance(item, signal, { transferSyntax, onBytes: run.addBytes }));
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

function cancelledFailure(): SiteFailure {
  return { kind: 'other', message: 'retrieval cancelled' };
}

/**
 * The study's instances as listed, each series in reading order (the
 * viewer's stack order: by position along the slice normal when the site
 * answers geometry, else by instance number), its hanging slice marked.
 */
function plan(uid: string, listed: DicomJsonDataset[]): PlannedInstance[] {
  const bySeries = new Map<string, PlannedInstance[]>();
  for (const ds of listed) {
    const sop = getString(ds, Tag.SOPInstanceUID);
    const series = getString(ds, Tag.SeriesInstanceUID);
    if (!sop || !series) continue;
    const n = getNumber(ds, Tag.InstanceNumber);
    const sopClass = getString(ds, SOP_CLASS_UID);
    const position = numbersOf(ds, '00200032', 3);
    const orientation = numbersOf(ds, '00200037', 6);
    const rows = getNumber(ds, '00280010');
    const columns = getNumber(ds, '00280011');
    const frames = getNumber(ds, '00280008');
    const list = bySeries.get(series) ?? [];
    list.push({
      studyInstanceUID: uid,
      seriesInstanceUID: series,
      sopInstanceUID: sop,
      firstOfSeries: false,
      ...(n !== undefined ? { instanceNumber: n } : {}),
      ...(sopClass ? { sopClassUID: sopClass } : {}),
      ...(position ? { imagePositionPatient: position } : {}),
      ...(orientation ? { imageOrientationPatient: orientation } : {}),
      ...(rows !== undefined && rows > 0 ? { rows } : {}),
      ...(columns !== undefined && columns > 0 ? { columns } : {}),
      ...(frames !== undefined && frames > 0 ? { numberOfFrames: frames } : {}),
    });
    bySeries.set(series, list);
  }
  const out: PlannedInstance[] = [];
  // Largest series first: the viewer opens on it, so its hanging slice is fetched first.
  for (const list of [...bySeries.values()].sort((a, b) => b.length - a.length)) {
    const sorted = sortStack(list);
    sorted[hangingIndex(sorted.length)]!.firstOfSeries = true;
    out.push(...sorted);
  }
  return out;
}

function numbersOf(ds: DicomJsonDataset, tag: string, count: number): number[] | undefined {
  const v = (ds[tag]?.Value ?? []).map((x) => (typeof x === 'number' ? x : Number(x)));
  return v.length === count && v.every(Number.isFinite) ? v : undefined;
}

/** The series of a plan, in plan order, with their hanging slices (for the retrieval order). */
function orderedSeries(planned: readonly PlannedInstance[]): OrderedSeries[] {
  const out: { seriesInstanceUID: string; sops: string[]; hanging: number }[] = [];
  for (const p of planned) {
    let s = out.at(-1);
    if (s?.seriesInstanceUID !== p.seriesInstanceUID) {
      s = { seriesInstanceUID: p.seriesInstanceUID, sops: [], hanging: 0 };
      out.push(s);
    }
    if (p.firstOfSeries) s.hanging = s.sops.length;
    s.sops.push(p.sopInstanceUID);
  }
  return out;
}

function listedOf(p: PlannedInstance): ListedInstance {
  const { firstOfSeries: _hanging, ...listed } = p;
  return listed;
}

/**
 * The raster a preview is asked at: the image's aspect with its longer side
 * `size` (never more than the image itself), so the site's letterboxing adds
 * nothing and the preview maps back onto the image's own pixel grid. Square
 * when the site did not say the image's size.
 */
export function previewViewport(columns: number | undefined, rows: number | undefined, size: number): { width: number; height: number } {
  if (!columns || !rows) return { width: size, height: size };
  const scale = Math.min(1, size / Math.max(columns, rows));
  return { width: Math.max(1, Math.round(columns * scale)), height: Math.max(1, Math.round(rows * scale)) };
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
