import type { ViewerShortcut } from './viewer-shortcut';
import type { LayoutName, PointerMode, ViewerStore } from './viewer-store';
import { LAYOUTS, viewportCount } from './viewer-store';

/** A plain key: no Ctrl, Alt or Meta (those belong to the browser or to other shortcuts). */
function plain(e: KeyboardEvent): boolean {
  return !e.ctrlKey && !e.altKey && !e.metaKey;
}

/** `shift` false: the plain key only (Shift+letter belongs to the annotation tools); undefined: either (symbols typed with Shift). */
function key(keys: string, description: string, names: readonly string[], run: () => void, shift?: boolean): ViewerShortcut {
  return {
    keys,
    description,
    matches: (e) => plain(e) && names.includes(e.key) && (shift === undefined || e.shiftKey === shift),
    run,
  };
}

/** The stack viewer's own shortcuts, in the order the help overlay lists them. */
export function viewerShortcuts(store: ViewerStore): ViewerShortcut[] {
  const vp = (): ReturnType<ViewerStore['activeViewport']> => store.activeViewport();
  const layout = (name: LayoutName, k: string): ViewerShortcut => key(k, `Layout ${LAYOUTS[name].label}`, [k], () => store.setLayout(name));
  const mode = (m: PointerMode, k: string, what: string): ViewerShortcut => key(k.toUpperCase(), `Left button: ${what}`, [k], () => store.setMode(m), false);
  return [
    key('↓ / →', 'Next image', ['ArrowDown', 'ArrowRight'], () => vp().scroll(1)),
    key('↑ / ←', 'Previous image', ['ArrowUp', 'ArrowLeft'], () => vp().scroll(-1)),
    key('Page Down', '5 images on', ['PageDown'], () => vp().scroll(5)),
    key('Page Up', '5 images back', ['PageUp'], () => vp().scroll(-5)),
    key('Home', 'First image', ['Home'], () => vp().show(0)),
    key('End', 'Last image', ['End'], () => vp().show(vp().getState().count - 1)),
    layout('1x1', '1'),
    layout('1x2', '2'),
    layout('2x2', '3'),
    key('N', 'Next viewport', ['n'], () => {
      const s = store.getState();
      store.setActive((s.active + 1) % viewportCount(s.layout));
    }),
    key('C', 'Cine: play / stop', ['c'], () => store.toggleCine(), false),
    key('S', 'Synchronised scroll on / off', ['s'], () => store.setSync(!store.getState().sync), false),
    key('+', 'Zoom in', ['+', '='], () => vp().zoomBy(1.25)),
    key('-', 'Zoom out', ['-', '_'], () => vp().zoomBy(0.8)),
    key('R', 'Rotate 90° clockwise', ['r'], () => vp().rotateBy(90), false),
    key('Shift+R', 'Rotate 90° anticlockwise', ['R'], () => vp().rotateBy(-90), true),
    key('H', 'Flip horizontally', ['h'], () => vp().flipHorizontal(), false),
    key('V', 'Flip vertically', ['v'], () => vp().flipVertical(), false),
    key('I', 'Invert', ['i'], () => vp().toggleInvert(), false),
    key('0', 'Reset the view', ['0'], () => vp().reset()),
    mode('wl', 'w', 'window/level'),
    mode('pan', 'x', 'pan'),
    mode('zoom', 'z', 'zoom'),
    mode('magnify', 'm', 'magnifier'),
    key('?', 'This help', ['?'], () => store.setHelpOpen(true)),
  ];
}

/** Runs the first shortcut matching `e`; true when one did. */
export function runShortcut(shortcuts: readonly ViewerShortcut[], e: KeyboardEvent): boolean {
  const hit = shortcuts.find((s) => s.matches(e));
  if (!hit) return false;
  hit.run();
  return true;
}
