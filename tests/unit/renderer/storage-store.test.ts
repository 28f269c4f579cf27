// @vitest-environment node
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { CacheBudget } from '../../../src/renderer/cache/cache-budget';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { createStorageStore, MB } from '../../../src/renderer/storage/storage-store';
import type { StorageStore } from '../../../src/renderer/storage/storage-store';
import { createLogger, memorySink } from '../../../src/shared/log';
import { testRowSealer } from '../../support/test-sealer';
import { deleteDbsAfterEach } from '../../support/test-dbs';

const dbs = deleteDbsAfterEach();
let counter = 0;

const KB = 1024;

async function setup(): Promise<{ db: TeleradDB; cache: StudyCache; store: StorageStore; open: Set<string>; changes: { n: number } }> {
  const db = new TeleradDB(`telerad-storage-${process.pid}-${Date.now()}-${counter++}`, { sealer: testRowSealer() });
  dbs.push(db);
  const open = new Set<string>();
  const changes = { n: 0 };
  const log = createLogger('storage', memorySink());
  const isOpen = (uid: string): boolean => open.has(uid);
  const budget = new CacheBudget({
    db,
    log,
    storage: { estimate: async () => ({ quota: 4000 * MB, usage: 12 * KB }), persisted: async () => false, persist: async () => true },
    isOpen,
    hasUnsentWork: () => false,
  });
  await budget.start();
  const cache = new StudyCache(db, Date.now, budget);
  const names: Record<string, string> = { 'hospital-a': 'Hospital A', 'clinic-b': 'Clinic B' };
  const store = createStorageStore({ db, budget, isOpen, siteName: (id) => names[id], onCacheChanged: () => changes.n++, log });
  return { db, cache, store, open, changes };
}

async function storeStudy(cache: StudyCache, siteId: string, uid: string, stored: number, total: number): Promise<void> {
  await cache.upsertStudy({
    studyInstanceUID: uid,
    siteId,
    patientName: `PATIENT^${uid}`,
    patientId: uid,
    studyDate: '20250101',
    modalities: ['CT'],
    description: 'CT HEAD',
    numInstances: total,
  });
  for (let i = 0; i < stored; i++) {
    await cache.putInstance(
      { sopInstanceUID: `${uid}.${i}`, studyInstanceUID: uid, seriesInstanceUID: `${uid}.s`, transferSyntaxUID: '1.2.840.10008.1.2.1' },
      new Uint8Array(KB).buffer,
    );
  }
  await cache.markComplete(uid);
}

describe('storage store', () => {
  it('shows usage per site and per case, the default budget, the quota and the persisted state', async () => {
    const { cache, store } = await setup();
    await storeStudy(cache, 'hospital-a', 'a1', 3, 3);
    await storeStudy(cache, 'hospital-a', 'a2', 1, 4);
    await storeStudy(cache, 'clinic-b', 'b1', 2, 2);
    await store.refresh();
    const s = store.getState();
    expect(s.usedBytes).toBe(6 * KB);
    expect(s.budgetBytes).toBe(2000 * MB);
    expect(s.budgetIsDefault).toBe(true);
    expect(s.browser).toEqual({ quota: 4000 * MB, usage: 12 * KB, persisted: true });
    expect(s.sites).toEqual([
      { siteId: 'hospital-a', siteName: 'Hospital A', bytes: 4 * KB, cases: 2 },
      { siteId: 'clinic-b', siteName: 'Clinic B', bytes: 2 * KB, cases: 1 },
    ]);
    expect(s.cases.find((c) => c.studyInstanceUID === 'a2')).toMatchObject({ bytes: KB, instancesStored: 1, instancesTotal: 4, complete: false });
    expect(s.cases.find((c) => c.studyInstanceUID === 'a1')).toMatchObject({ instancesStored: 3, instancesTotal: 3, complete: true });
  });

  it('pins, evicts and sets the budget in MB', async () => {
    const { cache, store, changes } = await setup();
    await storeStudy(cache, 'hospital-a', 'a1', 1, 1);
    await storeStudy(cache, 'hospital-a', 'a2', 1, 1);
    await store.setPinned('a1', true);
    expect(store.getState().cases.find((c) => c.studyInstanceUID === 'a1')?.pinned).toBe(true);
    await store.evict('a2');
    expect(store.getState().cases.map((c) => c.studyInstanceUID)).toEqual(['a1']);
    expect(changes.n).toBe(1);
    await store.setBudgetMB(500);
    expect(store.getState()).toMatchObject({ budgetBytes: 500 * MB, budgetIsDefault: false });
    await store.setBudgetMB(0);
    expect(store.getState().error).toMatch(/above 0/);
  });

  it('refuses to evict the open case', async () => {
    const { cache, store, open } = await setup();
    await storeStudy(cache, 'hospital-a', 'a1', 1, 1);
    open.add('a1');
    await store.evict('a1');
    expect(store.getState().error).toMatch(/open in the viewer/);
    expect(store.getState().cases).toHaveLength(1);
  });

  it('clear all asks first, then keeps only the open case', async () => {
    const { cache, store, open } = await setup();
    await storeStudy(cache, 'hospital-a', 'open', 1, 1);
    await storeStudy(cache, 'hospital-a', 'pinned', 1, 1);
    await storeStudy(cache, 'clinic-b', 'other', 1, 1);
    await store.setPinned('pinned', true);
    open.add('open');
    store.askClearAll();
    expect(store.getState().confirmingClear).toBe(true);
    store.cancelClearAll();
    expect(store.getState().cases).toHaveLength(3);
    store.askClearAll();
    await store.confirmClearAll();
    expect(store.getState().confirmingClear).toBe(false);
    expect(store.getState().cases.map((c) => c.studyInstanceUID)).toEqual(['open']);
  });
});
