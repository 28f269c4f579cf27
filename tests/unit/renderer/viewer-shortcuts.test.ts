// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { annotationShortcuts } from '../../../src/renderer/viewer/annotations/annotation-shortcuts';
import type { MeasurementStore } from '../../../src/renderer/viewer/annotations/measurement-store';
import { runShortcut, viewerShortcuts } from '../../../src/renderer/viewer/viewer-shortcuts';
import type { ViewerStore } from '../../../src/renderer/viewer/viewer-store';

function press(key: string, mods: { shift?: boolean; ctrl?: boolean } = {}): KeyboardEvent {
  return { key, shiftKey: mods.shift ?? false, ctrlKey: mods.ctrl ?? false, altKey: false, metaKey: false } as KeyboardEvent;
}

/** Records what the shortcuts asked of the viewer, nothing more. */
function recordingViewer(): { store: ViewerStore; calls: string[] } {
  const calls: string[] = [];
  const viewport = new Proxy({}, { get: (_t, name) => (name === 'getState' ? () => ({ count: 10, index: 3 }) : (...args: unknown[]) => calls.push(`vp.${String(name)}(${args.join(',')})`)) });
  const state = { layout: '2x2', active: 1, sync: true };
  const store = new Proxy(
    {},
    {
      get: (_t, name) => {
        if (name === 'getState') return () => state;
        if (name === 'activeViewport') return () => viewport;
        return (...args: unknown[]) => calls.push(`${String(name)}(${args.join(',')})`);
      },
    },
  ) as ViewerStore;
  return { store, calls };
}

const KEYS = [
  ...'abcdefghijklmnopqrstuvwxyz0123456789+-=_?'.split(''),
  'ArrowUp',
  'ArrowDown',
  'ArrowLeft',
  'ArrowRight',
  'PageUp',
  'PageDown',
  'Home',
  'End',
  'Delete',
  'Backspace',
];

describe('viewer keyboard shortcuts', () => {
  it('never give one key press to two actions, the annotation tools’ included', () => {
    const all = [...viewerShortcuts(recordingViewer().store), ...annotationShortcuts({} as MeasurementStore)];
    for (const k of KEYS)
      for (const shift of [false, true])
        for (const ctrl of [false, true]) {
          const key = shift && k.length === 1 ? k.toUpperCase() : k;
          const hits = all.filter((s) => s.matches(press(key, { shift, ctrl })));
          expect(hits.map((h) => h.keys), `${ctrl ? 'Ctrl+' : ''}${shift ? 'Shift+' : ''}${k}`).toHaveLength(Math.min(hits.length, 1));
        }
  });

  it('act on the active viewport and the layout', () => {
    const { store, calls } = recordingViewer();
    const shortcuts = viewerShortcuts(store);
    for (const e of [press('ArrowDown'), press('End'), press('r'), press('R', { shift: true }), press('h'), press('3'), press('n'), press('c'), press('?')]) {
      expect(runShortcut(shortcuts, e)).toBe(true);
    }
    expect(calls).toEqual(['vp.scroll(1)', 'vp.show(9)', 'vp.rotateBy(90)', 'vp.rotateBy(-90)', 'vp.flipHorizontal()', 'setLayout(2x2)', 'setActive(2)', 'toggleCine()', 'setHelpOpen(true)']);
    // Shift+H is the annotation tools' "hide all", not a flip; Ctrl+Z is undo, not zoom mode.
    expect(runShortcut(shortcuts, press('H', { shift: true }))).toBe(false);
    expect(runShortcut(shortcuts, press('z', { ctrl: true }))).toBe(false);
  });
});
