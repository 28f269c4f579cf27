import 'fake-indexeddb/auto';
import type { Image } from 'cornerstone-core';
import type { MeasurementData } from 'cornerstone-tools';
import { describe, expect, it, vi } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { createAnnotationRepo } from '../../../src/renderer/viewer/annotations/annotation-repo';
import { LOCAL_AUTHOR, createMeasurementStore } from '../../../src/renderer/viewer/annotations/measurement-store';
import type { DisplayedImages, MeasurementStore } from '../../../src/renderer/viewer/annotations/measurement-store';
import { annotationShortcuts } from '../../../src/renderer/viewer/annotations/annotation-shortcuts';
import type { TextHandlers, ToolsRuntime } from '../../../src/renderer/viewer/tools-setup';
import type { DisplayedInstance } from '../../../src/renderer/viewer/viewer-store';
import { testRowSealer } from '../../support/test-sealer';
import { deleteDbsAfterEach } from '../../support/test-dbs';

// The store against a real (fake-indexeddb) database. cornerstone-tools is
// replaced by what the store sees of it: events on each viewport element, a
// tool state per image id, and the text callbacks of the arrow tool.
const EVENTS = { completed: 'completed', modified: 'modified', removed: 'removed' };
const dbs = deleteDbsAfterEach();

type Item = { tool: string; data: MeasurementData };
interface FakeTools extends ToolsRuntime {
  state: Map<string, Item[]>;
  text: TextHandlers | undefined;
  spacing: Map<string, unknown>;
}

function fakeTools(): FakeTools {
  const fake: FakeTools = {
    EVENTS,
    state: new Map(),
    text: undefined,
    spacing: new Map(),
    setActiveTool: () => undefined,
    clearAll: () => fake.state.clear(),
    replaceImageState: (_el, imageId, items) => void fake.state.set(imageId, items),
    removeMeasurement: (_el, _tool, uuid) => {
      for (const [k, v] of fake.state) fake.state.set(k, v.filter((i) => i.data.uuid !== uuid));
    },
    setTextHandlers: (h) => void (fake.text = h),
    setManualSpacing: (imageId, s) => void (s ? fake.spacing.set(imageId, s) : fake.spacing.delete(imageId)),
  };
  return fake;
}

/** A 100 × 100 image; `spacing` its PixelSpacing, none: an uncalibrated radiograph. */
function image(imageId: string, spacing: string | undefined): Image {
  const pixels = new Uint16Array(100 * 100).fill(500);
  const tags: Record<string, string | undefined> = { x00280030: spacing, x00080060: spacing ? 'CT' : 'DX' };
  return {
    imageId, rows: 100, columns: 100, minPixelValue: 0, maxPixelValue: 4095, slope: 1, intercept: 0, color: false,
    getPixelData: () => pixels,
    data: { string: (tag: string) => tags[tag] },
  };
}

interface Viewport {
  el: HTMLElement;
  close: () => void;
  show: (d: DisplayedInstance) => void;
}

function setup(name: string, spacing?: string): { db: TeleradDB; store: MeasurementStore; tools: FakeTools; open(study?: string): Viewport } {
  const db = new TeleradDB(name, { sealer: testRowSealer() });
  dbs.push(db);
  const tools = fakeTools();
  const shownOn = new Map<EventTarget, Image>();
  let t = 1000;
  const store = createMeasurementStore({
    tools,
    repo: createAnnotationRepo(db),
    getImage: (el) => shownOn.get(el),
    now: () => ++t,
    log: createLogger('t', memorySink()),
  });
  return {
    db,
    tools,
    store,
    open(study = 'study') {
      const el = new EventTarget() as HTMLElement;
      let shown: DisplayedInstance | undefined;
      const subs = new Set<() => void>();
      const images: DisplayedImages = { displayed: () => shown, subscribe: (l) => (subs.add(l), () => subs.delete(l)) };
      const close = store.attach(el, study, images);
      return {
        el,
        close,
        show(d) {
          shown = d;
          shownOn.set(el, image(d.imageId, spacing));
          for (const l of subs) l();
        },
      };
    },
  };
}

