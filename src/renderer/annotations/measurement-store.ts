import type { MeasurementData } from 'cornerstone-tools';
import type { Image } from 'cornerstone-core';
import type { Logger } from '../../shared/log';
import { createListeners } from '../../shared/store/listeners';
import type { AnnotationRecord, KeyImageRecord } from '../cache/telerad-db';
import type { DisplayedInstance } from '../viewer/viewport-store';
import type { MeasureToolName, ToolEventDetail, ToolsRuntime } from '../viewer/tools-setup';
import type { AnnotationRepo } from './annotation-repo';
import {
  calibrationFrom,
  describeCalibration,
  ellipseStats,
  formatEllipse,
  effectiveCalibration,
  formatLength,
  measureAngle,
  measureCobbAngle,
  measureLength,
  probeValue,
  rectangleStats,
} from './measure';
import type { Calibration, Point } from './measure';

/** The author of every annotation when the user profile has no name: a fixed local seam. */
export const LOCAL_AUTHOR = 'me';

export type AnnotationKind = 'length' | 'ellipse' | 'rectangle' | 'angle' | 'probe' | 'cobb' | 'arrow' | 'text' | 'calibration';

export interface MeasurementItem {
  id: string;
  tool: string;
  kind: AnnotationKind;
  text: string;
  /** Length in mm (undefined when uncalibrated). */
  lengthMm?: number;
  /** Ellipse or rectangle mean in modality units. */
  mean?: number;
  /** Angle or Cobb angle in degrees. */
  angleDeg?: number;
  /** Probe: the pixel's value in modality units. */
  value?: number;
  /** Arrow or free text: what it says. */
  label?: string;
  uncalibrated: boolean;
  locked: boolean;
  author: string;
  start: Point;
  end: Point;
}

/** A question the app asks in its own dialog (the text of an arrow, a reference size). */
export interface TextPrompt {
  id: number;
  title: string;
  /** The input's accessible label. */
  label: string;
  initial: string;
  /** A positive number of millimetres is expected. */
  numeric: boolean;
  /** Why the last answer was refused. */
  error?: string;
}

export interface KeyImageItem {
  sopInstanceUID: string;
  seriesInstanceUID: string;
  author: string;
  createdAt: number;
}

export interface MeasurementState {
  activeTool: MeasureToolName | undefined;
  /** The annotations on the instance shown in the focused viewport. */
  items: MeasurementItem[];
  /** How the focused viewport's image is calibrated, in words ('' when nothing is shown). */
  calibration: string;
  /** Database writes not yet committed: a reload before they land would lose them. */
  pendingWrites: number;
  /** Annotations are not drawn on the images (they are still listed). */
  hidden: boolean;
  canUndo: boolean;
  canRedo: boolean;
  /** What undo and redo would do: "Undo draw length". */
  undoLabel: string;
  redoLabel: string;
  selectedId: string | undefined;
  /** The focused study's key images, oldest first. */
  keyImages: KeyImageItem[];
  /** The focused viewport's instance is a key image. */
  isKeyImage: boolean;
  textPrompt: TextPrompt | undefined;
  /** A refused action, said to the reader ("locked: unlock it first"). */
  notice: string | undefined;
  /** The focused viewport shows a preview: measuring and key-image marking are off until its lossless image is in. */
  previewShown: boolean;
  revision: number;
}

/** Why a measurement was refused on a preview slice. */
export const PREVIEW_NOTICE = 'Measuring is off on a preview (the site\'s rendering, not for diagnosis): it is replaced by the lossless image as soon as that arrives.';

