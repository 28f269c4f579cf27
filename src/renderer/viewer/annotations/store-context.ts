import type { MeasurementData } from 'cornerstone-tools';
import type { Image } from 'cornerstone-core';
import type { Listeners } from '../../../shared/store/listeners';
import { createListeners } from '../../../shared/store/listeners';
import type { AnnotationRecord, KeyImageRecord } from '../../cache/telerad-db';
import type { DisplayedInstance } from '../viewport-store';
import type { Point } from '../../lib/measure';
import { LOCAL_AUTHOR } from './measurement-types';
import type { AnnotationKind, DisplayedImages, MeasurementDeps, MeasurementState, TextPrompt } from './measurement-types';

/**
 * What the measurement store's modules share. One object per store, passed
 * to every function that needs it, so two stores (as in the tests) never
 * share anything and each function says what it touches.
 */

export const KIND: Record<string, AnnotationKind | undefined> = {
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

export const KIND_WORD: Record<AnnotationKind, string> = {
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

export function handlePoint(data: MeasurementData, key: string): Point | undefined {
  const h = data.handles[key] as { x?: unknown; y?: unknown } | undefined;
  return h && typeof h.x === 'number' && typeof h.y === 'number' ? { x: h.x, y: h.y } : undefined;
}

/** Tool data without the transient UI flags, safe to store (structured-cloneable). */
export function storable(data: MeasurementData): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify({ ...data, active: false })) as Record<string, unknown>;
  delete copy.locked; // the record's own field says it
  return copy;
}

/** One record's state before and after an action; undefined: absent. */
export interface Change {
  id: string;
  before: AnnotationRecord | undefined;
  after: AnnotationRecord | undefined;
}

export interface UndoEntry {
  study: string;
  /** "draw length", "move arrow", "delete ellipse", "edit text", "calibrate". */
  what: string;
  changes: Change[];
  /** A drag in progress on this id: its further moves fold into this entry. */
  openId?: string;
}

export interface Attachment {
  el: HTMLElement;
  studyUid: string;
  images: DisplayedImages;
  restoredImageId: string | undefined;
  detach: () => void;
}

export interface PendingPrompt {
  prompt: TextPrompt;
  att: Attachment | undefined;
  resolve(text: string | undefined): void;
}

export interface StoreContext {
  deps: MeasurementDeps;
  listeners: Listeners;
  /**
   * The snapshot getState returns, replaced by setState. Some actions set a
   * field of it in place just before a refresh, which publishes the change.
   */
  state: MeasurementState;
  /** The attached studies' annotations by id; the database is written behind it. */
  records: Map<string, AnnotationRecord>;
  keyImages: Map<string, KeyImageRecord>;
  /** Studies whose records are in memory: attachments using each, and whether the load finished. */
  studies: Map<string, { refs: number; loaded: boolean }>;
  attachments: Attachment[];
  focused: Attachment | undefined;
  undoStack: UndoEntry[];
  redoStack: UndoEntry[];
  pending: PendingPrompt | undefined;
  promptSeq: number;
  author: string;
}

export function createStoreContext(deps: MeasurementDeps): StoreContext {
  return {
    deps,
    listeners: createListeners(),
    state: {
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
    },
    records: new Map(),
    keyImages: new Map(),
    studies: new Map(),
    attachments: [],
    focused: undefined,
    undoStack: [],
    redoStack: [],
    pending: undefined,
    promptSeq: 0,
    author: LOCAL_AUTHOR,
  };
}

export function setState(ctx: StoreContext, patch: Partial<MeasurementState>): void {
  ctx.state = { ...ctx.state, ...patch, revision: ctx.state.revision + 1 };
  ctx.listeners.notify();
}

/** The viewport's decoded image, only when it is the instance the viewer says is shown. */
export function shownImage(ctx: StoreContext, att: Attachment, shown: DisplayedInstance): Image | undefined {
  const image = ctx.deps.getImage(att.el);
  return image && image.imageId === shown.imageId ? image : undefined;
}

export function focusedShown(ctx: StoreContext): { att: Attachment; shown: DisplayedInstance } | undefined {
  const att = ctx.focused;
  const shown = att?.images.displayed();
  return att && shown ? { att, shown } : undefined;
}