const inst = (n: number, imageId: string): DisplayedInstance => ({ studyInstanceUID: 'study', seriesInstanceUID: 'series', sopInstanceUID: `sop${n}`, imageId });
const fire = (el: HTMLElement, type: string, toolName: string, data: MeasurementData): void =>
  void el.dispatchEvent(new CustomEvent(type, { detail: { toolName, measurementData: data } }));
const line = (uuid: string, x0: number, y0: number, x1: number, y1: number): MeasurementData => ({ uuid, handles: { start: { x: x0, y: y0 }, end: { x: x1, y: y1 } } });
const loaded = (): Promise<void> => new Promise((r) => setTimeout(r, 20));
const saved = (s: MeasurementStore): Promise<void> => vi.waitFor(() => expect(s.getState().pendingWrites).toBe(0));
const dbName = (): string => `annotations-${Math.random()}`;
const key = (k: string, mods: Partial<KeyboardEvent> = {}): KeyboardEvent =>
  ({ key: k, shiftKey: false, ctrlKey: false, metaKey: false, altKey: false, ...mods }) as KeyboardEvent;

describe('Cobb angle', () => {
  it('is stored once both lines are drawn and reads the angle between them', async () => {
    const s = setup(dbName(), '0.5\\0.5');
    const v = s.open();
    v.show(inst(1, 'dicomfile:0'));
    await loaded();
    // The tool completes its first line before the second is drawn: not a measurement yet.
    const first: MeasurementData = { uuid: 'c1', complete: false, handles: { start: { x: 10, y: 10 }, end: { x: 60, y: 10 } } };
    fire(v.el, EVENTS.completed, 'CobbAngle', first);
    expect(s.store.getState().items).toEqual([]);
    // Second line at 30° to the first.
    const second = { x: 20 + 40 * Math.cos(Math.PI / 6), y: 50 + 40 * Math.sin(Math.PI / 6) };
    fire(v.el, EVENTS.completed, 'CobbAngle', { ...first, complete: true, handles: { ...first.handles, start2: { x: 20, y: 50 }, end2: second } });
    const item = s.store.getState().items[0]!;
    expect(item.kind).toBe('cobb');
    expect(item.angleDeg).toBeCloseTo(30, 6);
    expect(item.text).toBe('30.0°');
    await saved(s.store);
    expect((await s.db.annotations.get('c1'))?.tool).toBe('CobbAngle');
  });
});

