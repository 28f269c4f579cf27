import 'fake-indexeddb/auto';
import Dexie from 'dexie';
import { afterEach, describe, expect, it } from 'vitest';
import { TELERAD_DB_SCHEMA_V6, TELERAD_DB_SCHEMA_V7, TELERAD_DB_VERSION, TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { StudyRecord } from '../../../src/renderer/cache/telerad-db';
import { decodeRow, encodeRow } from '../../../src/renderer/cache/sealing/row-codec';
import { SealedRowError, VaultLockedError, createRowSealer } from '../../../src/renderer/cache/sealing/row-sealer';
import { SEALED_FIELD } from '../../../src/renderer/cache/sealing/sealing-middleware';
import { sealExistingRows } from '../../../src/renderer/cache/sealing/seal-existing-rows';
import { createLogger } from '../../../src/shared/log';
import { randomVaultKeys } from '../../support/test-sealer';

let names: string[] = [];
afterEach(async () => {
  for (const n of names) await Dexie.delete(n);
  names = [];
});
const dbName = (): string => {
  const n = `sealing-${Math.random()}`;
  names.push(n);
  return n;
};
const log = createLogger('test', () => undefined);

const study = (uid: string, name = 'DOE^JANE'): StudyRecord => ({
  studyInstanceUID: uid,
  siteId: 'hospital-a',
  patientName: name,
  patientId: 'MRN-4711',
  studyDate: '20261120',
  modalities: ['CT'],
  description: 'CT CHEST',
  numInstances: 2,
  complete: true,
  storedAt: 5,
  lastAccessedAt: 5,
  storedBytes: 1000,
});

/** The rows as IndexedDB holds them, read without the sealing layer. */
async function rawRows(name: string, table: string): Promise<Record<string, unknown>[]> {
  const raw = new Dexie(name);
  raw.version(7).stores(TELERAD_DB_SCHEMA_V7);
  try {
    return (await raw.table(table).toArray()) as Record<string, unknown>[];
  } finally {
    raw.close();
  }
}

function pixelRun(n: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 7 + 13) & 0xff;
  return a;
}

function containsRun(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

describe('row codec', () => {
  it('round-trips JSON fields, binary fields of every kind and dates', () => {
    const value = {
      a: 'DOE^JANE',
      n: 3.5,
      nested: { list: [1, 'x', null], bytes: new Uint8Array([1, 2, 3]) },
      buf: new Uint16Array([65535, 2]).buffer,
      f32: new Float32Array([1.5, -2]),
      when: new Date(1_700_000_000_000),
    };
    const back = decodeRow(encodeRow(value)) as typeof value;
    expect(back.a).toBe('DOE^JANE');
    expect(back.nested.list).toEqual([1, 'x', null]);
    expect(back.nested.bytes).toBeInstanceOf(Uint8Array);
    expect([...back.nested.bytes]).toEqual([1, 2, 3]);
    expect(back.buf).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint16Array(back.buf)]).toEqual([65535, 2]);
    expect([...back.f32]).toEqual([1.5, -2]);
    expect(back.when).toBeInstanceOf(Date);
    expect(back.when.getTime()).toBe(1_700_000_000_000);
  });

  it('refuses a row whose lengths run past its end instead of reading garbage', () => {
    const bytes = encodeRow({ b: new Uint8Array(100) });
    expect(() => decodeRow(bytes.subarray(0, bytes.length - 10))).toThrow(/past the end/);
  });
});

