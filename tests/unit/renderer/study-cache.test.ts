// @vitest-environment node
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { CacheIntegrityError, StudyCache } from '../../../src/renderer/cache/study-cache';
import type { InstanceMeta } from '../../../src/renderer/cache/study-cache';
import { TELERAD_DB_SCHEMA_V1, TELERAD_DB_VERSION, TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { flipSealedByte, testRowSealer } from '../../support/test-sealer';

const STUDY = '1.2.826.0.1.3680043.2.1125.1';
const SERIES = `${STUDY}.1`;
let dbs: TeleradDB[] = [];
let counter = 0;

function openCache(options: { clear?: boolean } = {}): { db: TeleradDB; cache: StudyCache } {
  const db = new TeleradDB(`telerad-test-${process.pid}-${Date.now()}-${counter++}`, { sealer: options.clear ? null : testRowSealer() });
  dbs.push(db);
  return { db, cache: new StudyCache(db) };
}

function meta(n: number): InstanceMeta {
  return {
    sopInstanceUID: `${SERIES}.${n}`,
    studyInstanceUID: STUDY,
    seriesInstanceUID: SERIES,
    instanceNumber: n,
    transferSyntaxUID: '1.2.840.10008.1.2.1',
  };
}

function bytes(n: number, length = 1024): ArrayBuffer {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + n) & 0xff;
  return b.buffer;
}

async function addStudy(cache: StudyCache, numInstances: number): Promise<void> {
  await cache.upsertStudy({
    studyInstanceUID: STUDY,
    siteId: 'hospital-a',
    patientName: 'TESTER, ANNA',
    patientId: 'P1',
    studyDate: '20261120',
    modalities: ['CT'],
    description: 'CT CHEST',
    numInstances,
  });
}

afterEach(async () => {
  for (const db of dbs) {
    db.close();
    await db.delete();
  }
  dbs = [];
});

describe('TeleradDB schema', () => {
  it('opens at the current version with metadata and pixel bytes in separate tables', async () => {
    const { db } = openCache();
    await db.open();
    expect(TELERAD_DB_VERSION).toBe(10);
    expect(db.verno).toBe(TELERAD_DB_VERSION);
    expect(db.tables.map((t) => t.name).sort()).toEqual([
      'annotations', 'cacheSettings', 'caseNotes', 'composeDrafts', 'deidMappings', 'instanceBytes', 'instancePreviews', 'instances', 'keyImages', 'outboxJobs', 'prefetchMarks', 'referralCases', 'referrals', 'reportDrafts', 'reports',
      'rowVersions', 'sealing', 'series', 'siteCapabilities', 'sitePreferences', 'studies', 'studyListings', 'userProfile',
    ]);
    expect(db.instances.schema.primKey.name).toBe('sopInstanceUID');
    expect(db.instances.schema.indexes.map((i) => i.name).sort()).toEqual(['seriesInstanceUID', 'studyInstanceUID']);
    expect(db.series.schema.indexes.map((i) => i.name)).toEqual(['studyInstanceUID']);
    expect(db.studies.schema.primKey.name).toBe('studyInstanceUID');
    expect(db.instanceBytes.schema.primKey.name).toBe('sopInstanceUID');
    expect(Object.keys(TELERAD_DB_SCHEMA_V1).sort()).toEqual(['instanceBytes', 'instances', 'series', 'studies']);
  });
});

