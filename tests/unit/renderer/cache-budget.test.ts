// @vitest-environment node
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { CacheBudget, CacheFullError, chooseEvictions, defaultBudget, DEFAULT_BUDGET_FALLBACK_BYTES, DEFAULT_BUDGET_MAX_BYTES } from '../../../src/renderer/cache/cache-budget';
import type { EvictionCandidate } from '../../../src/renderer/cache/cache-budget';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import type { InstanceMeta } from '../../../src/renderer/cache/study-cache';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { createLogger, memorySink } from '../../../src/shared/log';
import { testRowSealer } from '../../support/test-sealer';
import { deleteDbsAfterEach } from '../../support/test-dbs';

function candidate(uid: string, over: Partial<EvictionCandidate> = {}): EvictionCandidate {
  return { studyInstanceUID: uid, storedBytes: 100, reported: false, pinned: false, open: false, unsentWork: false, ...over };
}

describe('chooseEvictions', () => {
  it('evicts nothing while the cache is within budget', () => {
    expect(chooseEvictions([candidate('a')], { budget: 1000, used: 100, incoming: 900 })).toEqual([]);
  });

  it('evicts reported cases first, least recently used first, then other closed cases by age', () => {
    const studies = [
      candidate('new-unreported', { lastAccessedAt: 50 }),
      candidate('old-unreported', { lastAccessedAt: 1 }),
      candidate('new-reported', { reported: true, lastAccessedAt: 40 }),
      candidate('old-reported', { reported: true, lastAccessedAt: 10 }),
    ];
    // 100 bytes over: the single oldest reported case is enough.
    expect(chooseEvictions(studies, { budget: 300, used: 400 })).toEqual(['old-reported']);
    // 250 over: both reported cases, then the oldest unreported one — never the newer unreported.
    expect(chooseEvictions(studies, { budget: 150, used: 400 })).toEqual(['old-reported', 'new-reported', 'old-unreported']);
  });

  it('never evicts pinned, open or unsent-work cases, nor the study being written', () => {
    const studies = [
      candidate('pinned', { pinned: true, reported: true, lastAccessedAt: 1 }),
      candidate('open', { open: true, reported: true, lastAccessedAt: 2 }),
      candidate('draft', { unsentWork: true, reported: true, lastAccessedAt: 3 }),
      candidate('writing', { reported: true, lastAccessedAt: 4 }),
      candidate('free', { lastAccessedAt: 99 }),
    ];
    expect(chooseEvictions(studies, { budget: 0, used: 500, exclude: 'writing' })).toEqual(['free']);
  });

  it('counts a study never accessed as the oldest', () => {
    const studies = [candidate('seen', { reported: true, lastAccessedAt: 5 }), candidate('never', { reported: true })];
    expect(chooseEvictions(studies, { budget: 100, used: 200 })).toEqual(['never']);
  });
});

describe('defaultBudget', () => {
  it('takes half the browser quota, capped, with a fallback when there is no estimate', () => {
    expect(defaultBudget(10e9)).toBe(5e9);
    expect(defaultBudget(1e13)).toBe(DEFAULT_BUDGET_MAX_BYTES);
    expect(defaultBudget(undefined)).toBe(DEFAULT_BUDGET_FALLBACK_BYTES);
    expect(defaultBudget(0)).toBe(DEFAULT_BUDGET_FALLBACK_BYTES);
  });
});

const dbs = deleteDbsAfterEach();
let counter = 0;

const KB = 1024;

interface Fixture {
  db: TeleradDB;
  cache: StudyCache;
  budget: CacheBudget;
  open: Set<string>;
  clock: { t: number };
  evicted: string[];
}

