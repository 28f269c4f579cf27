import type { MeasurementData } from 'cornerstone-tools';
import type { Image } from 'cornerstone-core';
import type { Logger } from '../../shared/log';
import { createListeners } from '../../shared/store/listeners';
import type { AnnotationRecord } from '../cache/telerad-db';
import type { DisplayedInstance } from '../viewer/viewer-store';
import type { MeasureToolName, ToolEventDetail, ToolsRuntime } from '../viewer/tools-setup';
import type { AnnotationRepo } from './annotation-repo';
import { calibrationFrom, ellipseStats, formatEllipse, formatLength, measureAngle, measureLength, probeValue, rectangleStats } from './measure';
import type { Point } from './measure';

/** The author of every annotation until there is a user profile: a fixed local seam. */
export const LOCAL_AUTHOR = 'me';

export interface MeasurementItem {
  id: string;
  tool: string;
  kind: 'length' | 'ellipse' | 'rectangle' | 'angle' | 'probe';
  text: string;
  /** Length in mm (undefined when uncalibrated). */
  lengthMm?: number;
  /** Ellipse or rectangle mean in modality units. */
  mean?: number;
  /** Angle in degrees. */
  angleDeg?: number;
  /** Probe: the pixel's value in modality units. */
  value?: number;
  uncalibrated: boolean;
  start: Point;
  end: Point;
}

export interface MeasurementState {
  activeTool: MeasureToolName | undefined;
  /** The measurements on the instance shown now. */
  items: MeasurementItem[];
  /** Database writes not yet committed: a reload before they land would lose them. */
  pendingWrites: number;
  revision: number;
}

export interface MeasurementStore {
  getState(): MeasurementState;
  subscribe(listener: () => void): () => void;
  setActiveTool(tool: MeasureToolName | undefined): void;
  /** Starts following `element` for one open study; returns the function that stops. */
  attach(element: HTMLElement, studyInstanceUID: string, images: DisplayedImages): () => void;
  remove(id: string): void;
}

/** Which instance is on the canvas now, and when that changes (the viewer store). */
export interface DisplayedImages {
  displayed(): DisplayedInstance | undefined;
  subscribe(listener: () => void): () => void;
}

export interface MeasurementDeps {
  tools: ToolsRuntime;
  repo: AnnotationRepo;
  getImage(element: HTMLElement): Image | undefined;
  now: () => number;
  log: Logger;
}

const KIND: Record<string, MeasurementItem['kind'] | undefined> = {
  Length: 'length',
  EllipticalRoi: 'ellipse',
  RectangleRoi: 'rectangle',
  Angle: 'angle',
  Probe: 'probe',
};

function handlePoint(data: MeasurementData, key: string): Point | undefined {
  const h = data.handles[key] as { x?: unknown; y?: unknown } | undefined;
  return h && typeof h.x === 'number' && typeof h.y === 'number' ? { x: h.x, y: h.y } : undefined;
}

/** Tool data without the transient UI flags, safe to store (structured-cloneable). */
function storable(data: MeasurementData): Record<string, unknown> {
  return JSON.parse(JSON.stringify({ ...data, active: false })) as Record<string, unknown>;
}

/**
 * Measurements of the study in the viewer: drawn with cornerstone-tools,
 * kept per instance in IndexedDB (written on complete, modify and remove),
 * restored into the tool state whenever an instance is displayed. The
 * figures shown are computed here from the handles (see measure.ts).
 */