describe('StudyCache', () => {
  it('reads back the exact bytes it stored, with size and SHA-256 in the metadata', async () => {
    const { cache } = openCache();
    const stored = await cache.putInstance(meta(1), bytes(1));
    expect(stored.size).toBe(1024);
    expect(stored.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await cache.hasInstance(meta(1).sopInstanceUID)).toBe(true);
    const back = await cache.readInstanceBytes(meta(1).sopInstanceUID);
    expect(back).toBeDefined();
    expect(new Uint8Array(back!)).toEqual(new Uint8Array(bytes(1)));
    const listed = await cache.getStudyInstances(STUDY);
    expect(listed.map((i) => i.sopInstanceUID)).toEqual([meta(1).sopInstanceUID]);
    expect(listed[0]).not.toHaveProperty('bytes');
  });

  it('answers undefined for an instance it never stored', async () => {
    const { cache } = openCache();
    expect(await cache.hasInstance('1.2.3')).toBe(false);
    expect(await cache.readInstanceBytes('1.2.3')).toBeUndefined();
  });

  it('detects a tampered byte on read by its hash (rows in clear), drops the entry and reopens the study', async () => {
    const { db, cache } = openCache({ clear: true });
    await addStudy(cache, 1);
    await cache.putInstance(meta(1), bytes(1));
    expect(await cache.markComplete(STUDY)).toBe(true);

    const sop = meta(1).sopInstanceUID;
    const entry = await db.instanceBytes.get(sop);
    const tampered = new Uint8Array(entry!.bytes.slice(0));
    tampered[500] = tampered[500]! ^ 0x01;
    await db.instanceBytes.put({ sopInstanceUID: sop, bytes: tampered.buffer });

    await expect(cache.readInstanceBytes(sop)).rejects.toBeInstanceOf(CacheIntegrityError);
    expect(await cache.hasInstance(sop)).toBe(false);
    expect(await db.instances.get(sop)).toBeUndefined();
    expect(await db.instanceBytes.get(sop)).toBeUndefined();
    expect((await cache.getStudy(STUDY))?.complete).toBe(false);
  });

  it('detects a changed byte of sealed bytes by their authentication tag, drops the entry and reopens the study', async () => {
    const { db, cache } = openCache();
    await addStudy(cache, 1);
    await cache.putInstance(meta(1), bytes(1));
    expect(await cache.markComplete(STUDY)).toBe(true);
    const sop = meta(1).sopInstanceUID;
    expect(new Uint8Array((await cache.readInstanceBytes(sop))!)).toEqual(new Uint8Array(bytes(1)));

    await flipSealedByte(db.name, 'instanceBytes', sop);

    await expect(cache.readInstanceBytes(sop)).rejects.toBeInstanceOf(CacheIntegrityError);
    expect(await cache.hasInstance(sop)).toBe(false);
    expect(await db.instanceBytes.get(sop)).toBeUndefined();
    expect((await cache.getStudy(STUDY))?.complete).toBe(false);
  });

  it('marks a study complete only once every instance is stored', async () => {
    const { cache } = openCache();
    await addStudy(cache, 3);
    await cache.putInstance(meta(1), bytes(1));
    await cache.putInstance(meta(2), bytes(2));
    expect(await cache.markComplete(STUDY)).toBe(false);
    expect((await cache.getStudy(STUDY))?.complete).toBe(false);

    await cache.putInstance(meta(3), bytes(3));
    expect(await cache.markComplete(STUDY)).toBe(true);
    expect((await cache.getStudy(STUDY))?.complete).toBe(true);
    expect((await cache.listCachedStudies()).map((s) => s.studyInstanceUID)).toEqual([STUDY]);
  });

  it('reopens a complete study when the site reports more instances than are stored', async () => {
    const { cache } = openCache();
    await addStudy(cache, 1);
    await cache.putInstance(meta(1), bytes(1));
    expect(await cache.markComplete(STUDY)).toBe(true);
    await addStudy(cache, 2);
    expect((await cache.getStudy(STUDY))?.complete).toBe(false);
    expect(await cache.markComplete(STUDY)).toBe(false);
  });

  it('does not mark an unknown study complete', async () => {
    const { cache } = openCache();
    expect(await cache.markComplete('9.9.9')).toBe(false);
  });
});

describe('StudyCache.putInstances (batched writes)', () => {
  it('stores a batch in one go and adds its bytes to the study, replacing earlier copies', async () => {
    const { db, cache } = openCache();
    await addStudy(cache, 4);
    await cache.putInstance(meta(1), bytes(1, 4096));
    const records = await cache.putInstances([1, 2, 3].map((n) => ({ meta: meta(n), bytes: bytes(n, 1000 * n) })));
    expect(records.map((r) => r.size)).toEqual([1000, 2000, 3000]);
    // The earlier 4096-byte copy of instance 1 is replaced, not counted twice.
    expect((await cache.getStudy(STUDY))?.storedBytes).toBe(6000);
    expect(await db.instanceBytes.count()).toBe(3);
    for (const n of [1, 2, 3]) expect(new Uint8Array((await cache.readInstanceBytes(meta(n).sopInstanceUID))!)).toEqual(new Uint8Array(bytes(n, 1000 * n)));
  });

  it('writes all of a batch or none of it: a write failing part-way leaves nothing of the batch', async () => {
    const { db, cache } = openCache();
    await addStudy(cache, 3);
    const bad = meta(3).sopInstanceUID;
    db.instanceBytes.hook('creating', (key) => {
      if (key === bad) throw new Error('disk error');
    });
    await expect(cache.putInstances([1, 2, 3].map((n) => ({ meta: meta(n), bytes: bytes(n) })))).rejects.toThrow();
    expect(await db.instances.count()).toBe(0);
    expect(await db.instanceBytes.count()).toBe(0);
    expect((await cache.getStudy(STUDY))?.storedBytes).toBe(0);
  });

  it('counts a batch stored before its study record exists once the record is created', async () => {
    const { cache } = openCache();
    await cache.putInstances([1, 2].map((n) => ({ meta: meta(n), bytes: bytes(n, 500) })));
    await addStudy(cache, 2);
    expect((await cache.getStudy(STUDY))?.storedBytes).toBe(1000);
    expect(await cache.markComplete(STUDY)).toBe(true);
  });
});