describe('manual calibration', () => {
  it('turns an uncalibrated length into mm from a typed reference size, survives a reload, and goes back when removed', async () => {
    const name = dbName();
    const s = setup(name);
    const v = s.open();
    v.show(inst(1, 'dicomfile:0'));
    await loaded();
    fire(v.el, EVENTS.completed, 'Length', line('len', 0, 50, 80, 50));
    expect(s.store.getState().items[0]).toMatchObject({ text: '80.0 px (uncalibrated)', uncalibrated: true });
    expect(s.store.getState().calibration).toBe('uncalibrated');

    // A 40 px line across a reference object; the app asks for its size in its own dialog.
    fire(v.el, EVENTS.completed, 'Calibration', line('cal', 10, 10, 10, 50));
    expect(s.store.getState().textPrompt).toMatchObject({ numeric: true, label: 'Known size of the reference object (mm)' });
    s.store.answerTextPrompt('-3');
    expect(s.store.getState().textPrompt?.error).toMatch(/not a size in millimetres/);
    s.store.answerTextPrompt('10');
    expect(s.store.getState().textPrompt).toBeUndefined();
    const len = s.store.getState().items.find((i) => i.id === 'len')!;
    expect(len.lengthMm).toBeCloseTo(20, 9); // 80 px × 10 mm / 40 px
    expect(len.text).toBe('20.0 mm (calibrated manually: 10.0 mm reference)');
    expect(s.store.getState().calibration).toBe('calibrated manually: 10.0 mm reference');
    expect(s.tools.spacing.get('dicomfile:0')).toMatchObject({ rowSpacingMm: 0.25, columnSpacingMm: 0.25 });

    // Moving the reference line recomputes every figure: 80 px reference → 10 mm is 0.125 mm/px.
    fire(v.el, EVENTS.modified, 'Calibration', line('cal', 10, 10, 10, 90));
    expect(s.store.getState().items.find((i) => i.id === 'len')!.lengthMm).toBeCloseTo(10, 9);
    fire(v.el, EVENTS.completed, 'Calibration', line('cal', 10, 10, 10, 90));
    await saved(s.store);
    expect(await s.db.annotations.get('cal')).toMatchObject({ tool: 'Calibration', referenceMm: 10, sopInstanceUID: 'sop1' });
    v.close();

    // After a reload (a fresh store, the same database) the calibration still applies.
    const r = setup(name);
    const w = r.open();
    w.show(inst(1, 'dicomfile:3'));
    await vi.waitFor(() => expect(r.store.getState().items).toHaveLength(2));
    expect(r.store.getState().items.find((i) => i.id === 'len')!.text).toBe('10.0 mm (calibrated manually: 10.0 mm reference)');
    r.store.remove('cal');
    expect(r.store.getState().items.map((i) => i.text)).toEqual(['80.0 px (uncalibrated)']);
    expect(r.store.getState().calibration).toBe('uncalibrated');
    expect(r.tools.spacing.has('dicomfile:3')).toBe(false);
  });

  it('drops the reference line when the dialog is cancelled, and a new calibration replaces the old one', async () => {
    const s = setup(dbName());
    const v = s.open();
    v.show(inst(1, 'dicomfile:0'));
    await loaded();
    fire(v.el, EVENTS.completed, 'Calibration', line('c1', 0, 0, 0, 50));
    s.store.answerTextPrompt(undefined);
    expect(s.tools.state.get('dicomfile:0')?.map((i) => i.data.uuid)).toEqual([]);
    expect(s.store.getState().items).toEqual([]);
    fire(v.el, EVENTS.completed, 'Calibration', line('c2', 0, 0, 0, 50));
    s.store.answerTextPrompt('5');
    fire(v.el, EVENTS.completed, 'Calibration', line('c3', 0, 0, 0, 20));
    s.store.answerTextPrompt('4');
    expect(s.store.getState().items.map((i) => i.id)).toEqual(['c3']);
    expect(s.store.getState().calibration).toBe('calibrated manually: 4.0 mm reference');
    // Undo brings the previous calibration back.
    s.store.undo();
    expect(s.store.getState().items.map((i) => i.id)).toEqual(['c2']);
    await saved(s.store);
    expect((await s.db.annotations.toArray()).map((r) => r.id)).toEqual(['c2']);
  });
});

