import cornerstoneTools from 'cornerstone-tools';
import type { MeasurementData } from 'cornerstone-tools';
import cornerstoneMath from 'cornerstone-math';
import Hammer from 'hammerjs';
import type { Logger } from '../../shared/log';
import type { ImagingRuntime } from './cornerstone-setup';

/** The measurement tools on the tool bar, by cornerstone-tools name. */
export type MeasureToolName = 'Length' | 'EllipticalRoi' | 'RectangleRoi' | 'Angle' | 'Probe';
export const MEASURE_TOOLS: readonly MeasureToolName[] = ['Length', 'EllipticalRoi', 'RectangleRoi', 'Angle', 'Probe'];

export interface ToolEventDetail {
  toolName?: string;
  toolType?: string;
  measurementData?: MeasurementData;
}

/** What the measurement store needs from cornerstone-tools, handed over by the app root. */
export interface ToolsRuntime {
  EVENTS: { completed: string; modified: string; removed: string };
  /** Left button draws with `tool`; undefined: no tool draws (the viewer's own W/L drag). Drawn ones stay editable. */
  setActiveTool(tool: MeasureToolName | undefined): void;
  /** Replaces the tool state of the image on `element` with `items` and repaints. */
  replaceImageState(element: HTMLElement, imageId: string, items: { tool: string; data: MeasurementData }[]): void;
  removeMeasurement(element: HTMLElement, tool: string, uuid: string): void;
  /**
   * Forgets every image's tool state (the viewer closed). Needed because the
   * loader's `dicomfile:<n>` ids restart at 0 with the next study.
   */
  clearAll(): void;
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
  cornerstoneTools.addTool(cornerstoneTools.LengthTool);
  cornerstoneTools.addTool(cornerstoneTools.EllipticalRoiTool);
  cornerstoneTools.addTool(cornerstoneTools.RectangleRoiTool);
  cornerstoneTools.addTool(cornerstoneTools.AngleTool);
  cornerstoneTools.addTool(cornerstoneTools.ProbeTool);
  for (const t of MEASURE_TOOLS) cornerstoneTools.setToolPassive(t);
  log.info(`cornerstone-tools ready: ${MEASURE_TOOLS.join(', ')}`);
  const cs = imaging.cornerstone;
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
      for (const { tool, data } of items) cornerstoneTools.addToolState(element, tool, data);
      cs.updateImage(element);
    },
    clearAll() {
      cornerstoneTools.globalImageIdSpecificToolStateManager.restoreToolState({});
    },
    removeMeasurement(element, tool, uuid) {
      const state = cornerstoneTools.getToolState(element, tool);
      const data = state?.data.find((d) => d.uuid === uuid);
      if (data) cornerstoneTools.removeToolState(element, tool, data);
      cs.updateImage(element);
    },
  };
}