export interface MeasurementStore {
  getState(): MeasurementState;
  subscribe(listener: () => void): () => void;
  setActiveTool(tool: MeasureToolName | undefined): void;
  /**
   * Starts following `element` (one viewport) for one open study; returns the
   * function that stops. Several viewports may be attached at once.
   */
  attach(element: HTMLElement, studyInstanceUID: string, images: DisplayedImages): () => void;
  /** The viewport the panel lists, and key-image toggles and undo act on. */
  focus(element: HTMLElement): void;
  remove(id: string): void;
  /** Removes the selected annotation (the last drawn, moved or picked in the list). */
  removeSelected(): void;
  select(id: string | undefined): void;
  undo(): void;
  redo(): void;
  setLocked(id: string, locked: boolean): void;
  setHidden(hidden: boolean): void;
  /** Flags or unflags the focused viewport's instance as a key image. */
  toggleKeyImage(): void;
  /** Asks for a new text of an arrow or free-text label. */
  editText(id: string): void;
  /** A press to draw on a slice shown from its preview (or not received yet) was refused: says why. */
  refuseOnPreview(kind: 'preview' | 'missing'): void;
  /** The dialog's answer; undefined: cancelled. */
  answerTextPrompt(text: string | undefined): void;
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

const KIND: Record<string, AnnotationKind | undefined> = {
  Length: 'length',
  EllipticalRoi: 'ellipse',
  RectangleRoi: 'rectangle',
  Angle: 'angle',
  Probe: 'probe',
  CobbAngle: 'cobb',
  ArrowAnnotate: 'arrow',
  TextMarker: 'text',
  Calibration: 'calibration',
};

const KIND_WORD: Record<AnnotationKind, string> = {
  length: 'length',
  ellipse: 'ellipse',
  rectangle: 'rectangle',
  angle: 'angle',
  probe: 'probe',
  cobb: 'Cobb angle',
  arrow: 'arrow',
  text: 'text',
  calibration: 'calibration',
};

function handlePoint(data: MeasurementData, key: string): Point | undefined {
  const h = data.handles[key] as { x?: unknown; y?: unknown } | undefined;
  return h && typeof h.x === 'number' && typeof h.y === 'number' ? { x: h.x, y: h.y } : undefined;
}

/** Tool data without the transient UI flags, safe to store (structured-cloneable). */
function storable(data: MeasurementData): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify({ ...data, active: false })) as Record<string, unknown>;
  delete copy.locked; // the record's own field says it
  return copy;
}

/** One record's state before and after an action; undefined: absent. */
interface Change {
  id: string;
  before: AnnotationRecord | undefined;
  after: AnnotationRecord | undefined;
}

interface UndoEntry {
  study: string;
  /** "draw length", "move arrow", "delete ellipse", "edit text", "calibrate". */
  what: string;
  changes: Change[];
  /** A drag in progress on this id: its further moves fold into this entry. */
  openId?: string;
}

interface Attachment {
  el: HTMLElement;
  studyUid: string;
  images: DisplayedImages;
  restoredImageId: string | undefined;
  detach: () => void;
}

interface PendingPrompt {
  prompt: TextPrompt;
  att: Attachment | undefined;
  resolve(text: string | undefined): void;
}

/**
 * Annotations of the study in the viewer: drawn with cornerstone-tools, kept
 * per instance in IndexedDB (written on complete, modify and remove), restored
 * into the tool state whenever an instance is displayed in any attached
 * viewport. The figures shown are computed here from the handles and the
 * instance's calibration (see measure.ts). Every change the reader makes goes
 * through one undo stack, applied to the records and the database alike.
 */
