import type { ViewerShortcut } from '../viewer-shortcut';
import type { MeasureToolName } from '../tools-setup';
import type { MeasurementStore } from './measurement-store';

interface KeySpec {
  /** KeyboardEvent.key values that match (both cases where Shift does not matter). */
  names: readonly string[];
  shift: boolean;
  ctrl: boolean;
}

/** Ctrl or, on a Mac, Cmd; never Alt. */
function matcher({ names, shift, ctrl }: KeySpec): (e: KeyboardEvent) => boolean {
  return (e) => names.includes(e.key) && e.shiftKey === shift && (e.ctrlKey || e.metaKey) === ctrl && !e.altKey;
}

function shortcut(keys: string, description: string, spec: KeySpec, run: () => void): ViewerShortcut {
  return { keys, description, matches: matcher(spec), run };
}

const plain = (k: string): KeySpec => ({ names: [k.toLowerCase()], shift: false, ctrl: false });
const shifted = (k: string): KeySpec => ({ names: [k.toUpperCase()], shift: true, ctrl: false });

/**
 * The annotation tools' shortcuts, for the viewer's key handler and its help
 * overlay. Letters chosen not to clash with the viewer's own (C cine, R rotate,
 * H flip, W/X/Z/M pointer modes): a tool's variant is its letter with Shift.
 */
export function annotationShortcuts(store: MeasurementStore): ViewerShortcut[] {
  const tool = (keys: string, spec: KeySpec, name: MeasureToolName, label: string): ViewerShortcut =>
    shortcut(keys, `Left button: ${label}`, spec, () => store.setActiveTool(name));
  return [
    tool('L', plain('l'), 'Length', 'length'),
    tool('E', plain('e'), 'EllipticalRoi', 'ellipse ROI'),
    tool('Q', plain('q'), 'RectangleRoi', 'rectangle ROI'),
    tool('A', plain('a'), 'Angle', 'angle'),
    tool('Shift+A', shifted('a'), 'CobbAngle', 'Cobb angle'),
    tool('P', plain('p'), 'Probe', 'probe'),
    tool('T', plain('t'), 'TextMarker', 'text on the image'),
    tool('Shift+T', shifted('t'), 'ArrowAnnotate', 'arrow with text'),
    tool('Shift+L', shifted('l'), 'Calibration', 'calibrate on a reference object'),
    shortcut('K', 'Flag / unflag the image as a key image', plain('k'), () => store.toggleKeyImage()),
    shortcut('Ctrl+Z', 'Undo', { names: ['z', 'Z'], shift: false, ctrl: true }, () => store.undo()),
    shortcut('Ctrl+Y', 'Redo', { names: ['y', 'Y'], shift: false, ctrl: true }, () => store.redo()),
    shortcut('Ctrl+Shift+Z', 'Redo', { names: ['z', 'Z'], shift: true, ctrl: true }, () => store.redo()),
    shortcut('Delete', 'Delete the selected annotation', { names: ['Delete', 'Backspace'], shift: false, ctrl: false }, () => store.removeSelected()),
    shortcut('Shift+H', 'Hide / show all annotations', shifted('h'), () => store.setHidden(!store.getState().hidden)),
  ];
}