function setup(opts: { budgetBytes?: number; quota?: number } = {}): Fixture {
  const db = new TeleradDB(`telerad-budget-${process.pid}-${Date.now()}-${counter++}`, { sealer: testRowSealer() });
  dbs.push(db);
  const open = new Set<string>();
  const clock = { t: 1000 };
  const evicted: string[] = [];
  const budget = new CacheBudget({
    db,
    log: createLogger('budget', memorySink()),
    storage: { estimate: async () => ({ ...(opts.quota !== undefined ? { quota: opts.quota } : {}), usage: 0 }), persist: async () => true },
    isOpen: (uid) => open.has(uid),
    hasUnsentWork: () => false,
    onEvicted: (uids) => evicted.push(...uids),
  });
  const cache = new StudyCache(db, () => clock.t, budget);
  return { db, cache, budget, open, clock, evicted };
}

/** Stores a study of `n` instances of 1 KB each, accessed at `accessedAt`. */
async function storeStudy(f: Fixture, uid: string, n: number, opts: { accessedAt: number; reported?: boolean; pinned?: boolean }): Promise<void> {
  await f.cache.upsertStudy({
    studyInstanceUID: uid,
    siteId: 'hospital-a',
    patientName: `PATIENT ${uid}`,
    patientId: uid,
    studyDate: '20250101',
    modalities: ['CT'],
    description: 'CT',
    numInstances: n,
  });
  await f.cache.putSeries([{ seriesInstanceUID: `${uid}.1`, studyInstanceUID: uid, modality: 'CT', description: '' }]);
  for (let i = 0; i < n; i++) {
    await f.cache.putInstance(
      { sopInstanceUID: `${uid}.1.${i}`, studyInstanceUID: uid, seriesInstanceUID: `${uid}.1`, transferSyntaxUID: '1.2.840.10008.1.2.1' },
      new Uint8Array(KB).fill(i).buffer,
    );
  }
  await f.cache.markComplete(uid);
  await f.db.studies.update(uid, { lastAccessedAt: opts.accessedAt, ...(opts.pinned ? { pinned: true } : {}) });
  if (opts.reported) {
    await f.db.referrals.put({ studyInstanceUID: uid, siteId: 'hospital-a', attachments: [], hasReport: true, fetchedAt: 0 });
  }
}

async function rowsOf(db: TeleradDB, uid: string): Promise<number[]> {
  const sops = (await db.instances.where('studyInstanceUID').equals(uid).primaryKeys()) as string[];
  return [
    sops.length,
    (await db.instanceBytes.bulkGet(sops.length ? sops : [`${uid}.1.0`])).filter(Boolean).length,
    await db.series.where('studyInstanceUID').equals(uid).count(),
    (await db.studies.get(uid)) ? 1 : 0,
  ];
}