export function createMeasurementStore(deps: MeasurementDeps): MeasurementStore {
  const { tools, repo, log } = deps;
  const listeners = createListeners();
  let state: MeasurementState = {
    activeTool: undefined,
    items: [],
    calibration: '',
    pendingWrites: 0,
    hidden: false,
    canUndo: false,
    canRedo: false,
    undoLabel: '',
    redoLabel: '',
    selectedId: undefined,
    keyImages: [],
    isKeyImage: false,
    textPrompt: undefined,
    notice: undefined,
    previewShown: false,
    revision: 0,
  };
  /** The attached studies' annotations by id; the database is written behind it. */
  const records = new Map<string, AnnotationRecord>();
  const keyImages = new Map<string, KeyImageRecord>();
  /** Studies whose records are in memory: attachments using each, and whether the load finished. */
  const studies = new Map<string, { refs: number; loaded: boolean }>();
  const attachments: Attachment[] = [];
  let focused: Attachment | undefined;
  let undoStack: UndoEntry[] = [];
  let redoStack: UndoEntry[] = [];
  let pending: PendingPrompt | undefined;
  let promptSeq = 0;
  let author = LOCAL_AUTHOR;

  const set = (patch: Partial<MeasurementState>): void => {
    state = { ...state, ...patch, revision: state.revision + 1 };
    listeners.notify();
  };

  const shownImage = (att: Attachment, shown: DisplayedInstance): Image | undefined => {
    const image = deps.getImage(att.el);
    return image && image.imageId === shown.imageId ? image : undefined;
  };

  const calibrationRecord = (sop: string): AnnotationRecord | undefined =>
    [...records.values()].find((r) => r.sopInstanceUID === sop && r.tool === 'Calibration' && typeof r.referenceMm === 'number');

  /** The instance's calibration: the reader's reference object first, else the DICOM spacing. */
  const calibrationOf = (sop: string, image: Image | undefined): Calibration | undefined => {
    const own = calibrationFrom({
      pixelSpacing: image?.data?.string('x00280030'),
      imagerPixelSpacing: image?.data?.string('x00181164'),
    });
    return effectiveCalibration(own, calibrationRecord(sop));
  };

  const describe = (rec: AnnotationRecord, image: Image | undefined, cal: Calibration | undefined): MeasurementItem | undefined => {
    const kind = KIND[rec.tool];
    const data = rec.data as MeasurementData;
    const end = handlePoint(data, 'end');
    // A probe and a free-text label have one handle (end); every other tool starts somewhere.
    const start = handlePoint(data, 'start') ?? (kind === 'probe' || kind === 'text' ? end : undefined);
    if (!kind || !start || !end) return undefined;
    const base = { id: rec.id, tool: rec.tool, kind, uncalibrated: !cal, start, end, locked: rec.locked === true, author: rec.author };
    switch (kind) {
      case 'calibration': {
        const px = measureLength(start, end, undefined).value;
        return { ...base, uncalibrated: false, text: `reference ${(rec.referenceMm ?? 0).toFixed(1)} mm over ${px.toFixed(1)} px` };
      }
      case 'arrow':
      case 'text': {
        const label = typeof data.text === 'string' ? data.text : '';
        return { ...base, text: label, label };
      }
      case 'angle': {
        const middle = handlePoint(data, 'middle');
        if (!middle) return { ...base, text: '…' };
        const deg = measureAngle(start, middle, end, cal);
        return { ...base, text: `${deg.toFixed(1)}°`, angleDeg: deg };
      }
      case 'cobb': {
        const start2 = handlePoint(data, 'start2');
        const end2 = handlePoint(data, 'end2');
        const deg = start2 && end2 ? measureCobbAngle(start, end, start2, end2, cal) : undefined;
        if (deg === undefined) return { ...base, text: '…' };
        return { ...base, text: `${deg.toFixed(1)}°`, angleDeg: deg };
      }
      case 'length': {
        const r = measureLength(start, end, cal);
        return { ...base, text: formatLength(r, cal), ...(cal ? { lengthMm: r.value } : {}) };
      }
      default:
        break;
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
    return { ...base, text: formatEllipse(stats, unit, cal), mean: stats.mean };
  };

  const topOf = (stack: UndoEntry[], study: string | undefined): UndoEntry | undefined =>
    study === undefined ? undefined : [...stack].reverse().find((e) => e.study === study);

  /** Recomputes everything the panel shows from the records and the focused viewport. */
  const refresh = (): void => {
    const att = focused;
    const shown = att?.images.displayed();
    const image = att && shown ? shownImage(att, shown) : undefined;
    const cal = shown ? calibrationOf(shown.sopInstanceUID, image) : undefined;
    const items = shown
      ? [...records.values()]
          .filter((r) => r.sopInstanceUID === shown.sopInstanceUID)
          .sort((a, b) => a.createdAt - b.createdAt)
          .map((r) => describe(r, image, cal))
          .filter((i): i is MeasurementItem => i !== undefined)
      : [];
    const study = att?.studyUid;
    const undoTop = topOf(undoStack, study);
    const redoTop = topOf(redoStack, study);
    set({
      items,
      previewShown: shown?.preview === true,
      calibration: shown ? describeCalibration(cal) : '',
      canUndo: undoTop !== undefined,
      canRedo: redoTop !== undefined,
      undoLabel: undoTop ? `Undo ${undoTop.what}` : 'Nothing to undo',
      redoLabel: redoTop ? `Redo ${redoTop.what}` : 'Nothing to redo',
      keyImages: [...keyImages.values()]
        .filter((k) => k.studyInstanceUID === study)
        .sort((a, b) => a.createdAt - b.createdAt)
        .map((k) => ({ sopInstanceUID: k.sopInstanceUID, seriesInstanceUID: k.seriesInstanceUID, author: k.author, createdAt: k.createdAt })),
      isKeyImage: shown ? keyImages.has(shown.sopInstanceUID) : false,
    });
  };

  /** Tells cornerstone-tools the spacing of a manually calibrated image, for its own labels. */
  const updateSpacing = (att: Attachment, shown: DisplayedInstance): void => {
    const manual = calibrationRecord(shown.sopInstanceUID) ? calibrationOf(shown.sopInstanceUID, shownImage(att, shown)) : undefined;
    tools.setManualSpacing(shown.imageId, manual?.source === 'Manual' ? manual : undefined);
  };

  /** Puts the shown instance's annotations into the viewport's tool state (copies: the tool mutates its own). */
  const restore = (att: Attachment): void => {
    const shown = att.images.displayed();
    if (!shown) return;
    att.restoredImageId = shown.imageId;
    updateSpacing(att, shown);
    // Nothing is drawn over a preview: it is the site's rendering, not the pixels a measurement was made on.
    const mine = state.hidden || shown.preview ? [] : [...records.values()].filter((r) => r.sopInstanceUID === shown.sopInstanceUID);
    tools.replaceImageState(
      att.el,
      shown.imageId,
      mine.map((r) => ({ tool: r.tool, data: { ...(JSON.parse(JSON.stringify(r.data)) as MeasurementData), visible: true, locked: r.locked === true } })),
    );
    if (att === focused) refresh();
  };
  const restoreAll = (): void => {
    for (const att of attachments) restore(att);
    refresh();
  };

  const track = (write: Promise<unknown>, what: string): void => {
    set({ pendingWrites: state.pendingWrites + 1 });
    void write
      .catch((err: unknown) => log.error(`${what} failed`, err))
      .finally(() => set({ pendingWrites: state.pendingWrites - 1 }));
  };
  /**
   * Adds ROI statistics or the probe value from the decoded pixels of a
   * viewport showing the record's instance; unchanged when none shows it
   * (an undo on another slice keeps the figures it had).
   */
  const withPixelFigures = (rec: AnnotationRecord): AnnotationRecord => {
    const kind = KIND[rec.tool];
    if (kind !== 'ellipse' && kind !== 'rectangle' && kind !== 'probe') return rec;
    for (const att of attachments) {
      const shown = att.images.displayed();
      if (shown?.sopInstanceUID !== rec.sopInstanceUID) continue;
      const image = shownImage(att, shown);
      if (!image) continue;
      const item = describe(rec, image, calibrationOf(rec.sopInstanceUID, image));
      const modality = image.data?.string('x00080060')?.trim() || undefined;
      const src = { columns: image.columns, rows: image.rows, pixels: image.getPixelData(), slope: image.slope, intercept: image.intercept };
      const start = handlePoint(rec.data as MeasurementData, 'start');
      const end = handlePoint(rec.data as MeasurementData, 'end');
      if (!item || !end) return rec;
      if (kind === 'probe') return { ...rec, pixelFigures: { ...(item.value !== undefined ? { probeValue: item.value } : {}), ...(modality ? { modality } : {}) } };
      if (!start) return rec;
      const cal = calibrationOf(rec.sopInstanceUID, image);
      const s = kind === 'rectangle' ? rectangleStats(start, end, src, cal) : ellipseStats(start, end, src, cal);
      return s ? { ...rec, pixelFigures: { stats: { mean: s.mean, stdDev: s.stdDev, min: s.min, max: s.max }, ...(modality ? { modality } : {}) } } : rec;
    }
    return rec;
  };
  /** Makes `rec` (or its absence) the truth for `id`, in memory and in the database. */
  const write = (id: string, given: AnnotationRecord | undefined): void => {
    const rec = given && withPixelFigures(given);
    if (rec) {
      records.set(id, rec);
      track(repo.put(rec), `Saving annotation ${id}`);
    } else if (records.has(id)) {
      records.delete(id);
      track(repo.remove(id), `Deleting annotation ${id}`);
    }
  };
  const commit = (entry: UndoEntry): void => {
    state.notice = undefined;
    for (const c of entry.changes) write(c.id, c.after);
    for (const e of undoStack) delete e.openId;
    undoStack.push(entry);
    redoStack = redoStack.filter((e) => e.study !== entry.study);
  };

  const askText = (prompt: Omit<TextPrompt, 'id'>, att: Attachment | undefined, resolve: (text: string | undefined) => void): void => {
    pending?.resolve(undefined); // one question at a time: a new one cancels the old
    const p: TextPrompt = { ...prompt, id: ++promptSeq };
    pending = { prompt: p, att, resolve };
    set({ textPrompt: p });
  };

  const newRecord = (id: string, shown: DisplayedInstance, tool: string, data: MeasurementData, extra: Partial<AnnotationRecord> = {}): AnnotationRecord => {
    const t = deps.now();
    return {
      id,
      studyInstanceUID: shown.studyInstanceUID,
      seriesInstanceUID: shown.seriesInstanceUID,
      sopInstanceUID: shown.sopInstanceUID,
      tool,
      data: storable(data),
      author,
      createdAt: t,
      updatedAt: t,
      ...extra,
    };
  };

  /** A free-text label or a calibration line was placed: it is kept once the reader has typed what it needs. */
  const completeWithText = (att: Attachment, shown: DisplayedInstance, tool: string, data: MeasurementData): void => {
    const id = data.uuid!;
    const drop = (): void => {
      tools.removeMeasurement(att.el, tool, id);
      refresh();
    };
    if (tool === 'TextMarker') {
      askText({ title: 'Text on the image', label: 'Text', initial: '', numeric: false }, att, (text) => {
        if (!text) return drop();
        const rec = newRecord(id, shown, tool, { ...data, text });
        commit({ study: shown.studyInstanceUID, what: 'add text', changes: [{ id, before: undefined, after: rec }] });
        state.selectedId = id;
        restoreAll();
      });
      return;
    }
    askText({ title: 'Calibrate this image', label: 'Known size of the reference object (mm)', initial: '', numeric: true }, att, (text) => {
      if (!text) return drop();
      const referenceMm = Number.parseFloat(text.replace(',', '.'));
      const rec = newRecord(id, shown, tool, data, { referenceMm });
      // One calibration per instance: a new one replaces the old.
      const old = [...records.values()].filter((r) => r.sopInstanceUID === shown.sopInstanceUID && r.tool === 'Calibration');
      commit({
        study: shown.studyInstanceUID,
        what: 'calibrate',
        changes: [...old.map((r) => ({ id: r.id, before: r, after: undefined })), { id, before: undefined, after: rec }],
      });
      log.info(`Manual calibration of ${shown.sopInstanceUID}: ${referenceMm} mm reference`);
      restoreAll();
    });
  };

  const onEvent = (att: Attachment, kind: 'completed' | 'modified' | 'removed') => (e: Event): void => {
    const detail = (e as CustomEvent<ToolEventDetail>).detail;
    const data = detail?.measurementData;
    const tool = detail?.toolName ?? detail?.toolType;
    const shown = att.images.displayed();
    if (!data?.uuid || !tool || !KIND[tool] || !shown) return;
    const id = data.uuid;
    const existing = records.get(id);
    if (kind === 'completed' || existing) focused = att;
    if (kind === 'removed') {
      if (!existing) return;
      commit({ study: existing.studyInstanceUID, what: `delete ${KIND_WORD[KIND[tool]!]}`, changes: [{ id, before: existing, after: undefined }] });
      refresh();
      return;
    }
    if (!existing && shown.preview) {
      // Never kept: a measurement on a preview would measure the site's JPEG, not the image.
      tools.removeMeasurement(att.el, tool, id);
      set({ notice: PREVIEW_NOTICE });
      return;
    }
    if (!existing) {
      // While a new one is being drawn it is "modified" on every mouse move: it is stored once complete.
      if (kind === 'modified') return;
      // The Cobb angle completes its first line before the second is drawn.
      if (tool === 'CobbAngle' && data.complete === false) return;
      if (tool === 'TextMarker' || tool === 'Calibration') return completeWithText(att, shown, tool, data);
      const rec = newRecord(id, shown, tool, data);
      commit({ study: rec.studyInstanceUID, what: `draw ${KIND_WORD[KIND[tool]!]}`, changes: [{ id, before: undefined, after: rec }] });
      state.selectedId = id;
      if (state.hidden) {
        // Drawing shows the others again rather than leave the new one alone on the image.
        state.hidden = false;
        restoreAll();
      } else refresh();
      return;
    }
    if (existing.locked) {
      // cornerstone-tools was told not to move it; put it back should anything have.
      restore(att);
      return;
    }
    const rec: AnnotationRecord = { ...existing, data: storable(data), updatedAt: deps.now() };
    const top = undoStack[undoStack.length - 1];
    if (top && top.openId === id) {
      top.changes[0]!.after = rec;
      write(id, rec);
    } else {
      commit({ study: existing.studyInstanceUID, what: `move ${KIND_WORD[KIND[tool]!]}`, changes: [{ id, before: existing, after: rec }], openId: id });
    }
    // The drag has ended: the next move is another entry.
    if (kind === 'completed') delete undoStack[undoStack.length - 1]!.openId;
    state.selectedId = id;
    if (tool === 'Calibration') {
      updateSpacing(att, shown);
      if (kind === 'completed') return restoreAll(); // relabel the other tools' figures
    }
    refresh();
  };

  const dropStudy = (uid: string): void => {
    for (const [id, r] of records) if (r.studyInstanceUID === uid) records.delete(id);
    for (const [sop, k] of keyImages) if (k.studyInstanceUID === uid) keyImages.delete(sop);
    undoStack = undoStack.filter((e) => e.study !== uid);
    redoStack = redoStack.filter((e) => e.study !== uid);
    studies.delete(uid);
  };

  const load = (uid: string): void => {
    const entry = studies.get(uid)!;
    void repo.authorName().then(
      (name) => (author = name ?? LOCAL_AUTHOR),
      (err: unknown) => log.warn('Reading the user profile failed; annotations are signed "me"', err),
    );
    void Promise.all([repo.listForStudy(uid), repo.listKeyImages(uid)])
      .then(([list, keys]) => {
        if (studies.get(uid) !== entry) return; // closed (and maybe reopened) meanwhile
        entry.loaded = true;
        // Anything drawn while the list was loading is kept.
        for (const r of list) if (!records.has(r.id)) records.set(r.id, r);
        for (const k of keys) if (!keyImages.has(k.sopInstanceUID)) keyImages.set(k.sopInstanceUID, k);
        for (const att of attachments) if (att.studyUid === uid) restore(att);
        refresh();
      })
      .catch((err: unknown) => log.error('Reading the study annotations failed', err));
  };

  /** Applies one side of an entry; refused (false) while an annotation it would change is locked. */
  const applyEntry = (entry: UndoEntry, dir: 'undo' | 'redo'): boolean => {
    const locked = entry.changes.map((c) => records.get(c.id)).find((r) => r?.locked);
    if (locked) {
      set({ notice: `The ${KIND_WORD[KIND[locked.tool] ?? 'length']} is locked: unlock it to ${dir} "${entry.what}".` });
      return false;
    }
    for (const c of entry.changes) write(c.id, dir === 'undo' ? c.before : c.after);
    delete entry.openId;
    return true;
  };

  const focusedShown = (): { att: Attachment; shown: DisplayedInstance } | undefined => {
    const att = focused;
    const shown = att?.images.displayed();
    return att && shown ? { att, shown } : undefined;
  };

  const store: MeasurementStore = {
    getState: () => state,
    subscribe: listeners.subscribe,
    setActiveTool(tool) {
      tools.setActiveTool(tool);
      set({ activeTool: tool });
    },
    attach(el, studyInstanceUID, imgs) {
      // Opening another study forgets the ones no viewport shows any more (and their history).
      for (const [uid, s] of studies) if (uid !== studyInstanceUID && s.refs === 0) dropStudy(uid);
      const att: Attachment = { el, studyUid: studyInstanceUID, images: imgs, restoredImageId: undefined, detach: () => undefined };
      const handlers = {
        completed: onEvent(att, 'completed'),
        modified: onEvent(att, 'modified'),
        removed: onEvent(att, 'removed'),
      };
      el.addEventListener(tools.EVENTS.completed, handlers.completed);
      el.addEventListener(tools.EVENTS.modified, handlers.modified);
      el.addEventListener(tools.EVENTS.removed, handlers.removed);
      const unsubscribe = imgs.subscribe(() => {
        const shown = imgs.displayed();
        if (shown && shown.imageId !== att.restoredImageId) restore(att);
      });
      attachments.push(att);
      focused ??= att;
      let study = studies.get(studyInstanceUID);
      if (!study) {
        study = { refs: 0, loaded: false };
        studies.set(studyInstanceUID, study);
        load(studyInstanceUID);
      }
      study.refs++;
      restore(att);
      if (att === focused) refresh();
      let attached = true;
      att.detach = () => {
        if (!attached) return;
        attached = false;
        unsubscribe();
        el.removeEventListener(tools.EVENTS.completed, handlers.completed);
        el.removeEventListener(tools.EVENTS.modified, handlers.modified);
        el.removeEventListener(tools.EVENTS.removed, handlers.removed);
        attachments.splice(attachments.indexOf(att), 1);
        const s = studies.get(studyInstanceUID);
        if (s) s.refs--;
        if (pending?.att === att) store.answerTextPrompt(undefined);
        if (focused === att) focused = attachments[attachments.length - 1];
        if (attachments.length === 0) tools.clearAll();
        refresh();
      };
      return att.detach;
    },
    focus(el) {
      const att = attachments.find((a) => a.el === el);
      if (!att || att === focused) return;
      focused = att;
      refresh();
    },
    remove(id) {
      const rec = records.get(id);
      if (!rec) return;
      if (rec.locked) {
        set({ notice: `The ${KIND_WORD[KIND[rec.tool] ?? 'length']} is locked: unlock it to delete it.` });
        return;
      }
      commit({ study: rec.studyInstanceUID, what: `delete ${KIND_WORD[KIND[rec.tool] ?? 'length']}`, changes: [{ id, before: rec, after: undefined }] });
      for (const att of attachments) tools.removeMeasurement(att.el, rec.tool, id);
      if (state.selectedId === id) state.selectedId = undefined;
      state.notice = undefined;
      if (rec.tool === 'Calibration') restoreAll();
      else refresh();
    },
    removeSelected() {
      const id = state.selectedId;
      if (id && state.items.some((i) => i.id === id)) store.remove(id);
    },
    select(id) {
      set({ selectedId: id, notice: undefined });
    },
    undo() {
      const entry = topOf(undoStack, focused?.studyUid);
      if (!entry || !applyEntry(entry, 'undo')) return;
      undoStack.splice(undoStack.lastIndexOf(entry), 1);
      redoStack.push(entry);
      state.notice = undefined;
      restoreAll();
    },
    redo() {
      const entry = topOf(redoStack, focused?.studyUid);
      if (!entry || !applyEntry(entry, 'redo')) return;
      redoStack.splice(redoStack.lastIndexOf(entry), 1);
      undoStack.push(entry);
      state.notice = undefined;
      restoreAll();
    },
    setLocked(id, locked) {
      const rec = records.get(id);
      if (!rec || (rec.locked === true) === locked) return;
      write(id, { ...rec, locked, updatedAt: deps.now() });
      state.notice = undefined;
      restoreAll();
    },
    setHidden(hidden) {
      if (hidden === state.hidden) return;
      state.hidden = hidden;
      restoreAll();
    },
    toggleKeyImage() {
      const f = focusedShown();
      if (!f) return;
      if (f.shown.preview) {
        set({ notice: 'A key image is marked on its lossless image: this slice is still a preview (not for diagnosis). Wait until it is replaced.' });
        return;
      }
      const sop = f.shown.sopInstanceUID;
      if (keyImages.has(sop)) {
        keyImages.delete(sop);
        track(repo.removeKeyImage(sop), `Unflagging key image ${sop}`);
      } else {
        const rec: KeyImageRecord = {
          sopInstanceUID: sop,
          studyInstanceUID: f.shown.studyInstanceUID,
          seriesInstanceUID: f.shown.seriesInstanceUID,
          author,
          createdAt: deps.now(),
        };
        keyImages.set(sop, rec);
        track(repo.putKeyImage(rec), `Flagging key image ${sop}`);
      }
      refresh();
    },
    refuseOnPreview(kind) {
      set({ notice: kind === 'preview' ? PREVIEW_NOTICE : 'This slice has not arrived yet: measure on it once it is shown.' });
    },
    editText(id) {
      const rec = records.get(id);
      if (!rec || (rec.tool !== 'ArrowAnnotate' && rec.tool !== 'TextMarker')) return;
      if (rec.locked) {
        set({ notice: 'The text is locked: unlock it to change it.' });
        restoreAll();
        return;
      }
      const current = typeof rec.data.text === 'string' ? rec.data.text : '';
      askText({ title: 'Change the text', label: 'Text', initial: current, numeric: false }, undefined, (text) => {
        const now = records.get(id);
        if (text && now && text !== current) {
          const after: AnnotationRecord = { ...now, data: { ...now.data, text }, updatedAt: deps.now() };
          commit({ study: now.studyInstanceUID, what: 'edit text', changes: [{ id, before: now, after }] });
        }
        restoreAll(); // also clears the highlight the double click left
      });
    },
    answerTextPrompt(text) {
      const p = pending;
      if (!p) return;
      const trimmed = text?.trim();
      if (trimmed !== undefined && trimmed !== '' && p.prompt.numeric) {
        const mm = Number.parseFloat(trimmed.replace(',', '.'));
        if (!/^\d*[.,]?\d+$/.test(trimmed) || !(mm > 0)) {
          set({ textPrompt: { ...p.prompt, error: `"${trimmed}" is not a size in millimetres: type a positive number, e.g. 25 or 24.5.` } });
          return;
        }
      }
      pending = undefined;
      set({ textPrompt: undefined });
      p.resolve(trimmed ? trimmed : undefined);
    },
  };

  tools.setTextHandlers({
    request(tool, done) {
      askText({ title: 'Arrow label', label: 'Text of the arrow', initial: '', numeric: false }, undefined, (text) => {
        done(text);
        // The arrow's completion (inside `done`) was recorded; select it and show the list.
        if (text) {
          const last = undoStack[undoStack.length - 1];
          if (last?.changes[0]?.after?.tool === tool) state.selectedId = last.changes[0].id;
        }
        refresh();
      });
    },
    edit(_tool, uuid) {
      store.editText(uuid);
    },
  });

  return store;
}
