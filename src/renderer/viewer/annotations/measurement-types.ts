/**
 * The measurement store's public shapes, kept apart from the factory so the
 * modules it is split into share them without importing the store itself.
 * measurement-store.ts re-exports all of them: callers import from there.
 */
import type { Image } from 'cornerstone-core';
import type { Logger } from '../../../shared/log';
import type { DisplayedInstance } from '../viewport-store';
import type { MeasureToolName, ToolsRuntime } from '../tools-setup';
import type { AnnotationRepo } from './annotation-repo';
import type { Point } from '../../lib/measure';

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