describe('sealed cache rows', () => {
  it('stores no patient name, id or pixel run in clear, and reads every field back', async () => {
    const name = dbName();
    const sealer = await createRowSealer(randomVaultKeys());
    const db = new TeleradDB(name, { sealer });
    const pixels = pixelRun(64 * 1024);
    await db.studies.put(study('1.2.3'));
    await db.instanceBytes.put({ sopInstanceUID: '1.2.3.4', bytes: pixels.slice().buffer });

    expect(await db.studies.get('1.2.3')).toEqual(study('1.2.3'));
    const back = await db.instanceBytes.get('1.2.3.4');
    expect(new Uint8Array(back!.bytes)).toEqual(pixels);
    db.close();

    const [rawStudy] = await rawRows(name, 'studies');
    expect(JSON.stringify(rawStudy)).not.toMatch(/DOE|MRN-4711|CT CHEST|20261120/);
    // Indexed fields and the policy's clear fields stay readable for queries.
    expect(rawStudy).toMatchObject({ studyInstanceUID: '1.2.3', siteId: 'hospital-a', storedBytes: 1000, complete: true });
    expect(rawStudy![SEALED_FIELD]).toBeDefined();
    const [rawBytes] = await rawRows(name, 'instanceBytes');
    expect(rawBytes!.bytes).toBeUndefined();
    const envelope = rawBytes![SEALED_FIELD] as { c: ArrayBuffer; b?: ArrayBuffer[] };
    // The image is sealed apart from the small fields (v2): every part is ciphertext.
    expect(envelope.b).toHaveLength(1);
    for (const part of [envelope.c, ...(envelope.b ?? [])]) expect(containsRun(new Uint8Array(part), pixels.subarray(1000, 1032))).toBe(false);
  });

  it('keeps multi-table transactions, queries by index, cursors and updates working on sealed rows', async () => {
    const db = new TeleradDB(dbName(), { sealer: await createRowSealer(randomVaultKeys()) });
    await db.transaction('rw', [db.studies, db.series], async () => {
      await db.studies.bulkPut([study('1.1', 'A^ONE'), study('1.2', 'B^TWO'), { ...study('1.3', 'C^THREE'), siteId: 'other' }]);
      const first = await db.studies.get('1.1');
      await db.series.put({ seriesInstanceUID: '1.1.1', studyInstanceUID: first!.studyInstanceUID, modality: 'CT', description: `of ${first!.patientName}` });
    });
    expect((await db.series.get('1.1.1'))?.description).toBe('of A^ONE');
    expect((await db.studies.where('siteId').equals('hospital-a').toArray()).map((s) => s.patientName).sort()).toEqual(['A^ONE', 'B^TWO']);
    expect((await db.studies.where('studyInstanceUID').anyOf(['1.2', '1.3']).toArray()).map((s) => s.patientName).sort()).toEqual(['B^TWO', 'C^THREE']);
    const seen: string[] = [];
    await db.studies.each((s) => void seen.push(s.patientName));
    expect(seen.sort()).toEqual(['A^ONE', 'B^TWO', 'C^THREE']);
    expect((await db.studies.filter((s) => s.patientName.startsWith('B')).toArray()).map((s) => s.studyInstanceUID)).toEqual(['1.2']);
    await db.studies.update('1.2', { pinned: true, description: 'CT ABDOMEN' });
    expect(await db.studies.get('1.2')).toMatchObject({ pinned: true, description: 'CT ABDOMEN', patientName: 'B^TWO' });
    await db.studies.where('siteId').equals('other').modify((s) => void (s.description = 'moved'));
    expect((await db.studies.get('1.3'))?.description).toBe('moved');
    expect(await db.studies.count()).toBe(3);
  });

  it('refuses to read sealed rows with another key and names the table', async () => {
    const name = dbName();
    const db = new TeleradDB(name, { sealer: await createRowSealer(randomVaultKeys()) });
    await db.studies.put(study('9.9'));
    db.close();
    const other = new TeleradDB(name, { sealer: await createRowSealer(randomVaultKeys()) });
    await expect(other.studies.get('9.9')).rejects.toThrow(SealedRowError);
    other.close();
  });

  it('does not open a sealed blob moved onto another row', async () => {
    const name = dbName();
    const keys = randomVaultKeys();
    const db = new TeleradDB(name, { sealer: await createRowSealer(keys) });
    await db.studies.bulkPut([study('1.1', 'A^ONE'), study('1.2', 'B^TWO')]);
    db.close();
    const raw = new Dexie(name);
    raw.version(7).stores(TELERAD_DB_SCHEMA_V7);
    const a = (await raw.table('studies').get('1.1')) as Record<string, unknown>;
    await raw.table('studies').update('1.2', { [SEALED_FIELD]: a[SEALED_FIELD] });
    raw.close();
    const again = new TeleradDB(name, { sealer: await createRowSealer(keys) });
    await expect(again.studies.get('1.2')).rejects.toThrow(/authentication check/);
    again.close();
  });

  it('does not open an image whose sealed part was swapped with another row\'s, nor one with a changed byte', async () => {
    const name = dbName();
    const keys = randomVaultKeys();
    const db = new TeleradDB(name, { sealer: await createRowSealer(keys) });
    await db.instanceBytes.bulkPut([
      { sopInstanceUID: '1.1', bytes: pixelRun(40_000).buffer as ArrayBuffer },
      { sopInstanceUID: '1.2', bytes: pixelRun(40_000).reverse().buffer as ArrayBuffer },
    ]);
    db.close();
    const raw = new Dexie(name);
    raw.version(7).stores(TELERAD_DB_SCHEMA_V7);
    const a = (await raw.table('instanceBytes').get('1.1')) as Record<string, { b: ArrayBuffer[] }>;
    const b = (await raw.table('instanceBytes').get('1.2')) as Record<string, { b: ArrayBuffer[] }>;
    a[SEALED_FIELD]!.b = b[SEALED_FIELD]!.b;
    await raw.table('instanceBytes').put(a);
    const flipped = new Uint8Array(b[SEALED_FIELD]!.b[0]!);
    flipped[10] = flipped[10]! ^ 1;
    await raw.table('instanceBytes').put(b);
    raw.close();
    const again = new TeleradDB(name, { sealer: await createRowSealer(keys) });
    await expect(again.instanceBytes.get('1.1')).rejects.toThrow(SealedRowError);
    await expect(again.instanceBytes.get('1.2')).rejects.toThrow(SealedRowError);
    again.close();
  });

  it('when locked, outbox jobs still open with the outbox key but clinical tables refuse with a clear reason', async () => {
    const sealer = await createRowSealer(randomVaultKeys());
    const db = new TeleradDB(dbName(), { sealer });
    await db.studies.put(study('1.1'));
    await db.outboxJobs.put({
      id: 'job-1', siteId: 's', studyInstanceUID: '1.1', kind: 'report', label: 'Report for DOE^JANE', instances: [],
      state: 'queued', attempts: 0, nextAttemptAt: 0, uncertain: false, createdAt: 1, updatedAt: 1,
    });
    sealer.dropDataKey();
    expect((await db.outboxJobs.get('job-1'))?.label).toBe('Report for DOE^JANE');
    await db.outboxJobs.update('job-1', { state: 'sent' });
    expect((await db.outboxJobs.get('job-1'))?.state).toBe('sent');
    await expect(db.studies.get('1.1')).rejects.toThrow(VaultLockedError);
    await expect(db.studies.put(study('1.2'))).rejects.toThrow(/locked/);
  });

});

