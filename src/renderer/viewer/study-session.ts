import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { StudyCache, StudyUpsert } from '../cache/study-cache';
import { CacheIntegrityError } from '../cache/study-cache';
import type { StudyRetriever, RetrieveProgress, StoredAnyEvent } from '../cache/study-retriever';
import { StudyUnavailableError } from '../cache/study-retriever';
import type { InstanceRecord, ListedInstance, SeriesRecord } from '../cache/telerad-db';
import { isOfflineFailure } from '../dicomweb/site-error';
import type { ImagingRuntime } from './cornerstone-setup';
import { sortStack } from '../../shared/dicom/stack-order';
import { createListeners } from '../../shared/store/listeners';

export type SessionPhase = 'loading' | 'ready' | 'error';

/** What the cache holds of one slice: its lossless file, only a rendered preview, or nothing yet. */
export type SliceQuality = 'lossless' | 'preview' | 'missing';

export interface SeriesOption {
  seriesInstanceUID: string;
  /** "#2 CT Chest (24)": the series select's text. */
  label: string;
  count: number;
  seriesNumber?: number;
  modality: string;
  description: string;
}

export interface OpenRequest {
  study: StudyUpsert;
  site: SiteSummary | undefined;
}

export interface SessionState {
  phase: SessionPhase;
  /** While the study is being brought into the cache. */
  progress?: RetrieveProgress;
  /** Study-wide: why it failed, or why it shows only part of the study, or an integrity note. */
  message?: string;
  series: SeriesOption[];
  /** Bumped when the cache gained back dropped images: viewports show their slice again. */
  reloads: number;
  /** Slices are still arriving (the study opened on its instance list). */
  streaming: boolean;
  /** Bumped whenever a slice of the study changed quality (the stack bars redraw). */
  slicesRev: number;
}

/** One slice as the viewer knows it: listed by the site (geometry from QIDO), its file's header once stored. */
export interface StackInstance extends ListedInstance {
  transferSyntaxUID?: string;
}

export interface SessionDeps {
  cache: StudyCache;
  retriever: StudyRetriever;
  imaging: ImagingRuntime;
  log: Logger;
  onCacheChanged?: () => void;
  isOnline?: () => boolean;
  /**
   * Open on the instance list and fill in as bytes land (default). `false` is
   * the path before issue 15 — wait for the whole study, then open — kept as
   * bench/progressive's baseline.
   */
  progressive?: boolean;
  /** Pauses before asking a site that failed mid-stream again, while the study stays open (ms; the last repeats). */
  resumeDelaysMs?: readonly number[];
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
}

/** What the viewer says when cached images failed their hash check and were dropped. */
export function integrityNote(dropped: number, refetching: boolean): string {
  const what = dropped === 1 ? '1 image failed its integrity check and was removed' : `${dropped} images failed their integrity check and were removed`;
  const it = dropped === 1 ? 'it is' : 'they are';
  const will = dropped === 1 ? 'it will' : 'they will';
  return refetching ? `${what}; ${it} being fetched again from the site` : `${what}; ${will} be fetched again when the site is reachable`;
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  // The image loader rejects with plain objects ({error, ...}) as often as with Errors.
  if (typeof err === 'object' && err !== null) {
    const inner = (err as { error?: unknown; message?: unknown }).error ?? (err as { message?: unknown }).message;
    if (inner instanceof Error) return inner.message;
    if (typeof inner === 'string') return inner;
    try {
      return JSON.stringify(err).slice(0, 200);
    } catch {
      return 'unknown error';
    }
  }
  return String(err);
}

