// @vitest-environment node
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTransfersStore } from '../../../src/renderer/cache/transfers-store';
import type { TransferSnapshot } from '../../../src/renderer/cache/transfers-store';
import { streamingLabel } from '../../../src/renderer/worklist/WorklistView';

// The transfers panel's side of progressive reading: pause and continue, and
// the previews figure beside the lossless one (also on the worklist row).

const init = { studyInstanceUID: '1.2.3', siteId: 'a', siteName: 'Hospital A', label: 'TESTER · CT CHEST' };
const other = { ...init, studyInstanceUID: '1.2.4', label: 'OTHER · CT HEAD' };

afterEach(() => {
  vi.useRealTimers();
});

const row = (store: ReturnType<typeof createTransfersStore>, uid = init.studyInstanceUID): TransferSnapshot | undefined =>
  store.getState().transfers.find((t) => t.studyInstanceUID === uid);

describe('transfers store: pause and continue', () => {
  it('pauses a running transfer through its retrieval and carries it on; the row says so', () => {
    const store = createTransfersStore();
    const pause = vi.fn();
    const h = store.begin(init, { cancel: () => undefined, pause });
    h.progress(2, 10);
    expect(row(store)).toMatchObject({ state: 'running', pausable: true });
    store.setPaused(init.studyInstanceUID, true);
    expect(pause).toHaveBeenLastCalledWith(true);
    expect(row(store)).toMatchObject({ state: 'paused', pausable: true });
    expect(store.getState().active).toBe(1); // still under way: nothing was thrown away
    store.setPaused(init.studyInstanceUID, false);
    expect(pause).toHaveBeenLastCalledWith(false);
    expect(row(store)?.state).toBe('running');
  });

  it('stays paused while the requests that were in flight land', () => {
    const store = createTransfersStore();
    const h = store.begin(init, { cancel: () => undefined, pause: () => undefined });
    h.progress(2, 10);
    store.setPaused(init.studyInstanceUID, true);
    h.addBytes(5000);
    h.progress(3, 10);
    expect(row(store)).toMatchObject({ state: 'paused', instancesDone: 3 });
  });

  it('tells the retrieval once per change: a second pause (or continue) does nothing', () => {
    const store = createTransfersStore();
    const pause = vi.fn();
    store.begin(init, { cancel: () => undefined, pause }).progress(0, 4);
    store.setPaused(init.studyInstanceUID, true);
    store.setPaused(init.studyInstanceUID, true);
    store.setPaused(init.studyInstanceUID, false);
    store.setPaused(init.studyInstanceUID, false);
    expect(pause.mock.calls).toEqual([[true], [false]]);
  });

  it('cannot pause a transfer without a pause control, nor one that has finished', () => {
    const store = createTransfersStore();
    const h = store.begin(init, { cancel: () => undefined });
    h.progress(1, 4);
    expect(row(store)?.pausable).toBe(false);
    store.setPaused(init.studyInstanceUID, true);
    expect(row(store)?.state).toBe('running');

    const pause = vi.fn();
    const again = store.begin(other, { cancel: () => undefined, pause });
    again.finish('done');
    expect(row(store, other.studyInstanceUID)).toMatchObject({ state: 'done', pausable: false });
    store.setPaused(other.studyInstanceUID, true);
    expect(pause).not.toHaveBeenCalled();
    expect(row(store, other.studyInstanceUID)?.state).toBe('done');
  });

  it('leaves a paused transfer out of the total bandwidth and gives it no ETA', () => {
    let t = 0;
    vi.useFakeTimers();
    const store = createTransfersStore({ now: () => t, windowMs: 5000, notifyIntervalMs: 0 });
    const a = store.begin(init, { cancel: () => undefined, pause: () => undefined });
    const b = store.begin(other, { cancel: () => undefined, pause: () => undefined });
    for (let s = 1; s <= 4; s++) {
      t = s * 1000;
      a.addBytes(1_000_000);
      b.addBytes(500_000);
      a.progress(s, 10);
      b.progress(s, 10);
    }
    expect(store.getState().bandwidthBps).toBe(1_500_000);
    expect(row(store)?.etaSeconds).toBeDefined();
    store.setPaused(init.studyInstanceUID, true);
    expect(store.getState().bandwidthBps).toBe(500_000);
    expect(row(store)?.etaSeconds).toBeUndefined();
    expect(store.getState().active).toBe(2);
  });

  it('a cancel of a paused transfer still reaches its retrieval', () => {
    const store = createTransfersStore();
    const cancel = vi.fn();
    store.begin(init, { cancel, pause: () => undefined }).progress(0, 3);
    store.setPaused(init.studyInstanceUID, true);
    store.cancel(init.studyInstanceUID);
    expect(cancel).toHaveBeenCalledOnce();
  });
});