describe('v6 → v7: sealing a cache written in clear', () => {
  it('keeps every draft and cached case readable, then leaves nothing in clear', async () => {
    const name = dbName();
    const v6 = new Dexie(name);
    v6.version(6).stores(TELERAD_DB_SCHEMA_V6);
    await v6.table('studies').put(study('1.2.3'));
    await v6.table('reportDrafts').put({
      id: 'd1', studyInstanceUID: '1.2.3', siteId: 'hospital-a', kind: 'report',
      content: { templateId: 'ct', sections: { findings: 'Nodule 8 mm right upper lobe' }, priority: 'routine', measurementIds: [], keyImageSopInstanceUIDs: [] },
      createdAt: 1, updatedAt: 2,
    });
    v6.close();

    const db = new TeleradDB(name, { sealer: await createRowSealer(randomVaultKeys()) });
    // Before the pass: read as they were.
    expect((await db.reportDrafts.get('d1'))?.content.sections.findings).toBe('Nodule 8 mm right upper lobe');
    expect(await sealExistingRows(db, { log, now: () => 10 })).toBe(2);
    expect(await sealExistingRows(db, { log, now: () => 11 })).toBe(0);
    expect((await db.reportDrafts.get('d1'))?.content.sections.findings).toBe('Nodule 8 mm right upper lobe');
    expect((await db.studies.get('1.2.3'))?.patientName).toBe('DOE^JANE');
    expect(db.verno).toBe(TELERAD_DB_VERSION);
    db.close();
    expect(JSON.stringify(await rawRows(name, 'reportDrafts'))).not.toMatch(/Nodule/);
    expect(JSON.stringify(await rawRows(name, 'studies'))).not.toMatch(/DOE/);
  });
});