describe('CacheBudget with a tiny budget', () => {
  it('keeps storedBytes with every write and evicts the least recently used reported case first', async () => {
    const f = setup();
    await f.budget.setBudget(10 * KB);
    await storeStudy(f, 'reported-old', 3, { accessedAt: 100, reported: true });
    await storeStudy(f, 'reported-new', 3, { accessedAt: 200, reported: true });
    await storeStudy(f, 'unreported-oldest', 3, { accessedAt: 50 });
    expect((await f.db.studies.get('reported-old'))?.storedBytes).toBe(3 * KB);
    expect(await f.budget.usedBytes()).toBe(9 * KB);

    // 2 KB more than the 1 KB left: one case must go, and it is the older reported one.
    await storeStudy(f, 'incoming', 2, { accessedAt: 300 });
    expect(f.evicted).toEqual(['reported-old']);
    expect(await rowsOf(f.db, 'reported-old')).toEqual([0, 0, 0, 0]);
    expect(await rowsOf(f.db, 'reported-new')).toEqual([3, 3, 1, 1]);
    expect(await rowsOf(f.db, 'unreported-oldest')).toEqual([3, 3, 1, 1]);
    expect(await f.budget.usedBytes()).toBeLessThanOrEqual(10 * KB);
  });

  it('never evicts pinned or open cases, and says so clearly when nothing else can go', async () => {
    const f = setup();
    await f.budget.setBudget(6 * KB);
    await storeStudy(f, 'pinned', 3, { accessedAt: 1, reported: true, pinned: true });
    await storeStudy(f, 'open', 3, { accessedAt: 2, reported: true });
    f.open.add('open');

    const err = await storeStudy(f, 'incoming', 1, { accessedAt: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CacheFullError);
    expect((err as Error).message).toBe('Local storage is full: 0.0 MB used of 0.0 MB budget; unpin or evict cases in Storage');
    expect(f.evicted).toEqual([]);
    expect(await rowsOf(f.db, 'pinned')).toEqual([3, 3, 1, 1]);
    expect(await rowsOf(f.db, 'open')).toEqual([3, 3, 1, 1]);
    // The refused instance left nothing behind, and its study is not complete.
    expect(await f.db.instances.where('studyInstanceUID').equals('incoming').count()).toBe(0);
    expect((await f.db.studies.get('incoming'))?.complete).toBe(false);
  });

  it('on the browser quota error evicts and retries the write once', async () => {
    const f = setup();
    await storeStudy(f, 'reported', 2, { accessedAt: 1, reported: true });
    await storeStudy(f, 'kept', 2, { accessedAt: 2 });
    // The browser refuses the next write once, as Chromium does when the origin's quota is used up.
    let refusals = 1;
    f.db.instanceBytes.hook('creating', () => {
      if (refusals-- > 0) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    });
    await storeStudy(f, 'incoming', 1, { accessedAt: 3 });
    expect(f.evicted).toEqual(['reported']);
    expect(await rowsOf(f.db, 'incoming')).toEqual([1, 1, 1, 1]);
    expect(await rowsOf(f.db, 'kept')).toEqual([2, 2, 1, 1]);
  });

  it('gives the storage-full message when the browser refuses again after eviction', async () => {
    const f = setup();
    await f.budget.setBudget(100 * 1024 * KB);
    await storeStudy(f, 'reported', 2, { accessedAt: 1, reported: true });
    f.db.instanceBytes.hook('creating', () => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    });
    const err = await storeStudy(f, 'incoming', 1, { accessedAt: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CacheFullError);
    expect((err as Error).message).toBe('Local storage is full: 0.0 MB used of 100 MB budget; unpin or evict cases in Storage');
  });
});

describe('a batch of instances under the budget', () => {
  const batch = (uid: string, n: number): Array<{ meta: InstanceMeta; bytes: ArrayBuffer }> =>
    Array.from({ length: n }, (_, i) => ({
      meta: { sopInstanceUID: `${uid}.1.${i}`, studyInstanceUID: uid, seriesInstanceUID: `${uid}.1`, transferSyntaxUID: '1.2.840.10008.1.2.1' },
      bytes: new Uint8Array(KB).fill(i).buffer,
    }));

  it('makes room for the whole batch: evicts the least recently used reported case, then stores all of it', async () => {
    const f = setup();
    await f.budget.setBudget(10 * KB);
    await storeStudy(f, 'reported-old', 3, { accessedAt: 100, reported: true });
    await storeStudy(f, 'unreported', 4, { accessedAt: 50 });
    await storeStudy(f, 'incoming', 0, { accessedAt: 300 });
    // 3 KB free, 5 KB coming in one batch: one case must go first.
    await f.cache.putInstances(batch('incoming', 5));
    expect(f.evicted).toEqual(['reported-old']);
    expect((await f.db.studies.get('incoming'))?.storedBytes).toBe(5 * KB);
    expect(await rowsOf(f.db, 'unreported')).toEqual([4, 4, 1, 1]);
  });

  it('refuses a batch that cannot fit with CacheFullError and stores none of it', async () => {
    const f = setup();
    await f.budget.setBudget(6 * KB);
    await storeStudy(f, 'pinned', 4, { accessedAt: 1, reported: true, pinned: true });
    await storeStudy(f, 'incoming', 0, { accessedAt: 2 });
    const err = await f.cache.putInstances(batch('incoming', 3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CacheFullError);
    expect(await f.db.instances.where('studyInstanceUID').equals('incoming').count()).toBe(0);
    expect((await f.db.studies.get('incoming'))?.storedBytes).toBe(0);
    expect(await rowsOf(f.db, 'pinned')).toEqual([4, 4, 1, 1]);
  });

  it('on the browser quota error part-way through a batch evicts and writes the whole batch again', async () => {
    const f = setup();
    await storeStudy(f, 'reported', 4, { accessedAt: 1, reported: true });
    await storeStudy(f, 'incoming', 0, { accessedAt: 2 });
    let calls = 0;
    f.db.instanceBytes.hook('creating', () => {
      // The third instance of the first try is refused.
      if (++calls === 3) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    });
    await f.cache.putInstances(batch('incoming', 3));
    expect(f.evicted).toEqual(['reported']);
    expect(await rowsOf(f.db, 'incoming')).toEqual([3, 3, 1, 1]);
    expect((await f.db.studies.get('incoming'))?.storedBytes).toBe(3 * KB);
  });
});

describe('eviction and clear all', () => {
  it('evicts every row of a case in one transaction: a failure part-way leaves the case whole', async () => {
    const f = setup();
    await storeStudy(f, 'case', 3, { accessedAt: 1 });
    // Fail the last delete of the transaction (the study row).
    const hook = (): void => {
      throw new Error('disk error');
    };
    f.db.studies.hook('deleting', hook);
    await expect(f.budget.evictStudy('case')).rejects.toThrow('disk error');
    expect(await rowsOf(f.db, 'case')).toEqual([3, 3, 1, 1]);
    expect((await f.db.studies.get('case'))?.complete).toBe(true);
    f.db.studies.hook('deleting').unsubscribe(hook);
    await f.budget.evictStudy('case');
    expect(await rowsOf(f.db, 'case')).toEqual([0, 0, 0, 0]);
  });

  it('clear all removes every case but the open one, pinned ones included', async () => {
    const f = setup();
    await storeStudy(f, 'open', 1, { accessedAt: 1 });
    await storeStudy(f, 'pinned', 1, { accessedAt: 2, pinned: true });
    await storeStudy(f, 'plain', 1, { accessedAt: 3 });
    f.open.add('open');
    expect((await f.budget.clearAll()).sort()).toEqual(['pinned', 'plain']);
    expect(await rowsOf(f.db, 'open')).toEqual([1, 1, 1, 1]);
    expect(await f.db.studies.count()).toBe(1);
  });

  it('lowering the budget evicts down to it at once', async () => {
    const f = setup({ quota: 1e9 });
    expect(await f.budget.getBudget()).toBe(5e8);
    await storeStudy(f, 'a', 2, { accessedAt: 1 });
    await storeStudy(f, 'b', 2, { accessedAt: 2 });
    expect(await f.budget.setBudget(3 * KB)).toEqual(['a']);
    expect(await f.db.studies.count()).toBe(1);
  });
});

describe('who may evict', () => {
  it('a write for a study the rule does not allow (background prefetch) is refused instead of evicting', async () => {
    const db = new TeleradDB(`telerad-budget-${process.pid}-${Date.now()}-${counter++}`, { sealer: testRowSealer() });
    dbs.push(db);
    const open = new Set<string>();
    const evicted: string[] = [];
    const budget = new CacheBudget({
      db,
      log: createLogger('budget', memorySink()),
      isOpen: (uid) => open.has(uid),
      hasUnsentWork: () => false,
      mayEvictFor: (uid) => open.has(uid),
      onEvicted: (uids) => evicted.push(...uids),
    });
    const f: Fixture = { db, cache: new StudyCache(db, () => 1, budget), budget, open, clock: { t: 1 }, evicted };
    await budget.setBudget(4 * KB);
    await storeStudy(f, 'old', 3, { accessedAt: 1, reported: true });
    await expect(storeStudy(f, 'prefetched', 2, { accessedAt: 2 })).rejects.toBeInstanceOf(CacheFullError);
    expect(evicted).toEqual([]);
    open.add('opened');
    await storeStudy(f, 'opened', 2, { accessedAt: 3 });
    expect(evicted).toEqual(['old']);
  });
});