export function createMeasurementStore(deps: MeasurementDeps): MeasurementStore {
  const { tools, repo, log } = deps;
  const listeners = createListeners();
  let state: MeasurementState = { activeTool: undefined, items: [], pendingWrites: 0, revision: 0 };
  /** The open study's annotations by id; the database is written behind it. */
  let records = new Map<string, AnnotationRecord>();
  let element: HTMLElement | undefined;
  let images: DisplayedImages | undefined;
  let session = 0;

  const set = (patch: Partial<MeasurementState>): void => {
    state = { ...state, ...patch, revision: state.revision + 1 };
    listeners.notify();
  };

  const describe = (rec: AnnotationRecord, image: Image | undefined): MeasurementItem | undefined => {
    const kind = KIND[rec.tool];
    const data = rec.data as MeasurementData;
    const end = handlePoint(data, 'end');
    // A probe has one handle (end); every other tool starts somewhere.
    const start = handlePoint(data, 'start') ?? (kind === 'probe' ? end : undefined);
    if (!kind || !start || !end) return undefined;
    const cal = calibrationFrom({
      pixelSpacing: image?.data?.string('x00280030'),
      imagerPixelSpacing: image?.data?.string('x00181164'),
    });
    const base = { id: rec.id, tool: rec.tool, kind, uncalibrated: !cal, start, end };
    if (kind === 'angle') {
      const middle = handlePoint(data, 'middle');
      if (!middle) return { ...base, text: '…' };
      const deg = measureAngle(start, middle, end, cal);
      return { ...base, text: `${deg.toFixed(1)}°`, angleDeg: deg };
    }
    if (kind === 'length') {
      const r = measureLength(start, end, cal);
      return { id: rec.id, tool: rec.tool, kind, text: formatLength(r), ...(cal ? { lengthMm: r.value } : {}), uncalibrated: !cal, start, end };
    }
    if (!image) return { ...base, text: '…' };
    const src = { columns: image.columns, rows: image.rows, pixels: image.getPixelData(), slope: image.slope, intercept: image.intercept };
    const unit = image.data?.string('x00080060') === 'CT' ? 'HU' : '';
    if (kind === 'probe') {
      const v = probeValue(end, src);
      if (v === undefined) return { ...base, text: 'outside the image' };
      return { ...base, text: `${Math.round(v)}${unit ? ` ${unit}` : ''} at (${Math.floor(end.x)}, ${Math.floor(end.y)})`, value: v };
    }
    const stats = kind === 'rectangle' ? rectangleStats(start, end, src, cal) : ellipseStats(start, end, src, cal);
    if (!stats) return { ...base, text: 'empty region' };
    return { ...base, text: formatEllipse(stats, unit), mean: stats.mean };
  };

  const refreshItems = (): void => {
    const shown = images?.displayed();
    const image = element ? deps.getImage(element) : undefined;
    const items = shown
      ? [...records.values()]
          .filter((r) => r.sopInstanceUID === shown.sopInstanceUID)
          .sort((a, b) => a.createdAt - b.createdAt)
          .map((r) => describe(r, image && image.imageId === shown.imageId ? image : undefined))
          .filter((i): i is MeasurementItem => i !== undefined)
      : [];
    set({ items });
  };

  let restoredImageId: string | undefined;
  const restore = (): void => {
    const shown = images?.displayed();
    if (!element || !shown) return;
    restoredImageId = shown.imageId;
    const mine = [...records.values()].filter((r) => r.sopInstanceUID === shown.sopInstanceUID);
    // Copies: the tool mutates its state as handles move; the record changes only through events.
    tools.replaceImageState(
      element,
      shown.imageId,
      mine.map((r) => ({ tool: r.tool, data: JSON.parse(JSON.stringify(r.data)) as MeasurementData })),
    );
    refreshItems();
  };

  const track = (write: Promise<unknown>, what: string): void => {
    set({ pendingWrites: state.pendingWrites + 1 });
    void write
      .catch((err: unknown) => log.error(`${what} failed`, err))
      .finally(() => set({ pendingWrites: state.pendingWrites - 1 }));
  };
  const persist = (rec: AnnotationRecord): void => track(repo.put(rec), `Saving measurement ${rec.id}`);

  const onEvent = (kind: 'completed' | 'modified' | 'removed') => (e: Event): void => {
    const detail = (e as CustomEvent<ToolEventDetail>).detail;
    const data = detail?.measurementData;
    const tool = detail?.toolName ?? detail?.toolType;
    const shown = images?.displayed();
    if (!data?.uuid || !tool || !KIND[tool] || !shown) return;
    const existing = records.get(data.uuid);
    if (kind === 'removed') {
      if (!existing) return;
      records.delete(data.uuid);
      track(repo.remove(data.uuid), `Deleting measurement ${data.uuid}`);
      refreshItems();
      return;
    }
    // While a new one is being drawn it is "modified" on every mouse move: it is stored once complete.
    if (kind === 'modified' && !existing) return;
    const t = deps.now();
    const rec: AnnotationRecord = {
      id: data.uuid,
      studyInstanceUID: shown.studyInstanceUID,
      seriesInstanceUID: shown.seriesInstanceUID,
      sopInstanceUID: shown.sopInstanceUID,
      tool,
      data: storable(data),
      author: existing?.author ?? LOCAL_AUTHOR,
      createdAt: existing?.createdAt ?? t,
      updatedAt: t,
    };
    records.set(rec.id, rec);
    persist(rec);
    refreshItems();
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    setActiveTool(tool) {
      tools.setActiveTool(tool);
      set({ activeTool: tool });
    },
    attach(el, studyInstanceUID, imgs) {
      const mySession = ++session;
      element = el;
      images = imgs;
      records = new Map();
      restoredImageId = undefined;
      const handlers = {
        completed: onEvent('completed'),
        modified: onEvent('modified'),
        removed: onEvent('removed'),
      };
      el.addEventListener(tools.EVENTS.completed, handlers.completed);
      el.addEventListener(tools.EVENTS.modified, handlers.modified);
      el.addEventListener(tools.EVENTS.removed, handlers.removed);
      const unsubscribe = imgs.subscribe(() => {
        const shown = imgs.displayed();
        if (shown && shown.imageId !== restoredImageId) restore();
      });
      void repo
        .listForStudy(studyInstanceUID)
        .then((list) => {
          if (mySession !== session) return;
          // Anything drawn while the list was loading is kept.
          for (const r of list) if (!records.has(r.id)) records.set(r.id, r);
          restore();
        })
        .catch((err: unknown) => log.error('Reading the study measurements failed', err));
      return () => {
        if (mySession !== session) return;
        session++;
        unsubscribe();
        el.removeEventListener(tools.EVENTS.completed, handlers.completed);
        el.removeEventListener(tools.EVENTS.modified, handlers.modified);
        el.removeEventListener(tools.EVENTS.removed, handlers.removed);
        element = undefined;
        images = undefined;
        records = new Map();
        tools.clearAll();
        set({ items: [] });
      };
    },
    remove(id) {
      const rec = records.get(id);
      if (!rec) return;
      records.delete(id);
      track(repo.remove(id), `Deleting measurement ${id}`);
      if (element) tools.removeMeasurement(element, rec.tool, id);
      refreshItems();
    },
  };
}
