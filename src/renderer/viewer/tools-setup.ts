import cornerstoneTools from 'cornerstone-tools';
import type { MeasurementData } from 'cornerstone-tools';
import cornerstoneMath from 'cornerstone-math';
import Hammer from 'hammerjs';
import type { Logger } from '../../shared/log';
import type { ImagingRuntime } from './cornerstone-setup';

/**
 * The drawing tools on the tool bar, by cornerstone-tools name. `Calibration`
 * is a second Length tool: the line drawn across a reference object.
 */
export type MeasureToolName =
  | 'Length'
  | 'EllipticalRoi'
  | 'RectangleRoi'
  | 'Angle'
  | 'Probe'
  | 'CobbAngle'
  | 'ArrowAnnotate'
  | 'TextMarker'
  | 'Calibration';
export const MEASURE_TOOLS: readonly MeasureToolName[] = [
  'Length',
  'EllipticalRoi',
  'RectangleRoi',
  'Angle',
  'Probe',
  'CobbAngle',
  'ArrowAnnotate',
  'TextMarker',
  'Calibration',
];

/** What a free-text label says until the reader has typed its text (it is never stored so). */
export const TEXT_PLACEHOLDER = 'Text';

export interface ToolEventDetail {
  toolName?: string;
  toolType?: string;
  measurementData?: MeasurementData;
}

/** Where the tools' text questions go: the app's own dialog (window.prompt is blocked in the shell). */
export interface TextHandlers {
  /** A new arrow wants its text: `done(text)` keeps it, `done(undefined)` drops it. */
  request(tool: string, done: (text: string | undefined) => void): void;
  /** The reader double-clicked a text annotation to change it. */
  edit(tool: string, uuid: string): void;
}

/** What the measurement store needs from cornerstone-tools, handed over by the app root. */
export interface ToolsRuntime {
  EVENTS: { completed: string; modified: string; removed: string };
  /** Left button draws with `tool`; undefined: no tool draws (the viewer's own W/L drag). Drawn ones stay editable. */
  setActiveTool(tool: MeasureToolName | undefined): void;
  /**
   * Replaces the tool state of the image on `element` with `items` and repaints.
   * An item whose data has `locked: true` cannot be dragged.
   */
  replaceImageState(element: HTMLElement, imageId: string, items: { tool: string; data: MeasurementData }[]): void;
  removeMeasurement(element: HTMLElement, tool: string, uuid: string): void;
  /**
   * Forgets every image's tool state (the viewer closed). Needed because the
   * loader's `dicomfile:<n>` ids restart at 0 with the next study.
   */
  clearAll(): void;
  setTextHandlers(handlers: TextHandlers): void;
  /**
   * The spacing cornerstone-tools labels its own on-canvas figures with for
   * `imageId` (a manual calibration); undefined: the image's own again.
   */
  setManualSpacing(imageId: string, spacing: { rowSpacingMm: number; columnSpacingMm: number } | undefined): void;
}

interface AnnotationToolInstance {
  handleSelectedCallback(evt: CustomEvent, data: MeasurementData, handle: unknown, interactionType?: string): void;
  toolSelectedCallback(evt: CustomEvent, data: MeasurementData, interactionType?: string): void;
}
type AnnotationToolClass = new (props?: Record<string, unknown>) => AnnotationToolInstance;

/** Swallows the press: no drag starts and the active tool does not start a new drawing there. */
function swallow(evt: CustomEvent): void {
  evt.stopImmediatePropagation();
  evt.stopPropagation();
  evt.preventDefault();
}

/**
 * A tool whose annotations carrying `locked: true` ignore presses: cornerstone-tools
 * has no per-annotation lock, so the two callbacks that start a move check it.
 */
function lockable(Base: AnnotationToolClass): AnnotationToolClass {
  return class extends Base {
    override handleSelectedCallback(evt: CustomEvent, data: MeasurementData, handle: unknown, interactionType?: string): void {
      if (data.locked === true) return swallow(evt);
      super.handleSelectedCallback(evt, data, handle, interactionType);
    }
    override toolSelectedCallback(evt: CustomEvent, data: MeasurementData, interactionType?: string): void {
      if (data.locked === true) return swallow(evt);
      super.toolSelectedCallback(evt, data, interactionType);
    }
  };
}

interface MetaData {
  addProvider(provider: (type: string, imageId: string) => unknown, priority?: number): void;
  get(type: string, imageId: string): unknown;
}

/**
 * Wires cornerstone-tools once, from the app root (never at import time):
 * its externals, its global init, and the tools in passive mode so drawn
 * measurements render and their handles can be dragged.
 */
