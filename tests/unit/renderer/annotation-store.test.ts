import 'fake-indexeddb/auto';
import type { Image } from 'cornerstone-core';
import type { MeasurementData } from 'cornerstone-tools';
import { describe, expect, it, vi } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { createAnnotationRepo } from '../../../src/renderer/viewer/annotations/annotation-repo';
import { LOCAL_AUTHOR, createMeasurementStore } from '../../../src/renderer/viewer/annotations/measurement-store';
import type { DisplayedImages } from '../../../src/renderer/viewer/annotations/measurement-store';
import type { ToolsRuntime } from '../../../src/renderer/viewer/tools-setup';
import type { DisplayedInstance } from '../../../src/renderer/viewer/viewer-store';
import { testRowSealer } from '../../support/test-sealer';
import { deleteDbsAfterEach } from '../../support/test-dbs';

// The store against a real (fake-indexeddb) database; cornerstone-tools is
// replaced by what the store sees of it: events on the element and a tool state.
const EVENTS = { completed: 'completed', modified: 'modified', removed: 'removed' };
const dbs = deleteDbsAfterEach();

function fakeTools(): ToolsRuntime & { state: Map<string, { tool: string; data: MeasurementData }[]> } {
  const state = new Map<string, { tool: string; data: MeasurementData }[]>();
  return {
    EVENTS,
    state,
    setActiveTool: () => undefined,
    clearAll: () => state.clear(),
    replaceImageState: (_el, imageId, items) => void state.set(imageId, items),
    removeMeasurement: (_el, _tool, uuid) => {
      for (const [k, v] of state) state.set(k, v.filter((i) => i.data.uuid !== uuid));
    },
    setTextHandlers: () => undefined,
    setManualSpacing: () => undefined,
  };
}

function image(imageId: string): Image {
  const pixels = new Int16Array(100 * 100).fill(1064); // 40 HU everywhere
  const tags: Record<string, string> = { x00280030: '0.5\\0.5', x00080060: 'CT' };
  return {
    imageId, rows: 100, columns: 100, minPixelValue: 0, maxPixelValue: 2000, slope: 1, intercept: -1024, color: false,
    getPixelData: () => pixels,
    data: { string: (tag: string) => tags[tag] },
  };
}

function setup(name: string): {
  db: TeleradDB;
  open(): { el: HTMLElement; close: () => void; show: (d: DisplayedInstance) => void };
  store: ReturnType<typeof createMeasurementStore>;
  tools: ReturnType<typeof fakeTools>;
} {
  const db = new TeleradDB(name, { sealer: testRowSealer() });
  dbs.push(db);
  const tools = fakeTools();
  let current: Image | undefined;
  const store = createMeasurementStore({
    tools,
    repo: createAnnotationRepo(db),
    getImage: () => current,
    now: () => 1000,
    log: createLogger('t', memorySink()),
  });
  return {
    db,
    tools,
    store,
    open() {
      const el = new EventTarget() as HTMLElement;
      let shown: DisplayedInstance | undefined;
      const subs = new Set<() => void>();
      const images: DisplayedImages = { displayed: () => shown, subscribe: (l) => (subs.add(l), () => subs.delete(l)) };
      const close = store.attach(el, 'study', images);
      return {
        el,
        close,
        show(d) {
          shown = d;
          current = image(d.imageId);
          for (const l of subs) l();
        },
      };
    },
  };
}

const inst = (n: number, imageId: string): DisplayedInstance => ({ studyInstanceUID: 'study', seriesInstanceUID: 'series', sopInstanceUID: `sop${n}`, imageId });
const fire = (el: HTMLElement, type: string, toolName: string, data: MeasurementData): void =>
  void el.dispatchEvent(new CustomEvent(type, { detail: { toolName, measurementData: data } }));
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 30));

describe('measurement store', () => {
  it('stores a completed length by instance with the local author and shows it in mm; a new open restores it into the tool state', async () => {
    const name = `annotations-${Math.random()}`;
    const a = setup(name);
    const v = a.open();
    v.show(inst(1, 'dicomfile:0'));
    await settle();
    const data: MeasurementData = { uuid: 'u1', handles: { start: { x: 10, y: 10 }, end: { x: 30, y: 10 } } };
    fire(v.el, EVENTS.completed, 'Length', data);
    expect(a.store.getState().items).toMatchObject([{ id: 'u1', kind: 'length', text: '10.0 mm', lengthMm: 10 }]);
    expect(a.store.getState().pendingWrites).toBe(1); // the view says when the write has landed
    await vi.waitFor(() => expect(a.store.getState().pendingWrites).toBe(0));
    const rec = await a.db.annotations.get('u1');
    expect(rec).toMatchObject({ sopInstanceUID: 'sop1', studyInstanceUID: 'study', tool: 'Length', author: LOCAL_AUTHOR, createdAt: 1000 });
    v.close();
    a.db.close();

    // As after a reload: a fresh store, the same database, another imageId for the same instance.
    const b = setup(name);
    const w = b.open();
    w.show(inst(2, 'dicomfile:0'));
    await settle();
    expect(b.store.getState().items).toEqual([]);
    expect(b.tools.state.get('dicomfile:0')).toEqual([]);
    w.show(inst(1, 'dicomfile:5'));
    await settle();
    expect(b.tools.state.get('dicomfile:5')?.map((i) => i.data.uuid)).toEqual(['u1']);
    expect(b.store.getState().items.map((i) => i.text)).toEqual(['10.0 mm']);
  });

  it('an ellipse reports mean HU; modifying updates the record, deleting removes it from the database and the tool state', async () => {
    const s = setup(`annotations-${Math.random()}`);
    const v = s.open();
    v.show(inst(1, 'dicomfile:0'));
    await settle();
    const data: MeasurementData = { uuid: 'e1', handles: { start: { x: 10, y: 10 }, end: { x: 40, y: 30 } } };
    // While it is drawn: modified events for a measurement not yet complete are not stored.
    fire(v.el, EVENTS.modified, 'EllipticalRoi', data);
    await settle();
    expect(await s.db.annotations.count()).toBe(0);
    fire(v.el, EVENTS.completed, 'EllipticalRoi', data);
    const item = s.store.getState().items[0]!;
    expect(item.kind).toBe('ellipse');
    expect(item.mean).toBe(40);
    expect(item.text).toContain('mean 40.0 HU');
    fire(v.el, EVENTS.modified, 'EllipticalRoi', { ...data, handles: { start: { x: 10, y: 10 }, end: { x: 50, y: 30 } } });
    await settle();
    const stored = await s.db.annotations.get('e1');
    expect(stored?.data).toMatchObject({ handles: { end: { x: 50 } } });
    // What a report signed later states: the ROI's figures from the decoded pixels, in HU.
    expect(stored?.pixelFigures).toEqual({ stats: { mean: 40, stdDev: 0, min: 40, max: 40 }, modality: 'CT' });
    s.store.remove('e1');
    expect(s.store.getState().items).toEqual([]);
    await settle();
    expect(await s.db.annotations.count()).toBe(0);
  });
});