/** The images of one study in the cache, for the viewports to read from. */
export interface StudySession {
  getState(): SessionState;
  subscribe(listener: () => void): () => void;
  /**
   * Opens the study: at once from the cache when it is complete there, else
   * on its instance list (`onReady` then, with the slices still arriving).
   * The returned function closes it; its retrieval goes on behind the studies
   * the user opens next.
   */
  open(req: OpenRequest, onReady: (series: SeriesOption[]) => void): () => void;
  /** The series' slices in reading order; empty when unknown. */
  stackOf(seriesInstanceUID: string): StackInstance[];
  /** What the cache holds of a slice now. */
  quality(sopInstanceUID: string): SliceQuality;
  /** Told when a slice of the open study changes quality (stored lossless, previewed, dropped); returns the unsubscribe. */
  onSliceChange(listener: (sopInstanceUID: string, quality: SliceQuality) => void): () => void;
  /** Reads the cached file (hash-checked) and registers it with the loader, once per open. */
  imageIdFor(inst: StackInstance): Promise<string>;
  /** Reads the cached preview and registers it with the preview loader; undefined when there is none (any more). */
  previewImageIdFor(inst: StackInstance): Promise<string | undefined>;
  /** Whether `err` from `imageIdFor` was a hash-check drop (the session already says so). */
  isIntegrityDrop(err: unknown, sopInstanceUID: string): boolean;
  /** The reader is on this slice: its retrieval goes first (then its neighbours). */
  focus(sopInstanceUID: string, direction: 1 | -1 | 0): void;
  refetchDropped(): void;
  /** The study open now (undefined when closed). */
  request(): OpenRequest | undefined;
}

/**
 * Series the stack viewer does not show: structured reports, documents
 * (Encapsulated PDF), key-object selections and presentation states hold no
 * pixels; a referral packet's note and PDF open in the referral panel.
 */
const NON_IMAGE_MODALITIES: ReadonlySet<string> = new Set(['SR', 'DOC', 'KO', 'PR']);
/** Photos (external camera, other) sort after the study's diagnostic series: they open from the referral panel. */
const PHOTO_MODALITIES: ReadonlySet<string> = new Set(['XC', 'OT']);

const INITIAL: SessionState = { phase: 'loading', series: [], reloads: 0, streaming: false, slicesRev: 0 };

const DEFAULT_RESUME_DELAYS_MS = [2000, 4000, 8000, 15000];

/**
 * One open study: retrieval into the cache, its series, and the cached files
 * registered with the image loader. A `session` counter (one per open) makes
 * a retrieval that finishes after the study was closed change nothing.
 * Pixels come only from the cache, each file hash-checked as it is read; a
 * dropped file is fetched again (exactly that one: the retriever skips what
 * is stored) when the network allows. A study not complete in the cache
 * opens on its instance list and every slice is painted the moment its bytes
 * (or first its preview) are stored; a site that fails mid-stream is asked
 * again, with growing pauses, for as long as the study stays open.
 */