export function initTools(imaging: ImagingRuntime, log: Logger): ToolsRuntime {
  cornerstoneTools.external.cornerstone = imaging.cornerstone;
  cornerstoneTools.external.cornerstoneMath = cornerstoneMath;
  cornerstoneTools.external.Hammer = Hammer;
  // Global tool sync: every element enabled later (each opened study) gets the tools and their modes.
  cornerstoneTools.init({ showSVGCursors: false, globalToolSyncEnabled: true });
  let textHandlers: TextHandlers | undefined;
  const ct = cornerstoneTools as unknown as Record<string, AnnotationToolClass>;
  const add = (cls: AnnotationToolClass | undefined, props: Record<string, unknown> = {}): void => {
    if (!cls) throw new Error(`cornerstone-tools lacks a tool for ${JSON.stringify(props)}`);
    cornerstoneTools.addTool(lockable(cls), props);
  };
  add(ct.LengthTool);
  add(ct.EllipticalRoiTool);
  add(ct.RectangleRoiTool);
  add(ct.AngleTool);
  add(ct.ProbeTool);
  add(ct.CobbAngleTool);
  add(ct.ArrowAnnotateTool, {
    configuration: {
      getTextCallback: (done: (text: string | undefined) => void) => {
        if (textHandlers) textHandlers.request('ArrowAnnotate', done);
        else done(undefined);
      },
      changeTextCallback: (data: MeasurementData) => {
        if (textHandlers && data.uuid) textHandlers.edit('ArrowAnnotate', data.uuid);
      },
    },
  });
  // Free text: a text marker whose label is the placeholder until the store asks for the real text.
  add(ct.TextMarkerTool, {
    configuration: {
      markers: [TEXT_PLACEHOLDER],
      current: TEXT_PLACEHOLDER,
      loop: true,
      changeTextCallback: (data: MeasurementData) => {
        if (textHandlers && data.uuid) textHandlers.edit('TextMarker', data.uuid);
      },
    },
  });
  add(ct.LengthTool, { name: 'Calibration' });
  for (const t of MEASURE_TOOLS) cornerstoneTools.setToolPassive(t);

  // A manual calibration, seen by cornerstone-tools through the image plane module it reads spacing from.
  const cs = imaging.cornerstone;
  const metaData = (cs as unknown as { metaData: MetaData }).metaData;
  const manualSpacing = new Map<string, { rowSpacingMm: number; columnSpacingMm: number }>();
  let asking = false;
  metaData.addProvider((type, imageId) => {
    const spacing = type === 'imagePlaneModule' && !asking ? manualSpacing.get(imageId) : undefined;
    if (!spacing) return undefined;
    asking = true;
    try {
      const own = (metaData.get(type, imageId) ?? {}) as Record<string, unknown>;
      return { ...own, rowPixelSpacing: spacing.rowSpacingMm, columnPixelSpacing: spacing.columnSpacingMm };
    } finally {
      asking = false;
    }
  }, 10_000);
  log.info(`cornerstone-tools ready: ${MEASURE_TOOLS.join(', ')}`);
  return {
    EVENTS: {
      completed: cornerstoneTools.EVENTS.MEASUREMENT_COMPLETED,
      modified: cornerstoneTools.EVENTS.MEASUREMENT_MODIFIED,
      removed: cornerstoneTools.EVENTS.MEASUREMENT_REMOVED,
    },
    setActiveTool(tool) {
      for (const t of MEASURE_TOOLS) {
        if (t === tool) cornerstoneTools.setToolActive(t, { mouseButtonMask: 1 });
        else cornerstoneTools.setToolPassive(t);
      }
    },
    replaceImageState(element, imageId, items) {
      cornerstoneTools.globalImageIdSpecificToolStateManager.clearImageIdToolState(imageId);
      const image = cs.getImage(element);
      if (!image || image.imageId !== imageId) return;
      // Invalidated: cornerstone-tools recomputes its own labels (the calibration may have changed).
      for (const { tool, data } of items) cornerstoneTools.addToolState(element, tool, { ...data, invalidated: true });
      cs.updateImage(element);
    },
    clearAll() {
      cornerstoneTools.globalImageIdSpecificToolStateManager.restoreToolState({});
      manualSpacing.clear();
    },
    removeMeasurement(element, tool, uuid) {
      const state = cornerstoneTools.getToolState(element, tool);
      const data = state?.data.find((d) => d.uuid === uuid);
      if (data) cornerstoneTools.removeToolState(element, tool, data);
      cs.updateImage(element);
    },
    setTextHandlers(handlers) {
      textHandlers = handlers;
    },
    setManualSpacing(imageId, spacing) {
      if (spacing) manualSpacing.set(imageId, spacing);
      else manualSpacing.delete(imageId);
    },
  };
}
