import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { StudyCache, StudyUpsert } from '../cache/study-cache';
import { CacheIntegrityError } from '../cache/study-cache';
import type { StudyRetriever, RetrieveProgress } from '../cache/study-retriever';
import { StudyUnavailableError } from '../cache/study-retriever';
import type { InstanceRecord, SeriesRecord } from '../cache/telerad-db';
import type { ImagingRuntime } from './cornerstone-setup';
import type { MeasurementStore } from '../annotations/measurement-store';
import { sortStack } from './stack-order';
import { createListeners } from '../../shared/store/listeners';
import { presetsFor } from './wl-presets';
import type { WlPreset } from './wl-presets';

export type ViewerPhase = 'loading' | 'ready' | 'error';

export interface SeriesOption {
  seriesInstanceUID: string;
  label: string;
  count: number;
}

export interface ViewerState {
  phase: ViewerPhase;
  /** While the study is being brought into the cache. */
  progress?: RetrieveProgress;
  /** Shown in the viewer: why it failed, or why it shows only part of the study. */
  message?: string;
  series: SeriesOption[];
  seriesInstanceUID?: string;
  seriesDescription: string;
  count: number;
  /** The slice asked for last. */
  index: number;
  /** The slice on the canvas now; -1 before the first one is painted. */
  displayedIndex: number;
  voi?: { windowWidth: number; windowCenter: number };
  /** Modality of the shown series (chooses the W/L presets). */
  modality: string;
  /** Window/level presets for the shown series (CT windows and the image's own VOI). */
  presets: WlPreset[];
  /** Image coordinates → DICOM identity of the slice on the canvas, for measurements. */
  displayed?: DisplayedInstance;
}

export interface DisplayedInstance {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  imageId: string;
}

export interface OpenRequest {
  study: StudyUpsert;
  site: SiteSummary | undefined;
}

export interface ViewerDeps {
  cache: StudyCache;
  retriever: StudyRetriever;
  imaging: ImagingRuntime;
  log: Logger;
  /** Told when the cache gained or changed a study, so the worklist can update its offline badges. */
  onCacheChanged?: () => void;
  /** Whether the network is up (connectivity store); without it the viewer assumes it is. */
  isOnline?: () => boolean;
}

/** What the viewer says when cached images failed their hash check and were dropped. */
export function integrityNote(dropped: number, refetching: boolean): string {
  const what = dropped === 1 ? '1 image failed its integrity check and was removed' : `${dropped} images failed their integrity check and were removed`;
  const it = dropped === 1 ? 'it is' : 'they are';
  const will = dropped === 1 ? 'it will' : 'they will';
  return refetching ? `${what}; ${it} being fetched again from the site` : `${what}; ${will} be fetched again when the site is reachable`;
}

export interface ViewerStore {
  getState(): ViewerState;
  subscribe(listener: () => void): () => void;
  /** Enables Cornerstone on the element and opens the study; the returned function closes it. */
  open(element: HTMLElement, req: OpenRequest): () => void;
  show(index: number): void;
  scroll(delta: number): void;
  selectSeries(seriesInstanceUID: string): void;
  /** Window/level drag: pixels moved since the last call. */
  adjustVoi(dx: number, dy: number): void;
  /** Applies a window/level preset by name (one of `getState().presets`). */
  applyPreset(name: string): void;
  resize(): void;
  /** Fetches again the images the hash check dropped, if any (called when the network comes back). */
  refetchDropped(): void;
  /** Measurements on the shown instance; absent where the app wires no measurement tools. */
  measurements?: MeasurementStore;
}

/**
 * Series the stack viewer does not show: structured reports, documents
 * (Encapsulated PDF), key-object selections and presentation states hold no
 * pixels; a referral packet's note and PDF open in the referral panel.
 */
const NON_IMAGE_MODALITIES: ReadonlySet<string> = new Set(['SR', 'DOC', 'KO', 'PR']);
/** Photos (external camera, other) sort after the study's diagnostic series: they open from the referral panel. */
const PHOTO_MODALITIES: ReadonlySet<string> = new Set(['XC', 'OT']);

const INITIAL: ViewerState = { phase: 'loading', series: [], seriesDescription: '', count: 0, index: 0, displayedIndex: -1, modality: '', presets: [] };

