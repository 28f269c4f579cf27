// @vitest-environment node
import { describe, expect, it, vi } from 'vitest';
import { createTransfersStore } from '../../../src/renderer/cache/transfers-store';

const init = { studyInstanceUID: '1.2.3', siteId: 'a', siteName: 'Hospital A', label: 'TESTER · CT CHEST' };

describe('transfers store', () => {
  it('shows progress, bytes, bandwidth over the last window and an ETA, then the final state', () => {
    let t = 0;
    const store = createTransfersStore({ now: () => t, windowMs: 5000, notifyIntervalMs: 0 });
    vi.useFakeTimers();
    try {
      const h = store.begin(init, { cancel: () => undefined });
      expect(store.getState()).toMatchObject({ active: 1 });
      expect(store.getState().transfers[0]).toMatchObject({ state: 'queued', instancesDone: 0 });
      h.progress(0, 10);
      // 1 MB per second for 4 s, one instance per second.
      for (let s = 1; s <= 4; s++) {
        t = s * 1000;
        h.addBytes(1_000_000);
        h.progress(s, 10);
      }
      vi.advanceTimersByTime(1);
      const row = store.getState().transfers[0]!;
      expect(row).toMatchObject({ state: 'running', instancesDone: 4, instancesTotal: 10, bytes: 4_000_000 });
      expect(row.bandwidthBps).toBe(1_000_000);
      expect(row.etaSeconds).toBe(6);

      // The link stalls: after a window without bytes, the bandwidth shows 0 and there is no ETA.
      t = 20_000;
      vi.advanceTimersByTime(2000);
      expect(store.getState().transfers[0]).toMatchObject({ bandwidthBps: 0 });
      expect(store.getState().transfers[0]!.etaSeconds).toBeUndefined();

      h.noteError('Hospital A: timed out while retrieving instance 9 by WADO-RS');
      h.finish('failed');
      expect(store.getState().transfers[0]).toMatchObject({ state: 'failed', lastError: 'Hospital A: timed out while retrieving instance 9 by WADO-RS', resumable: false });
      expect(store.getState().active).toBe(0);
      h.progress(10, 10); // late calls of a finished transfer change nothing
      expect(store.getState().transfers[0]!.instancesDone).toBe(4);
    } finally {
      vi.useRealTimers();
    }
  });

  it('cancel and resume go to the retrieval that owns the row; a restart replaces the row', () => {
    const store = createTransfersStore();
    const cancel = vi.fn();
    const resume = vi.fn();
    const h = store.begin(init, { cancel, resume });
    store.cancel(init.studyInstanceUID);
    expect(cancel).toHaveBeenCalledOnce();
    h.finish('cancelled');
    expect(store.getState().transfers[0]).toMatchObject({ state: 'cancelled', resumable: true });
    store.resume(init.studyInstanceUID);
    expect(resume).toHaveBeenCalledOnce();
    const again = store.begin(init, { cancel: () => undefined });
    h.progress(3, 3); // the old run's handle no longer writes
    again.progress(1, 3);
    expect(store.getState().transfers).toHaveLength(1);
    expect(store.getState().transfers[0]).toMatchObject({ state: 'running', instancesDone: 1 });
  });
});