describe('undo and redo', () => {
  it('undoing a creation deletes it from the database and the image; redo puts it back', async () => {
    const s = setup(dbName(), '1\\1');
    const v = s.open();
    v.show(inst(1, 'dicomfile:0'));
    await loaded();
    expect(s.store.getState().canUndo).toBe(false);
    fire(v.el, EVENTS.completed, 'Length', line('a', 0, 0, 10, 0));
    fire(v.el, EVENTS.completed, 'Length', line('b', 0, 0, 20, 0));
    expect(s.store.getState().undoLabel).toBe('Undo draw length');
    s.store.undo();
    expect(s.store.getState().items.map((i) => i.id)).toEqual(['a']);
    expect(s.tools.state.get('dicomfile:0')?.map((i) => i.data.uuid)).toEqual(['a']);
    await saved(s.store);
    expect(await s.db.annotations.get('b')).toBeUndefined();
    expect(s.store.getState().canRedo).toBe(true);
    s.store.redo();
    expect(s.store.getState().items.map((i) => i.id)).toEqual(['a', 'b']);
    await saved(s.store);
    expect((await s.db.annotations.get('b'))?.data).toMatchObject({ handles: { end: { x: 20 } } });
    // A new action after an undo forgets what could be redone.
    s.store.undo();
    fire(v.el, EVENTS.completed, 'Length', line('c', 0, 0, 30, 0));
    expect(s.store.getState().canRedo).toBe(false);
  });

  it('one drag is one step: undo puts the handles back where they were before it; a deletion is undone too', async () => {
    const s = setup(dbName(), '1\\1');
    const v = s.open();
    v.show(inst(1, 'dicomfile:0'));
    await loaded();
    fire(v.el, EVENTS.completed, 'Length', line('a', 0, 0, 10, 0));
    for (const x of [12, 14, 16]) fire(v.el, EVENTS.modified, 'Length', line('a', 0, 0, x, 0));
    fire(v.el, EVENTS.completed, 'Length', line('a', 0, 0, 18, 0));
    expect(s.store.getState().items[0]!.lengthMm).toBe(18);
    expect(s.store.getState().undoLabel).toBe('Undo move length');
    s.store.undo();
    expect(s.store.getState().items[0]!.lengthMm).toBe(10);
    expect(s.tools.state.get('dicomfile:0')?.[0]?.data.handles).toMatchObject({ end: { x: 10 } });
    s.store.remove('a');
    expect(s.store.getState().items).toEqual([]);
    s.store.undo();
    expect(s.store.getState().items.map((i) => i.lengthMm)).toEqual([10]);
    await saved(s.store);
    expect((await s.db.annotations.get('a'))?.data).toMatchObject({ handles: { end: { x: 10 } } });
  });

  it('Ctrl+Z, Ctrl+Y and Ctrl+Shift+Z run undo and redo; Delete removes the selected annotation', async () => {
    const s = setup(dbName(), '1\\1');
    const v = s.open();
    v.show(inst(1, 'dicomfile:0'));
    await loaded();
    const shortcuts = annotationShortcuts(s.store);
    const press = (e: KeyboardEvent): void => shortcuts.find((k) => k.matches(e))?.run();
    fire(v.el, EVENTS.completed, 'Length', line('a', 0, 0, 10, 0));
    press(key('z', { ctrlKey: true }));
    expect(s.store.getState().items).toEqual([]);
    press(key('y', { ctrlKey: true }));
    expect(s.store.getState().items).toHaveLength(1);
    press(key('z', { ctrlKey: true }));
    press(key('Z', { ctrlKey: true, shiftKey: true }));
    expect(s.store.getState().items).toHaveLength(1);
    // The last drawn is selected; Delete removes it.
    expect(s.store.getState().selectedId).toBe('a');
    press(key('Delete'));
    expect(s.store.getState().items).toEqual([]);
    // Tool keys pick the tool; a plain z is not undo.
    press(key('l'));
    expect(s.store.getState().activeTool).toBe('Length');
    press(key('A', { shiftKey: true }));
    expect(s.store.getState().activeTool).toBe('CobbAngle');
    expect(shortcuts.some((k) => k.matches(key('z')))).toBe(false);
  });
});