describe('transfers store: previews', () => {
  it('starts with no previews and shows the previews figure the retrieval reports', () => {
    vi.useFakeTimers();
    const store = createTransfersStore({ notifyIntervalMs: 0 });
    const h = store.begin(init, { cancel: () => undefined });
    expect(row(store)).toMatchObject({ previewsDone: 0, previewsTotal: 0 });
    h.progress(0, 300);
    h.previews(12, 300);
    vi.advanceTimersByTime(1000);
    expect(row(store)).toMatchObject({ previewsDone: 12, previewsTotal: 300, instancesDone: 0 });
    h.previews(300, 300);
    h.progress(37, 300);
    expect(row(store)).toMatchObject({ previewsDone: 300, previewsTotal: 300, instancesDone: 37 });
  });

  it('keeps the figures of a finished transfer, and ignores a late report', () => {
    vi.useFakeTimers();
    const store = createTransfersStore({ notifyIntervalMs: 0 });
    const h = store.begin(init, { cancel: () => undefined });
    h.progress(5, 10);
    h.previews(10, 10);
    h.finish('failed', 'Hospital A: unreachable');
    expect(row(store)).toMatchObject({ state: 'failed', previewsDone: 10, previewsTotal: 10 });
    h.previews(1, 1);
    vi.advanceTimersByTime(1000);
    expect(row(store)).toMatchObject({ previewsDone: 10, previewsTotal: 10 });
  });
});

describe('the worklist row of a study streaming in', () => {
  const t = (over: Partial<TransferSnapshot>): TransferSnapshot => ({
    ...init,
    state: 'running',
    instancesDone: 37,
    instancesTotal: 300,
    previewsDone: 300,
    previewsTotal: 300,
    bytes: 0,
    bandwidthBps: 0,
    startedAt: 0,
    resumable: false,
    pausable: true,
    ...over,
  });

  it('says the preview is ready once every preview is in, with the lossless count', () => {
    expect(streamingLabel(t({}))).toBe('preview ready · 37 of 300 lossless');
  });

  it('counts previews while they arrive', () => {
    expect(streamingLabel(t({ previewsDone: 12 }))).toBe('previews 12/300 · 37 of 300 lossless');
  });

  it('shows only the lossless count when no previews are asked (the site does not render, or prefetch)', () => {
    expect(streamingLabel(t({ previewsDone: 0, previewsTotal: 0, instancesDone: 5 }))).toBe('5 of 300 lossless');
  });
});

describe('transfers store: figures as they change', () => {
  it('publishes a previews figure within notifyIntervalMs while the transfer runs, not only at the 1 s heartbeat', () => {
    vi.useFakeTimers();
    const store = createTransfersStore({ notifyIntervalMs: 0 });
    const h = store.begin(init, { cancel: () => undefined });
    h.progress(0, 300);
    h.previews(12, 300);
    vi.advanceTimersByTime(10);
    expect(row(store)?.previewsDone).toBe(12);
  });
});