function firstNumber(v: number | number[] | undefined): number | undefined {
  const n = Array.isArray(v) ? v[0] : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function describeError(err: unknown): string {
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

/**
 * The stack viewer's state and its work, outside React. Two revision
 * counters guard it: `session` (one per open) so a retrieval that finishes
 * after the viewer was closed or another study opened changes nothing, and
 * `display` (one per requested slice) so a slow decode of slice 3 cannot
 * paint over slice 9 the reader has scrolled to since. Pixels come only from
 * the cache, each file hash-checked as it is read.
 */
export function createViewerStore(deps: ViewerDeps): ViewerStore {
  const { cache, retriever, imaging, log } = deps;
  const cs = imaging.cornerstone;
  let state: ViewerState = INITIAL;
  const listeners = createListeners();
  let session = 0;
  let display = 0;
  let element: HTMLElement | undefined;
  let stack: InstanceRecord[] = [];
  let allInstances: InstanceRecord[] = [];
  let seriesRecords: SeriesRecord[] = [];
  const imageIds = new Map<string, Promise<string>>();
  let pendingSeries: string | undefined;
  /** Set when another series is selected: its first image gets its own default window and zoom. */
  let newStack = false;
  let currentReq: OpenRequest | undefined;
  let currentSignal: AbortSignal | undefined;
  /** SOP instances dropped by the hash check in this session. */
  const dropped = new Set<string>();
  let refetching = false;

  const set = (patch: Partial<ViewerState>): void => {
    state = { ...state, ...patch };
    listeners.notify();
  };

  const imageIdFor = (inst: InstanceRecord): Promise<string> => {
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
  };

  const prefetch = (around: number, mySession: number): void => {
    for (const d of [1, -1, 2, -2]) {
      const inst = stack[around + d];
      if (!inst) continue;
      imageIdFor(inst)
        .then((id) => (mySession === session ? cs.loadAndCacheImage(id) : undefined))
        .catch(() => undefined); // the slice reports its own error if it is ever shown
    }
  };

  const show = (requested: number): void => {
    if (!element || stack.length === 0) return;
    const index = Math.max(0, Math.min(stack.length - 1, Math.round(requested)));
    const rev = ++display;
    const mySession = session;
    const el = element;
    const inst = stack[index]!;
    set({ index });
    void (async () => {
      try {
        const imageId = await imageIdFor(inst);
        const image = await cs.loadAndCacheImage(imageId);
        if (rev !== display || mySession !== session) return; // overtaken by a newer slice or study
        cs.displayImage(el, image);
        // Cornerstone keeps the element's viewport across images; a DX window (3000/1700) on a
        // colour photo paints it black, so a new series starts from its own image's defaults.
        if (newStack) {
          newStack = false;
          cs.reset(el);
        }
        const vp = cs.getViewport(el);
        const wc = firstNumber(image.windowCenter);
        const ww = firstNumber(image.windowWidth);
        const imageVoi = wc !== undefined && ww !== undefined ? { windowWidth: ww, windowCenter: wc } : undefined;
        set({
          phase: 'ready',
          displayedIndex: index,
          presets: presetsFor(state.modality, imageVoi),
          displayed: {
            studyInstanceUID: inst.studyInstanceUID,
            seriesInstanceUID: inst.seriesInstanceUID,
            sopInstanceUID: inst.sopInstanceUID,
            imageId,
          },
          message: state.phase === 'error' ? undefined : state.message,
          ...(vp ? { voi: { windowWidth: vp.voi.windowWidth, windowCenter: vp.voi.windowCenter } } : {}),
        });
        prefetch(index, mySession);
      } catch (err) {
        if (mySession !== session) return;
        if (err instanceof CacheIntegrityError || dropped.has(inst.sopInstanceUID)) {
          // Corrupt bytes are never shown; the rest of the study still is, and the site is asked again.
          if (rev === display) set({ message: integrityNote(Math.max(1, dropped.size), refetching) });
          return;
        }
        if (rev !== display) return;
        const what = `Image ${index + 1}/${stack.length}`;
        const message = `${what} could not be decoded: ${describeError(err)}`;
        log.error(`${message} (SOP ${inst.sopInstanceUID}, transfer syntax ${inst.transferSyntaxUID})`);
        set({ phase: 'error', message });
      }
    })();
  };

  /**
   * Retrieves the study again after a hash-check drop: the retriever skips
   * what is stored, so this fetches exactly the dropped instances. Offline it
   * waits: the study is no longer complete, so the next open retrieves them.
   */
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
          set({ message: undefined });
          show(state.index);
        }
      })
      .catch((err: unknown) => log.warn('Re-fetch of instances dropped by the integrity check failed', err))
      .finally(() => {
        refetching = false;
        if (mySession === session && dropped.size > 0) set({ message: integrityNote(dropped.size, false) });
      });
  };

  function onIntegrityDrop(sopInstanceUID: string, mySession: number): void {
    dropped.add(sopInstanceUID);
    log.warn(`Instance ${sopInstanceUID} failed its integrity check and was removed from the cache`);
    deps.onCacheChanged?.();
    refetchDropped(mySession);
    set({ message: integrityNote(dropped.size, refetching) });
  }

  const selectStack = (seriesUid: string): void => {
    stack = sortStack(allInstances.filter((i) => i.seriesInstanceUID === seriesUid));
    newStack = true;
    const rec = seriesRecords.find((s) => s.seriesInstanceUID === seriesUid);
    set({
      seriesInstanceUID: seriesUid,
      seriesDescription: rec?.description ?? '',
      modality: rec?.modality ?? '',
      count: stack.length,
      displayedIndex: -1,
    });
    // The middle slice first: in a CT or MR stack it is the likeliest to show the anatomy of interest.
    show(Math.floor(stack.length / 2));
  };

  const openStudy = async (req: OpenRequest, mySession: number, signal: AbortSignal): Promise<void> => {
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
    seriesRecords = series;
    const counts = new Map<string, number>();
    for (const i of instances) counts.set(i.seriesInstanceUID, (counts.get(i.seriesInstanceUID) ?? 0) + 1);
    const modalityOf = (uid: string): string => series.find((s) => s.seriesInstanceUID === uid)?.modality ?? '';
    const isPhoto = (o: SeriesOption): number => (PHOTO_MODALITIES.has(modalityOf(o.seriesInstanceUID)) ? 1 : 0);
    const options: SeriesOption[] = [...counts]
      .filter(([seriesUid]) => !NON_IMAGE_MODALITIES.has(modalityOf(seriesUid)))
      .map(([seriesUid, count]) => {
        const rec = series.find((s) => s.seriesInstanceUID === seriesUid);
        const label = [rec?.seriesNumber !== undefined ? `#${rec.seriesNumber}` : '', rec?.modality ?? '', rec?.description ?? '']
          .filter(Boolean)
          .join(' ');
        return { seriesInstanceUID: seriesUid, label: `${label || seriesUid} (${count})`, count };
      })
      .sort((a, b) => isPhoto(a) - isPhoto(b) || b.count - a.count);
    if (options.length === 0) {
      set({ phase: 'error', message: 'The study has no images in the local cache' });
      return;
    }
    set({ series: options, message: notice, progress: undefined });
    // A series asked for while the study was loading (a photo clicked in the referral panel) wins;
    // otherwise the largest series first: in a first cut without hanging protocols it is usually the diagnostic one.
    const asked = pendingSeries && options.some((o) => o.seriesInstanceUID === pendingSeries) ? pendingSeries : undefined;
    pendingSeries = undefined;
    selectStack(asked ?? options[0]!.seriesInstanceUID);
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    open(el, req) {
      const mySession = ++session;
      const abort = new AbortController();
      element = el;
      stack = [];
      allInstances = [];
      imageIds.clear();
      pendingSeries = undefined;
      currentReq = req;
      currentSignal = abort.signal;
      dropped.clear();
      refetching = false;
      state = INITIAL;
      set({});
      cs.enable(el);
      void openStudy(req, mySession, abort.signal).catch((err: unknown) => {
        if (mySession !== session) return;
        log.error('Opening the study failed', err);
        set({ phase: 'error', message: `Could not open the study: ${describeError(err)}` });
      });
      return () => {
        if (mySession !== session) return;
        session++;
        display++;
        abort.abort();
        cs.disable(el);
        element = undefined;
        stack = [];
        imageIds.clear();
        imaging.releaseAll();
      };
    },
    show,
    scroll(delta) {
      show(state.index + delta);
    },
    selectSeries(seriesUid) {
      if (element && allInstances.length === 0) pendingSeries = seriesUid; // still loading: shown once it is in
      else if (seriesUid !== state.seriesInstanceUID && allInstances.some((i) => i.seriesInstanceUID === seriesUid)) selectStack(seriesUid);
    },
    adjustVoi(dx, dy) {
      if (!element || state.displayedIndex < 0) return;
      const vp = cs.getViewport(element);
      if (!vp) return;
      vp.voi.windowWidth = Math.max(1, vp.voi.windowWidth + dx * 2);
      vp.voi.windowCenter = vp.voi.windowCenter + dy * 2;
      cs.setViewport(element, vp);
      set({ voi: { windowWidth: vp.voi.windowWidth, windowCenter: vp.voi.windowCenter } });
    },
    applyPreset(name) {
      const preset = state.presets.find((p) => p.name === name);
      if (!element || state.displayedIndex < 0 || !preset) return;
      const vp = cs.getViewport(element);
      if (!vp) return;
      vp.voi.windowWidth = preset.windowWidth;
      vp.voi.windowCenter = preset.windowCenter;
      cs.setViewport(element, vp);
      set({ voi: { windowWidth: preset.windowWidth, windowCenter: preset.windowCenter } });
    },
    resize() {
      // Also before the first image: the referral panel can narrow the viewport while the study
      // loads, and a canvas left at its first size would spill over the panel. With no image
      // yet, Cornerstone only resizes the canvas.
      if (element) cs.resize(element, true);
    },
    refetchDropped() {
      if (element && dropped.size > 0) refetchDropped(session);
    },
  };
}