describe('arrow and free text', () => {
  it("asks for an arrow's text in the app's dialog, stores it, and a text edit is undoable", async () => {
    const name = dbName();
    const s = setup(name);
    const v = s.open();
    v.show(inst(1, 'dicomfile:0'));
    await loaded();
    const arrow = line('arr', 10, 10, 40, 40);
    // What cornerstone-tools does: ask for the text, then complete the measurement with it.
    s.tools.text!.request('ArrowAnnotate', (text) => {
      if (text) fire(v.el, EVENTS.completed, 'ArrowAnnotate', { ...arrow, text });
    });
    expect(s.store.getState().textPrompt).toMatchObject({ label: 'Text of the arrow', numeric: false });
    s.store.answerTextPrompt('  rib fracture ');
    expect(s.store.getState().items[0]).toMatchObject({ kind: 'arrow', label: 'rib fracture' });
    // A double click on it (or Edit in the list) changes the text.
    s.tools.text!.edit('ArrowAnnotate', 'arr');
    expect(s.store.getState().textPrompt?.initial).toBe('rib fracture');
    s.store.answerTextPrompt('old rib fracture');
    expect(s.store.getState().items[0]!.label).toBe('old rib fracture');
    expect(s.tools.state.get('dicomfile:0')?.[0]?.data.text).toBe('old rib fracture');
    s.store.undo();
    expect(s.store.getState().items[0]!.label).toBe('rib fracture');
    await saved(s.store);
    expect((await s.db.annotations.get('arr'))?.data.text).toBe('rib fracture');
  });

  it('keeps a free-text label only once text is typed', async () => {
    const s = setup(dbName());
    const v = s.open();
    v.show(inst(1, 'dicomfile:0'));
    await loaded();
    fire(v.el, EVENTS.completed, 'TextMarker', { uuid: 't1', text: 'Text', handles: { end: { x: 50, y: 50 } } });
    expect(s.store.getState().items).toEqual([]);
    s.store.answerTextPrompt('L');
    expect(s.store.getState().items[0]).toMatchObject({ kind: 'text', label: 'L' });
    expect(s.tools.state.get('dicomfile:0')?.[0]?.data.text).toBe('L');
    await saved(s.store);
    expect((await s.db.annotations.get('t1'))?.data.text).toBe('L');
  });
});

describe('lock and hide', () => {
  it('a locked annotation is marked locked for the tools, cannot be deleted, and a stray move is put back', async () => {
    const name = dbName();
    const s = setup(name, '1\\1');
    const v = s.open();
    v.show(inst(1, 'dicomfile:0'));
    await loaded();
    fire(v.el, EVENTS.completed, 'Length', line('a', 0, 0, 10, 0));
    s.store.setLocked('a', true);
    expect(s.tools.state.get('dicomfile:0')?.[0]?.data.locked).toBe(true);
    s.store.remove('a');
    expect(s.store.getState().items).toHaveLength(1);
    expect(s.store.getState().notice).toMatch(/locked/);
    fire(v.el, EVENTS.modified, 'Length', line('a', 0, 0, 50, 0));
    expect(s.store.getState().items[0]!.lengthMm).toBe(10);
    expect(s.tools.state.get('dicomfile:0')?.[0]?.data.handles).toMatchObject({ end: { x: 10 } });
    await saved(s.store);
    expect(await s.db.annotations.get('a')).toMatchObject({ locked: true, data: { handles: { end: { x: 10 } } } });
    // Undo would delete it: refused while locked.
    s.store.undo();
    expect(s.store.getState().items).toHaveLength(1);
    expect(s.store.getState().notice).toBe('The length is locked: unlock it to undo "draw length".');
    s.store.setLocked('a', false);
    s.store.remove('a');
    expect(s.store.getState().items).toEqual([]);
  });

  it('hide all takes every annotation off the image but keeps them listed; show all brings them back', async () => {
    const s = setup(dbName(), '1\\1');
    const v = s.open();
    v.show(inst(1, 'dicomfile:0'));
    await loaded();
    fire(v.el, EVENTS.completed, 'Length', line('a', 0, 0, 10, 0));
    s.store.setHidden(true);
    expect(s.tools.state.get('dicomfile:0')).toEqual([]);
    expect(s.store.getState().items).toHaveLength(1);
    s.store.setHidden(false);
    expect(s.tools.state.get('dicomfile:0')?.map((i) => i.data.uuid)).toEqual(['a']);
  });
});

