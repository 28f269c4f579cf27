import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { StudyCache, StudyUpsert } from '../cache/study-cache';
import { CacheIntegrityError } from '../cache/study-cache';
import type { StudyRetriever, RetrieveProgress } from '../cache/study-retriever';
import { StudyUnavailableError } from '../cache/study-retriever';
import type { InstanceRecord, SeriesRecord } from '../cache/telerad-db';
import type { ImagingRuntime } from './cornerstone-setup';
import { sortStack } from './stack-order';
import { createListeners } from '../../shared/store/listeners';

export type SessionPhase = 'loading' | 'ready' | 'error';

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
}

export interface SessionDeps {
  cache: StudyCache;
  retriever: StudyRetriever;
  imaging: ImagingRuntime;
  log: Logger;
  onCacheChanged?: () => void;
  isOnline?: () => boolean;
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
  /** Brings the study into the cache and lists its series; `onReady` gets the series to show first. The returned function closes it. */
  open(req: OpenRequest, onReady: (series: SeriesOption[]) => void): () => void;
  /** The series' instances in reading order; empty when unknown. */
  stackOf(seriesInstanceUID: string): InstanceRecord[];
  /** Reads the cached file (hash-checked) and registers it with the loader, once per open. */
  imageIdFor(inst: InstanceRecord): Promise<string>;
  /** Whether `err` from `imageIdFor` was a hash-check drop (the session already says so). */
  isIntegrityDrop(err: unknown, sopInstanceUID: string): boolean;
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

const INITIAL: SessionState = { phase: 'loading', series: [], reloads: 0 };

/**
 * One open study: retrieval into the cache, its series, and the cached files
 * registered with the image loader. A `session` counter (one per open) makes
 * a retrieval that finishes after the study was closed change nothing.
 * Pixels come only from the cache, each file hash-checked as it is read; a
 * dropped file is fetched again (exactly that one: the retriever skips what
 * is stored) when the network allows.
 */
export function createStudySession(deps: SessionDeps): StudySession {
  const { cache, retriever, imaging, log } = deps;
  let state: SessionState = INITIAL;
  const listeners = createListeners();
  let session = 0;
  let allInstances: InstanceRecord[] = [];
  const stacks = new Map<string, InstanceRecord[]>();
  const imageIds = new Map<string, Promise<string>>();
  let currentReq: OpenRequest | undefined;
  let currentSignal: AbortSignal | undefined;
  const dropped = new Set<string>();
  let refetching = false;

  const set = (patch: Partial<SessionState>): void => {
    state = { ...state, ...patch };
    listeners.notify();
  };

  const refetchDropped = (mySession: number): void => {
    const req = currentReq;
    if (refetching || !req?.site || (deps.isOnline && !deps.isOnline())) return;
    refetching = true;
    void retriever
      .ensureStudy({ site: req.site, study: req.study, ...(currentSignal ? { signal: currentSignal } : {}) })
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
    deps.onCacheChanged?.();
    refetchDropped(mySession);
    set({ message: integrityNote(dropped.size, refetching) });
  };

  const listSeries = (instances: InstanceRecord[], series: SeriesRecord[]): SeriesOption[] => {
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

  const openStudy = async (req: OpenRequest, mySession: number, signal: AbortSignal, onReady: (s: SeriesOption[]) => void): Promise<void> => {
    const uid = req.study.studyInstanceUID;
    let notice: string | undefined;
    try {
      const result = await retriever.ensureStudy({
        site: req.site,
        study: req.study,
        signal,
        onProgress: (progress) => {
          if (mySession === session) set({ progress });
        },
      });
      if (result.failure && !result.complete) {
        notice = `Showing only the images in the local cache: ${req.site?.name ?? 'the site'} ${result.failure.message}`;
      }
    } catch (err) {
      if (mySession !== session) return;
      const message = err instanceof StudyUnavailableError ? err.message : `Could not open the study: ${describeError(err)}`;
      log.warn(`Open ${uid}: ${message}`);
      set({ phase: 'error', message });
      return;
    }
    if (mySession !== session) return;
    deps.onCacheChanged?.();
    await cache.touchStudy(uid).catch(() => undefined);
    const [instances, series] = await Promise.all([cache.getStudyInstances(uid), cache.getStudySeries(uid)]);
    if (mySession !== session) return;
    allInstances = instances;
    stacks.clear();
    const options = listSeries(instances, series);
    if (options.length === 0) {
      set({ phase: 'error', message: 'The study has no images in the local cache', progress: undefined });
      return;
    }
    set({ phase: 'ready', series: options, message: notice, progress: undefined });
    onReady(options);
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    open(req, onReady) {
      const mySession = ++session;
      const abort = new AbortController();
      allInstances = [];
      stacks.clear();
      imageIds.clear();
      currentReq = req;
      currentSignal = abort.signal;
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
        abort.abort();
        currentReq = undefined;
        allInstances = [];
        stacks.clear();
        imageIds.clear();
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
    isIntegrityDrop: (err, sop) => err instanceof CacheIntegrityError || dropped.has(sop),
    refetchDropped() {
      if (currentReq && dropped.size > 0) refetchDropped(session);
    },
    request: () => currentReq,
  };
}