export function createStudySession(deps: SessionDeps): StudySession {
  const { cache, retriever, imaging, log } = deps;
  const progressive = deps.progressive ?? true;
  const resumeDelays = deps.resumeDelaysMs ?? DEFAULT_RESUME_DELAYS_MS;
  const setTimer = deps.setTimeout ?? ((fn: () => void, ms: number): unknown => setTimeout(fn, ms));
  const clearTimer = deps.clearTimeout ?? ((h: unknown): void => clearTimeout(h as ReturnType<typeof setTimeout>));
  let state: SessionState = INITIAL;
  const listeners = createListeners();
  const sliceListeners = new Set<(sop: string, q: SliceQuality) => void>();
  let session = 0;
  let allInstances: StackInstance[] = [];
  let bySop = new Map<string, StackInstance>();
  const stacks = new Map<string, StackInstance[]>();
  const imageIds = new Map<string, Promise<string>>();
  const previewIds = new Map<string, Promise<string | undefined>>();
  const quality = new Map<string, 'lossless' | 'preview'>();
  let currentReq: OpenRequest | undefined;
  const dropped = new Set<string>();
  let refetching = false;
  let resumeTimer: unknown;
  let slicesNotify: unknown;

  const set = (patch: Partial<SessionState>): void => {
    state = { ...state, ...patch };
    listeners.notify();
  };

  /** Slice changes come in bursts (a batch of writes): the stack bars redraw at most every 100 ms. */
  const bumpSlices = (): void => {
    if (slicesNotify !== undefined) return;
    slicesNotify = setTimer(() => {
      slicesNotify = undefined;
      set({ slicesRev: state.slicesRev + 1 });
    }, 100);
  };

  const setQuality = (sop: string, q: SliceQuality, mySession: number): void => {
    if (mySession !== session) return;
    const before = quality.get(sop) ?? 'missing';
    // A preview never replaces a lossless file (a late preview answer for a slice stored meanwhile).
    if (before === q || (before === 'lossless' && q === 'preview')) return;
    if (q === 'missing') quality.delete(sop);
    else quality.set(sop, q);
    if (q === 'lossless') {
      // Its preview is of no use any more: free it (the decoded one too).
      const p = previewIds.get(sop);
      previewIds.delete(sop);
      void p?.then((id) => id && imaging.removePreview?.(id)).catch(() => undefined);
    }
    if (q === 'missing') imageIds.delete(sop);
    for (const l of sliceListeners) {
      try {
        l(sop, q);
      } catch (err) {
        log.error('A slice listener failed', err);
      }
    }
    bumpSlices();
  };

  /** Header geometry of a newly stored slice fills what the site's list left out (the order stays: the reader is in it). */
  const completeFromHeader = (sop: string, header: { transferSyntaxUID?: string; imagePositionPatient?: number[]; imageOrientationPatient?: number[] } | undefined): void => {
    const entry = bySop.get(sop);
    if (!entry || !header) return;
    entry.transferSyntaxUID ??= header.transferSyntaxUID;
    if (!entry.imagePositionPatient && header.imagePositionPatient) entry.imagePositionPatient = header.imagePositionPatient;
    if (!entry.imageOrientationPatient && header.imageOrientationPatient) entry.imageOrientationPatient = header.imageOrientationPatient;
  };

  const refetchDropped = (mySession: number): void => {
    const req = currentReq;
    if (refetching || !req?.site || (deps.isOnline && !deps.isOnline())) return;
    refetching = true;
    void retriever
      .ensureStudy({ site: req.site, study: req.study })
      .then((result) => {
        if (mySession !== session) return;
        deps.onCacheChanged?.();
        if (result.complete) {
          dropped.clear();
          set({ message: undefined, reloads: state.reloads + 1 });
        }
      })
      .catch((err: unknown) => log.warn('Re-fetch of instances dropped by the integrity check failed', err))
      .finally(() => {
        refetching = false;
        if (mySession === session && dropped.size > 0) set({ message: integrityNote(dropped.size, false) });
      });
  };

  const onIntegrityDrop = (sopInstanceUID: string, mySession: number): void => {
    dropped.add(sopInstanceUID);
    log.warn(`Instance ${sopInstanceUID} failed its integrity check and was removed from the cache`);
    setQuality(sopInstanceUID, 'missing', mySession);
    deps.onCacheChanged?.();
    refetchDropped(mySession);
    set({ message: integrityNote(dropped.size, refetching) });
  };

  const listSeries = (instances: StackInstance[], series: SeriesRecord[]): SeriesOption[] => {
    const counts = new Map<string, number>();
    for (const i of instances) counts.set(i.seriesInstanceUID, (counts.get(i.seriesInstanceUID) ?? 0) + 1);
    const recOf = (uid: string): SeriesRecord | undefined => series.find((s) => s.seriesInstanceUID === uid);
    const isPhoto = (o: SeriesOption): number => (PHOTO_MODALITIES.has(o.modality) ? 1 : 0);
    return [...counts]
      .filter(([uid]) => !NON_IMAGE_MODALITIES.has(recOf(uid)?.modality ?? ''))
      .map(([uid, count]) => {
        const rec = recOf(uid);
        const modality = rec?.modality ?? '';
        const description = rec?.description ?? '';
        const label = [rec?.seriesNumber !== undefined ? `#${rec.seriesNumber}` : '', modality, description].filter(Boolean).join(' ');
        return {
          seriesInstanceUID: uid,
          label: `${label || uid} (${count})`,
          count,
          modality,
          description,
          ...(rec?.seriesNumber !== undefined ? { seriesNumber: rec.seriesNumber } : {}),
        };
      })
      .sort((a, b) => isPhoto(a) - isPhoto(b) || b.count - a.count);
  };

  /** Shows `instances` (reading order per series when `ordered`); false when none is an image. */
  const showInstances = async (uid: string, instances: StackInstance[], ordered: boolean, mySession: number, notice: string | undefined, onReady: (s: SeriesOption[]) => void): Promise<boolean> => {
    const series = await cache.getStudySeries(uid);
    if (mySession !== session) return true;
    allInstances = instances;
    bySop = new Map(instances.map((i) => [i.sopInstanceUID, i]));
    stacks.clear();
    if (ordered) {
      for (const i of instances) {
        const s = stacks.get(i.seriesInstanceUID) ?? [];
        s.push(i);
        stacks.set(i.seriesInstanceUID, s);
      }
    }
    const options = listSeries(instances, series);
    if (options.length === 0) return false;
    set({ phase: 'ready', series: options, message: notice });
    onReady(options);
    return true;
  };

  const fromRecords = (records: readonly InstanceRecord[]): StackInstance[] =>
    records.map((r) => ({
      sopInstanceUID: r.sopInstanceUID,
      studyInstanceUID: r.studyInstanceUID,
      seriesInstanceUID: r.seriesInstanceUID,
      transferSyntaxUID: r.transferSyntaxUID,
      ...(r.instanceNumber !== undefined ? { instanceNumber: r.instanceNumber } : {}),
      ...(r.imagePositionPatient ? { imagePositionPatient: r.imagePositionPatient } : {}),
      ...(r.imageOrientationPatient ? { imageOrientationPatient: r.imageOrientationPatient } : {}),
    }));

  const openStudy = async (req: OpenRequest, mySession: number, signal: AbortSignal, onReady: (s: SeriesOption[]) => void): Promise<void> => {
    const uid = req.study.studyInstanceUID;
    // Other instance queries of this study (the side panels') wait for the viewer's own list: it comes first.
    const firstSliceExpected = retriever.expectFirstSlice(uid);
    const [cachedStudy, records, previews] = await Promise.all([cache.getStudy(uid), cache.getStudyInstances(uid), cache.previewSops(uid)]);
    if (mySession !== session) return;
    for (const r of records) quality.set(r.sopInstanceUID, 'lossless');
    for (const sop of previews) if (!quality.has(sop)) quality.set(sop, 'preview');

    // Complete in the cache: opens at once, no network (the retrieval below answers from the cache).
    const openedFromCache = progressive && cachedStudy?.complete === true;
    if (openedFromCache) {
      firstSliceExpected();
      await cache.touchStudy(uid).catch(() => undefined);
      if (!(await showInstances(uid, sortStack(fromRecords(records)), false, mySession, undefined, onReady))) {
        set({ phase: 'error', message: 'The study has no images in the local cache', progress: undefined });
      }
      return;
    }

    let opened = false;
    const headers = new Map(fromRecords(records).map((r) => [r.sopInstanceUID, r]));
    const onListed = (instances: readonly ListedInstance[]): void => {
      if (!progressive || opened || mySession !== session) return;
      opened = true;
      // The site's list orders the stack; what the stored files' headers say fills in what it left out.
      const merged = instances.map((i): StackInstance => {
        const h = headers.get(i.sopInstanceUID);
        return {
          ...i,
          ...(h?.transferSyntaxUID ? { transferSyntaxUID: h.transferSyntaxUID } : {}),
          ...(!i.imagePositionPatient && h?.imagePositionPatient ? { imagePositionPatient: h.imagePositionPatient } : {}),
          ...(!i.imageOrientationPatient && h?.imageOrientationPatient ? { imageOrientationPatient: h.imageOrientationPatient } : {}),
        };
      });
      // Known at once, so a slice stored before the series list is read still gets its header geometry.
      bySop = new Map(merged.map((i) => [i.sopInstanceUID, i]));
      set({ streaming: true });
      void cache.touchStudy(uid).catch(() => undefined);
      void showInstances(uid, merged, true, mySession, undefined, onReady).then((ok) => {
        if (!ok && mySession === session) set({ phase: 'error', message: 'The study has no images', progress: undefined, streaming: false });
      });
    };

    const retrieve = async (attempt: number): Promise<void> => {
      let notice: string | undefined;
      let retryable = false;
      try {
        const result = await retriever.ensureStudy({
          site: req.site,
          study: req.study,
          signal,
          previews: progressive,
          onProgress: (progress) => {
            if (mySession === session) set({ progress });
          },
          onListed: (listing) => onListed(listing.instances),
          onInstanceStored: (e) => {
            if (mySession === session) completeFromHeader(e.sopInstanceUID, e);
            setQuality(e.sopInstanceUID, 'lossless', mySession);
          },
          onPreviewStored: (e) => setQuality(e.sopInstanceUID, 'preview', mySession),
        });
        if (result.failure && !result.complete) {
          notice = `Showing only the images in the local cache: ${req.site?.name ?? 'the site'} ${result.failure.message}`;
          retryable = isOfflineFailure(result.failure) || (result.failure.status ?? 0) >= 500;
        }
      } catch (err) {
        if (mySession !== session) return void deps.onCacheChanged?.();
        const message = err instanceof StudyUnavailableError ? err.message : `Could not open the study: ${describeError(err)}`;
        if (err instanceof StudyUnavailableError && err.failure) retryable = isOfflineFailure(err.failure) || (err.failure.status ?? 0) >= 500;
        log.warn(`Open ${uid}: ${message}`);
        if (!opened) {
          set({ phase: 'error', message, streaming: false });
          return;
        }
        notice = message;
      }
      // Also when the study was left meanwhile: it went on streaming, and the worklist shows what landed.
      deps.onCacheChanged?.();
      if (mySession !== session) return;
      if (!opened) {
        // Nothing listed (the old path, or the site could not list and no list was kept): what the cache has.
        opened = true;
        await cache.touchStudy(uid).catch(() => undefined);
        const [instances, previewed] = await Promise.all([cache.getStudyInstances(uid), cache.previewSops(uid)]);
        if (mySession !== session) return;
        for (const r of instances) quality.set(r.sopInstanceUID, 'lossless');
        for (const sop of previewed) if (!quality.has(sop)) quality.set(sop, 'preview');
        if (!(await showInstances(uid, sortStack(fromRecords(instances)), false, mySession, notice, onReady))) {
          set({ phase: 'error', message: 'The study has no images in the local cache', progress: undefined, streaming: false });
          return;
        }
        set({ progress: undefined, streaming: false });
      } else {
        set({ message: notice, progress: undefined, streaming: false });
      }
      // The site failed part way: ask again while the study stays open (what landed stays viewable meanwhile).
      if (retryable && progressive && req.site) {
        const delay = resumeDelays[Math.min(attempt, resumeDelays.length - 1)] ?? 15_000;
        log.info(`Open ${uid}: asking ${req.site.id} again in ${delay} ms`);
        const tick = (): void => {
          resumeTimer = undefined;
          if (mySession !== session || signal.aborted) return;
          if (deps.isOnline && !deps.isOnline()) {
            resumeTimer = setTimer(tick, delay);
            return;
          }
          set({ streaming: true });
          void retrieve(attempt + 1);
        };
        resumeTimer = setTimer(tick, delay);
      }
    };
    await retrieve(0);
  };

  // Instances stored by any retrieval of the open study (a resume from the transfers panel, prefetch).
  retriever.onStored((e: StoredAnyEvent) => {
    if (!currentReq || e.studyInstanceUID !== currentReq.study.studyInstanceUID) return;
    if (e.kind === 'lossless') completeFromHeader(e.sopInstanceUID, e.header);
    setQuality(e.sopInstanceUID, e.kind, session);
  });

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    open(req, onReady) {
      const mySession = ++session;
      const abort = new AbortController();
      allInstances = [];
      bySop = new Map();
      stacks.clear();
      imageIds.clear();
      previewIds.clear();
      quality.clear();
      currentReq = req;
      dropped.clear();
      refetching = false;
      state = INITIAL;
      set({});
      void openStudy(req, mySession, abort.signal, onReady).catch((err: unknown) => {
        if (mySession !== session) return;
        log.error('Opening the study failed', err);
        set({ phase: 'error', message: `Could not open the study: ${describeError(err)}` });
      });
      return () => {
        if (mySession !== session) return;
        session++;
        if (resumeTimer !== undefined) clearTimer(resumeTimer);
        resumeTimer = undefined;
        // Leaving a study does not throw its transfer away: it goes on behind the next one opened.
        retriever.setForegroundStudy(req.study.studyInstanceUID, false);
        if (!progressive) abort.abort();
        currentReq = undefined;
        allInstances = [];
        bySop = new Map();
        stacks.clear();
        imageIds.clear();
        previewIds.clear();
        quality.clear();
        imaging.releaseAll();
      };
    },
    stackOf(seriesUid) {
      let s = stacks.get(seriesUid);
      if (!s) {
        s = sortStack(allInstances.filter((i) => i.seriesInstanceUID === seriesUid));
        if (s.length > 0) stacks.set(seriesUid, s);
      }
      return s;
    },
    quality: (sop) => quality.get(sop) ?? 'missing',
    onSliceChange(listener) {
      sliceListeners.add(listener);
      return () => sliceListeners.delete(listener);
    },
    imageIdFor(inst) {
      let p = imageIds.get(inst.sopInstanceUID);
      if (!p) {
        p = cache.readInstanceBytes(inst.sopInstanceUID).then((bytes) => {
          if (!bytes) throw new Error(`Instance ${inst.sopInstanceUID} is no longer in the cache`);
          return imaging.addFile(new Blob([bytes], { type: 'application/dicom' }));
        });
        const mySession = session;
        // A failed read is not remembered: the next attempt reads again.
        p.catch((err: unknown) => {
          imageIds.delete(inst.sopInstanceUID);
          // Also when a neighbour read ahead of time is the corrupt one.
          if (err instanceof CacheIntegrityError && mySession === session) onIntegrityDrop(inst.sopInstanceUID, mySession);
        });
        imageIds.set(inst.sopInstanceUID, p);
      }
      return p;
    },
    previewImageIdFor(inst) {
      let p = previewIds.get(inst.sopInstanceUID);
      if (!p) {
        const mySession = session;
        p = cache.readPreview(inst.sopInstanceUID).then((preview) => {
          if (!preview) {
            // Gone (its lossless file arrived, or it failed its check and was deleted).
            if (quality.get(inst.sopInstanceUID) === 'preview') setQuality(inst.sopInstanceUID, 'missing', mySession);
            return undefined;
          }
          if (!imaging.addPreview) return undefined;
          return imaging.addPreview(preview.bytes, { ...(inst.columns ? { columns: inst.columns } : {}), ...(inst.rows ? { rows: inst.rows } : {}) });
        });
        p.then(
          (id) => id === undefined && previewIds.delete(inst.sopInstanceUID),
          () => previewIds.delete(inst.sopInstanceUID),
        );
        previewIds.set(inst.sopInstanceUID, p);
      }
      return p;
    },
    isIntegrityDrop: (err, sop) => err instanceof CacheIntegrityError || dropped.has(sop),
    focus(sop, direction) {
      const req = currentReq;
      if (req) retriever.focus(req.study.studyInstanceUID, sop, direction);
    },
    refetchDropped() {
      if (currentReq && dropped.size > 0) refetchDropped(session);
    },
    request: () => currentReq,
  };
}