describe('key images and author', () => {
  it("flags and unflags the shown instance with the profile's name as author; the flag survives a reload", async () => {
    const name = dbName();
    const s = setup(name, '1\\1');
    await s.db.userProfile.put({ id: 'me', name: 'Dr Ada Osei', credentials: 'MD' });
    const v = s.open();
    v.show(inst(2, 'dicomfile:1'));
    await loaded();
    s.store.toggleKeyImage();
    expect(s.store.getState().isKeyImage).toBe(true);
    fire(v.el, EVENTS.completed, 'Length', line('a', 0, 0, 10, 0));
    await saved(s.store);
    expect(await s.db.keyImages.get('sop2')).toMatchObject({ studyInstanceUID: 'study', seriesInstanceUID: 'series', author: 'Dr Ada Osei' });
    expect((await s.db.annotations.get('a'))?.author).toBe('Dr Ada Osei');
    v.close();

    const r = setup(name, '1\\1');
    const w = r.open();
    w.show(inst(2, 'dicomfile:0'));
    await vi.waitFor(() => expect(r.store.getState().isKeyImage).toBe(true));
    expect(r.store.getState().keyImages.map((k) => k.sopInstanceUID)).toEqual(['sop2']);
    w.show(inst(3, 'dicomfile:1'));
    expect(r.store.getState().isKeyImage).toBe(false);
    w.show(inst(2, 'dicomfile:0'));
    r.store.toggleKeyImage();
    expect(r.store.getState().keyImages).toEqual([]);
    await saved(r.store);
    expect(await r.db.keyImages.count()).toBe(0);
  });

  it('without a profile name the author is the local seam', async () => {
    const s = setup(dbName(), '1\\1');
    const v = s.open();
    v.show(inst(1, 'dicomfile:0'));
    await loaded();
    fire(v.el, EVENTS.completed, 'Length', line('a', 0, 0, 10, 0));
    expect(s.store.getState().items[0]!.author).toBe(LOCAL_AUTHOR);
  });
});

describe('several viewports', () => {
  it('attributes each viewport’s drawings to its own instance; focus picks what the panel lists and what undo acts on', async () => {
    const s = setup(dbName(), '1\\1');
    const left = s.open();
    const right = s.open();
    left.show(inst(1, 'dicomfile:0'));
    right.show(inst(2, 'dicomfile:1'));
    await loaded();
    fire(left.el, EVENTS.completed, 'Length', line('l', 0, 0, 10, 0));
    fire(right.el, EVENTS.completed, 'Length', line('r', 0, 0, 20, 0));
    await saved(s.store);
    expect((await s.db.annotations.get('l'))?.sopInstanceUID).toBe('sop1');
    expect((await s.db.annotations.get('r'))?.sopInstanceUID).toBe('sop2');
    // Drawing in a viewport focuses it.
    expect(s.store.getState().items.map((i) => i.id)).toEqual(['r']);
    s.store.focus(left.el);
    expect(s.store.getState().items.map((i) => i.id)).toEqual(['l']);
    s.store.toggleKeyImage();
    await saved(s.store);
    expect((await s.db.keyImages.toArray()).map((k) => k.sopInstanceUID)).toEqual(['sop1']);
    // Undo takes back the study's last step wherever it was drawn; each viewport's tool state follows.
    s.store.undo();
    expect(s.tools.state.get('dicomfile:1')).toEqual([]);
    expect(s.tools.state.get('dicomfile:0')?.map((i) => i.data.uuid)).toEqual(['l']);
    // Scrolling the right viewport to instance 1 shows the left's measurement there too.
    right.show(inst(1, 'dicomfile:2'));
    expect(s.tools.state.get('dicomfile:2')?.map((i) => i.data.uuid)).toEqual(['l']);
    // Closing one viewport leaves the other working and focused.
    left.close();
    expect(s.store.getState().items.map((i) => i.id)).toEqual(['l']);
    fire(right.el, EVENTS.completed, 'Length', line('r2', 0, 0, 5, 0));
    expect(s.store.getState().items.map((i) => i.id)).toEqual(['l', 'r2']);
  });
});
