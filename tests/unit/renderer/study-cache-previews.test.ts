// @vitest-environment node
import 'fake-indexeddb/auto';
import Dexie from 'dexie';
import { describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { CacheBudget, CacheFullError } from '../../../src/renderer/cache/cache-budget';
import type { CacheWriteBudget } from '../../../src/renderer/cache/cache-budget';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import type { InstanceMeta, PreviewPut } from '../../../src/renderer/cache/study-cache';
import { TELERAD_DB_SCHEMA_V9, TELERAD_DB_VERSION, TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { StudyListingRecord } from '../../../src/renderer/cache/telerad-db';
import { SEALED_FIELD } from '../../../src/renderer/cache/sealing/sealing-middleware';
import { testRowSealer } from '../../support/test-sealer';
import { tinyJpeg } from '../../support/scripted-site';
import { deleteDbsAfterEach } from '../../support/test-dbs';

// The cache's side of progressive reading: a study's instance list, kept so a
// study streamed part way reopens offline with its whole stack, and the
// rendered previews of slices not received lossless yet — checked on read like
// instances, superseded by the lossless write, evicted with their study.

const STUDY = '1.2.826.0.1.3680043.2.1125.150';
const OTHER = '1.2.826.0.1.3680043.2.1125.151';
const sop = (k: number, study = STUDY): string => `${study}.1.${k}`;

const dbs = deleteDbsAfterEach();
let counter = 0;

function openCache(options: { clear?: boolean; budget?: CacheWriteBudget } = {}): { db: TeleradDB; cache: StudyCache } {
  const db = new TeleradDB(`telerad-previews-${process.pid}-${Date.now()}-${counter++}`, { sealer: options.clear ? null : testRowSealer() });
  dbs.push(db);
  return { db, cache: new StudyCache(db, Date.now, options.budget) };
}

function meta(k: number, study = STUDY): InstanceMeta {
  return { sopInstanceUID: sop(k, study), studyInstanceUID: study, seriesInstanceUID: `${study}.1`, instanceNumber: k, transferSyntaxUID: '1.2.840.10008.1.2.1' };
}

function bytes(k: number, length = 1024): ArrayBuffer {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + k) & 0xff;
  return b.buffer;
}

function preview(k: number, study = STUDY): PreviewPut {
  return { sopInstanceUID: sop(k, study), studyInstanceUID: study, seriesInstanceUID: `${study}.1`, bytes: tinyJpeg(k), width: 192, height: 256 };
}

function listing(study = STUDY, n = 3): StudyListingRecord {
  return {
    studyInstanceUID: study,
    siteId: 'a',
    listedAt: 1000,
    instances: Array.from({ length: n }, (_, k) => ({ sopInstanceUID: sop(k, study), studyInstanceUID: study, seriesInstanceUID: `${study}.1`, instanceNumber: k + 1, rows: 512, columns: 384 })),
  };
}

async function addStudy(cache: StudyCache, study = STUDY, numInstances = 3): Promise<void> {
  await cache.upsertStudy({ studyInstanceUID: study, siteId: 'a', patientName: 'TESTER, ANNA', patientId: 'P1', studyDate: '20261120', modalities: ['CT'], description: 'CT CHEST', numInstances });
}

/** Flips a byte of a sealed preview as IndexedDB holds it (under the sealing layer), as a failing disk would. */
async function flipSealedPreviewByte(dbName: string, key: string): Promise<void> {
  const raw = new Dexie(dbName);
  raw.version(TELERAD_DB_VERSION).stores(TELERAD_DB_SCHEMA_V9);
  try {
    const row = (await raw.table('instancePreviews').get(key)) as Record<string, { c: ArrayBuffer; b?: ArrayBuffer[] }> | undefined;
    const envelope = row?.[SEALED_FIELD];
    if (!row || !envelope) throw new Error(`preview ${key} is not a sealed row`);
    const view = new Uint8Array(envelope.b?.[0] ?? envelope.c);
    view[view.length - 1] = view[view.length - 1]! ^ 0xff;
    await raw.table('instancePreviews').put(row);
  } finally {
    raw.close();
  }
}

describe('StudyCache: instance lists', () => {
  it('keeps a study’s instance list as the site answered it, in reading order, and replaces it with the next one', async () => {
    const { cache } = openCache();
    expect(await cache.getListing(STUDY)).toBeUndefined();
    await cache.putListing(listing(STUDY, 3));
    expect((await cache.getListing(STUDY))?.instances.map((i) => i.sopInstanceUID)).toEqual([sop(0), sop(1), sop(2)]);
    expect((await cache.getListing(STUDY))?.instances[0]).toMatchObject({ rows: 512, columns: 384, instanceNumber: 1 });
    await cache.putListing(listing(STUDY, 5));
    expect((await cache.getListing(STUDY))?.instances).toHaveLength(5);
    expect(await cache.getListing(OTHER)).toBeUndefined();
  });
});

describe('StudyCache: previews', () => {
  it('stores previews with their raster size and hands them back checked', async () => {
    const { cache } = openCache();
    await addStudy(cache);
    expect(await cache.putPreviews([preview(0), preview(1)])).toEqual([sop(0), sop(1)]);
    const got = await cache.readPreview(sop(1));
    expect(got).toMatchObject({ width: 192, height: 256 });
    expect(new Uint8Array(got!.bytes)).toEqual(new Uint8Array(tinyJpeg(1)));
    expect(await cache.hasPreview(sop(0))).toBe(true);
    expect(await cache.hasPreview(sop(2))).toBe(false);
    expect(await cache.readPreview(sop(2))).toBeUndefined();
  });

  it('lists only the study’s own previews', async () => {
    const { cache } = openCache();
    await cache.putPreviews([preview(0), preview(1), preview(0, OTHER)]);
    expect((await cache.previewSops(STUDY)).sort()).toEqual([sop(0), sop(1)].sort());
    expect(await cache.previewSops(OTHER)).toEqual([sop(0, OTHER)]);
  });

  it('keeps no preview of an instance stored lossless already: it is only ever a stand-in', async () => {
    const { cache } = openCache();
    await addStudy(cache);
    await cache.putInstance(meta(1), bytes(1));
    expect(await cache.putPreviews([preview(0), preview(1), preview(2)])).toEqual([sop(0), sop(2)]);
    expect(await cache.hasPreview(sop(1))).toBe(false);
    expect((await cache.previewSops(STUDY)).sort()).toEqual([sop(0), sop(2)].sort());
  });

  it('drops the preview when the lossless file is written', async () => {
    const { cache } = openCache();
    await addStudy(cache);
    await cache.putPreviews([preview(0), preview(1)]);
    await cache.putInstances([{ meta: meta(0), bytes: bytes(0) }]);
    expect(await cache.hasPreview(sop(0))).toBe(false);
    expect(await cache.readPreview(sop(0))).toBeUndefined();
    expect(await cache.hasPreview(sop(1))).toBe(true);
    expect(await cache.readInstanceBytes(sop(0))).toBeDefined();
  });

  it('keeps the preview when the lossless write is refused (storage full): the slice never has neither', async () => {
    const full: CacheWriteBudget = {
      beforeWrite: async () => {
        throw new CacheFullError(10, 10);
      },
      afterQuotaExceeded: async () => undefined,
      fullError: async () => new CacheFullError(10, 10),
    };
    const { cache } = openCache({ budget: full });
    await addStudy(cache);
    await cache.putPreviews([preview(0)]);
    await expect(cache.putInstances([{ meta: meta(0), bytes: bytes(0) }])).rejects.toBeInstanceOf(CacheFullError);
    expect(await cache.hasPreview(sop(0))).toBe(true);
    expect(await cache.readPreview(sop(0))).toBeDefined();
  });

  it('does not count previews in the study’s stored bytes', async () => {
    const { cache } = openCache();
    await addStudy(cache);
    await cache.putInstance(meta(0), bytes(0, 1000));
    await cache.putPreviews([preview(1), preview(2)]);
    expect((await cache.getStudy(STUDY))?.storedBytes).toBe(1000);
  });

  it('a preview whose bytes no longer match their hash reads as absent and is deleted (database in clear)', async () => {
    const { db, cache } = openCache({ clear: true });
    await cache.putPreviews([preview(0), preview(1)]);
    const row = (await db.instancePreviews.get(sop(0)))!;
    const changed = new Uint8Array(row.bytes.slice(0));
    changed[4] = changed[4]! ^ 0xff;
    await db.instancePreviews.put({ ...row, bytes: changed.buffer });
    expect(await cache.readPreview(sop(0))).toBeUndefined();
    expect(await cache.hasPreview(sop(0))).toBe(false);
    expect(await cache.readPreview(sop(1))).toBeDefined();
  });

  it('a sealed preview that fails authentication reads as absent and is deleted', async () => {
    const { db, cache } = openCache();
    await cache.putPreviews([preview(0), preview(1)]);
    expect(await cache.readPreview(sop(0))).toBeDefined();
    await flipSealedPreviewByte(db.name, sop(0));
    expect(await cache.readPreview(sop(0))).toBeUndefined();
    expect(await cache.hasPreview(sop(0))).toBe(false);
    expect(await cache.previewSops(STUDY)).toEqual([sop(1)]);
  });
});

describe('CacheBudget.evictStudy: previews and the instance list go with the study', () => {
  function withBudget(): { db: TeleradDB; cache: StudyCache; budget: CacheBudget; evicted: string[] } {
    const db = new TeleradDB(`telerad-previews-budget-${process.pid}-${Date.now()}-${counter++}`, { sealer: testRowSealer() });
    dbs.push(db);
    const evicted: string[] = [];
    const budget = new CacheBudget({
      db,
      log: createLogger('budget', memorySink()),
      storage: { estimate: async () => ({ usage: 0 }), persist: async () => true },
      isOpen: () => false,
      hasUnsentWork: () => false,
      onEvicted: (uids) => evicted.push(...uids),
    });
    return { db, cache: new StudyCache(db, Date.now, budget), budget, evicted };
  }

  async function streamedPartWay(cache: StudyCache, study: string): Promise<void> {
    await addStudy(cache, study, 3);
    await cache.putListing(listing(study, 3));
    await cache.putInstance(meta(0, study), bytes(0));
    await cache.putPreviews([preview(1, study), preview(2, study)]);
  }

  it('evicting a case from the Storage panel deletes its previews and instance list, and nothing of another case', async () => {
    const { db, cache, budget } = withBudget();
    await streamedPartWay(cache, STUDY);
    await streamedPartWay(cache, OTHER);
    expect(await budget.evict(STUDY)).toBe(true);
    expect(await cache.previewSops(STUDY)).toEqual([]);
    expect(await db.instancePreviews.where('studyInstanceUID').equals(STUDY).count()).toBe(0);
    expect(await cache.getListing(STUDY)).toBeUndefined();
    expect(await cache.getStudy(STUDY)).toBeUndefined();
    expect((await cache.previewSops(OTHER)).sort()).toEqual([sop(1, OTHER), sop(2, OTHER)].sort());
    expect(await cache.getListing(OTHER)).toBeDefined();
  });

  it('a write over budget that evicts an older case takes its previews and instance list too', async () => {
    const { cache, budget, evicted } = withBudget();
    await budget.setBudget(2 * 1024);
    await streamedPartWay(cache, OTHER);
    await cache.touchAccessed(OTHER);
    await addStudy(cache, STUDY, 3);
    await cache.putInstances([{ meta: meta(0), bytes: bytes(0, 1024) }, { meta: meta(1), bytes: bytes(1, 1024) }]);
    expect(evicted).toEqual([OTHER]);
    expect(await cache.previewSops(OTHER)).toEqual([]);
    expect(await cache.getListing(OTHER)).toBeUndefined();
  });
});
