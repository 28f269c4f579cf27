// The page side of bench/cache.bench.ts, bundled with esbuild and run in
// Chromium: the app's own TeleradDB / StudyCache against real IndexedDB, and
// the baseline (one raw IndexedDB transaction per instance, no hash).
// Read-to-pixels = read from the cache (hash check included) → dicom-parser
// parse → the pixel data as a typed array Cornerstone can paint from (raw
// explicit VR little endian, so no codec: the same view the image loader makes).
// Encryption at rest (issue 9): the same batched write and read-back, once with the database in
// clear (sealer null) and once sealed with a real RowSealer made here from random keys, interleaved
// batch by batch and read by read (alternating which goes first); then one raw IndexedDB read proves the sealed rows hold no
// clear pixels (and that the same check does find them in the clear database).
import { createRowSealer } from '../src/renderer/cache/sealing/row-sealer';
import type { RowSealer } from '../src/renderer/cache/sealing/row-sealer';
import { SEALED_FIELD } from '../src/renderer/cache/sealing/sealing-middleware';
import { StudyCache } from '../src/renderer/cache/study-cache';
import { TeleradDB } from '../src/renderer/cache/telerad-db';
import { dicomParser } from '../src/renderer/lib/dicom/dicom-parser';

/** One run of the app's path: putInstances in batches of 8, then every instance read back to pixels. */
export interface AppPathRun {
  writeMs: number;
  /** Per instance, read + hash check + parse to an Int16Array; the database reopened first (as after a reload). */
  readMs: number[];
}

/** What the raw IndexedDB rows of one database hold, read once without Dexie or the sealing layer. */
export interface RawRowCheck {
  /** The instanceBytes row keeps a `bytes` field. */
  bytesField: boolean;
  /** The instanceBytes row keeps a sealed envelope instead. */
  sealedField: boolean;
  /** Bytes of ciphertext (and IVs) in the envelope (0 when not sealed). */
  sealedBytes: number;
  /** 32-byte blocks of the source file (16-aligned over the whole file) found anywhere in the row's binary fields. */
  clearRunsFound: number;
  /** The study row's patient name readable on disk. */
  patientNameInClear: boolean;
}

export interface SealedComparison {
  /** One entry per round; the variants interleaved batch by batch and read by read, `firstInRound` going first in the round's first step. */
  rounds: { clear: AppPathRun; encrypted: AppPathRun; firstInRound: 'clear' | 'encrypted' }[];
  rawCheck: { clear: RawRowCheck; encrypted: RawRowCheck };
  /** Diagnosis, per instance: RowSealer.seal / open of an instanceBytes row alone (encode + AES-GCM), no IndexedDB. */
  sealMs: number[];
  openMs: number[];
}

export interface PageFigures {
  bytes: number;
  instances: number;
  /** writeBatchedMs: putInstances, 8 per batch, as the retriever's write-behind buffer writes; the others putInstance, one per instance. */
  app: { writeMs: number; writeParallelMs: number; writeBatchedMs: number; readMs: number[]; sha256Ms: number[] };
  raw: { writeMs: number; readMs: number[]; batchedWriteMs: number };
  /** Diagnosis: a bare Dexie transaction over instances + instanceBytes, no hash, no study bookkeeping. */
  dexieTwoTableWriteMs: number;
  sealed: SealedComparison;
}

declare global {
  interface Window {
    __runCacheBench?: (count: number, studyUID: string, seriesUID: string, sealedRounds: number) => Promise<PageFigures>;
  }
}

function pixelsOf(bytes: ArrayBuffer): Int16Array {
  const ds = dicomParser.parseDicom(new Uint8Array(bytes));
  const el = ds.elements['x7fe00010'];
  if (!el) throw new Error('no pixel data');
  // A view when aligned (the usual case), a copy otherwise: Int16Array needs an even offset.
  return el.dataOffset % 2 === 0
    ? new Int16Array(bytes, el.dataOffset, el.length / 2)
    : new Int16Array(bytes.slice(el.dataOffset, el.dataOffset + el.length));
}

function rawOpen(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore('bytes', { keyPath: 'sopInstanceUID' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function rawPut(db: IDBDatabase, sopInstanceUID: string, bytes: ArrayBuffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction('bytes', 'readwrite');
    tx.objectStore('bytes').put({ sopInstanceUID, bytes });
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}

function rawGet(db: IDBDatabase, sopInstanceUID: string): Promise<ArrayBuffer> {
  return new Promise((resolve, reject) => {
    const req = db.transaction('bytes', 'readonly').objectStore('bytes').get(sopInstanceUID);
    req.onsuccess = () => resolve((req.result as { bytes: ArrayBuffer }).bytes);
    req.onerror = () => reject(req.error);
  });
}

async function deleteDb(name: string): Promise<void> {
  await new Promise<void>((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => resolve();
  });
}

function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** A real sealer from fresh random keys, as main's vault hands them over at unlock (base64 of 32 bytes). */
async function randomSealer(): Promise<RowSealer> {
  const key = (): string => toBase64(crypto.getRandomValues(new Uint8Array(32)));
  return createRowSealer({ keyId: toBase64(crypto.getRandomValues(new Uint8Array(8))), dataKey: key(), outboxKey: key() });
}

/** One row of an object store, read through plain IndexedDB: what is on disk, bypassing Dexie and its middleware. */
async function rawRow(dbName: string, store: string, key: string): Promise<Record<string, unknown> | undefined> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(dbName);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  try {
    return await new Promise((resolve, reject) => {
      const req = db.transaction(store, 'readonly').objectStore(store).get(key);
      req.onsuccess = () => resolve(req.result as Record<string, unknown> | undefined);
      req.onerror = () => reject(req.error);
    });
  } finally {
    db.close();
  }
}

/** Every ArrayBuffer / typed array anywhere in a structured-clone value (a raw row), as bytes. */
function binaryFieldsOf(value: unknown, out: Uint8Array[] = []): Uint8Array[] {
  if (value instanceof ArrayBuffer) out.push(new Uint8Array(value));
  else if (ArrayBuffer.isView(value)) out.push(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  else if (value && typeof value === 'object') for (const v of Object.values(value)) binaryFieldsOf(v, out);
  return out;
}

/**
 * How many distinct 32-byte blocks of `source` (taken every 16 bytes) occur at any offset of `hay`.
 * A clear copy of the file, whole or in part, at any alignment, shows up as thousands; ciphertext as 0.
 */
function countSourceRuns(source: Uint8Array, hay: Uint8Array): number {
  const RUN = 32;
  const blocks = new Map<number, Uint8Array[]>();
  const seen = new Set<string>();
  const head = (a: Uint8Array, at: number): number => (a[at]! | (a[at + 1]! << 8) | (a[at + 2]! << 16) | (a[at + 3]! << 24)) >>> 0;
  for (let at = 0; at + RUN <= source.length; at += 16) {
    const block = source.subarray(at, at + RUN);
    const id = block.join(',');
    if (seen.has(id)) continue;
    seen.add(id);
    const h = head(block, 0);
    const list = blocks.get(h);
    if (list) list.push(block);
    else blocks.set(h, [block]);
  }
  const found = new Set<Uint8Array>();
  for (let i = 0; i + RUN <= hay.length; i++) {
    const list = blocks.get(head(hay, i));
    if (!list) continue;
    for (const block of list) {
      let j = 4;
      while (j < RUN && hay[i + j] === block[j]) j++;
      if (j === RUN) found.add(block);
    }
  }
  return found.size;
}

async function checkRawRows(dbName: string, studyUID: string, sopInstanceUID: string, source: ArrayBuffer): Promise<RawRowCheck> {
  const bytesRow = await rawRow(dbName, 'instanceBytes', sopInstanceUID);
  const studyRow = await rawRow(dbName, 'studies', studyUID);
  if (!bytesRow || !studyRow) throw new Error(`${dbName}: the rows written are not on disk`);
  const sealed = bytesRow[SEALED_FIELD];
  const src = new Uint8Array(source);
  return {
    bytesField: 'bytes' in bytesRow,
    sealedField: sealed !== undefined,
    sealedBytes: binaryFieldsOf(sealed).reduce((n, b) => n + b.byteLength, 0),
    clearRunsFound: binaryFieldsOf(bytesRow).reduce((n, hay) => n + countSourceRuns(src, hay), 0),
    patientNameInClear: JSON.stringify(studyRow).includes('BENCH^CACHE'),
  };
}

window.__runCacheBench = async (count, studyUID, seriesUID, sealedRounds): Promise<PageFigures> => {
  const files: ArrayBuffer[] = [];
  for (let i = 0; i < count; i++) files.push(await (await fetch(`/ct/${i}`)).arrayBuffer());
  const sop = (i: number): string => `${seriesUID}.${i + 1}`;
  const bytes = files.reduce((s, f) => s + f.byteLength, 0);
  const meta = (i: number): Parameters<StudyCache['putInstance']>[0] => ({
    sopInstanceUID: sop(i),
    studyInstanceUID: studyUID,
    seriesInstanceUID: seriesUID,
    instanceNumber: i + 1,
    transferSyntaxUID: '1.2.840.10008.1.2.1',
  });

  // The hash alone, per instance: what the integrity check costs on each write and read.
  const sha256Ms: number[] = [];
  for (const f of files.slice(0, 50)) {
    const t = performance.now();
    await crypto.subtle.digest('SHA-256', f);
    sha256Ms.push(performance.now() - t);
  }

  // The study row exists, as in the app: every write keeps its storedBytes and LRU time.
  const withStudy = async (c: StudyCache): Promise<void> => {
    await c.upsertStudy({
      studyInstanceUID: studyUID,
      siteId: 'bench',
      patientName: 'BENCH^CACHE',
      patientId: 'BENCH-CACHE',
      studyDate: '20260101',
      modalities: ['CT'],
      description: 'CT',
      numInstances: count,
    });
  };

  // App path, one instance per transaction, one after another.
  await deleteDb('bench-app');
  let db = new TeleradDB('bench-app');
  let cache = new StudyCache(db);
  await withStudy(cache);
  let t0 = performance.now();
  for (let i = 0; i < count; i++) await cache.putInstance(meta(i), files[i]!);
  const writeMs = performance.now() - t0;
  // App path as the retriever drives it: 4 downloads land at once.
  db.close();
  await deleteDb('bench-app');
  db = new TeleradDB('bench-app');
  cache = new StudyCache(db);
  await withStudy(cache);
  t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < count) {
        const i = next++;
        await cache.putInstance(meta(i), files[i]!);
      }
    }),
  );
  const writeParallelMs = performance.now() - t0;
  // App path as the retriever writes now: its write-behind buffer hands the cache 8 instances per transaction.
  db.close();
  await deleteDb('bench-app');
  db = new TeleradDB('bench-app');
  cache = new StudyCache(db);
  await withStudy(cache);
  t0 = performance.now();
  for (let i = 0; i < count; i += 8) {
    const batch = [];
    for (let k = i; k < Math.min(count, i + 8); k++) batch.push({ meta: meta(k), bytes: files[k]! });
    await cache.putInstances(batch);
  }
  const writeBatchedMs = performance.now() - t0;
  if ((await cache.getStudy(studyUID))?.storedBytes !== bytes) throw new Error('storedBytes does not add up');

  const readMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    const stored = await cache.readInstanceBytes(sop(i));
    const px = pixelsOf(stored!);
    if (px.length !== 512 * 512) throw new Error(`unexpected pixel count ${px.length}`);
    readMs.push(performance.now() - t);
  }
  db.close();
  await deleteDb('bench-app');

  // Baseline: raw IndexedDB, one transaction per instance, no hash.
  await deleteDb('bench-raw');
  const raw = await rawOpen('bench-raw');
  t0 = performance.now();
  for (let i = 0; i < count; i++) await rawPut(raw, sop(i), files[i]!);
  const rawWriteMs = performance.now() - t0;
  const rawReadMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    const px = pixelsOf(await rawGet(raw, sop(i)));
    if (px.length !== 512 * 512) throw new Error(`unexpected pixel count ${px.length}`);
    rawReadMs.push(performance.now() - t);
  }
  raw.close();
  await deleteDb('bench-raw');

  // Diagnosis: where the app's write time goes (Dexie's two-table transaction alone, sequential).
  await deleteDb('bench-dexie');
  const bare = new TeleradDB('bench-dexie');
  t0 = performance.now();
  for (let i = 0; i < count; i++) {
    await bare.transaction('rw', bare.instances, bare.instanceBytes, async () => {
      await bare.instances.put({ ...meta(i), size: files[i]!.byteLength, sha256: '', storedAt: 0 });
      await bare.instanceBytes.put({ sopInstanceUID: sop(i), bytes: files[i]! });
    });
  }
  const dexieTwoTableWriteMs = performance.now() - t0;
  bare.close();
  await deleteDb('bench-dexie');

  // What batching would buy: raw IndexedDB, 10 instances per transaction.
  const batched = await rawOpen('bench-raw');
  t0 = performance.now();
  for (let i = 0; i < count; i += 10) {
    await new Promise<void>((resolve, reject) => {
      const tx = batched.transaction('bytes', 'readwrite');
      for (let k = i; k < Math.min(count, i + 10); k++) tx.objectStore('bytes').put({ sopInstanceUID: sop(k), bytes: files[k]! });
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  }
  const batchedWriteMs = performance.now() - t0;
  batched.close();
  await deleteDb('bench-raw');

  // Encryption at rest: the app's path (batches of 8, then read back to pixels) with and without a sealer.
  const sealer = await randomSealer();
  const sealMs: number[] = [];
  const openMs: number[] = [];
  for (const [i, f] of files.slice(0, 50).entries()) {
    let t = performance.now();
    const envelope = await sealer.seal('data', 'instanceBytes', sop(i), { bytes: f });
    sealMs.push(performance.now() - t);
    t = performance.now();
    await sealer.open('data', 'instanceBytes', sop(i), envelope);
    openMs.push(performance.now() - t);
  }
  // Clear and encrypted run interleaved, batch by batch and read by read (alternating which goes first),
  // so a shared machine getting busier or quieter weighs on both alike; each variant's time is its own.
  type Variant = 'clear' | 'encrypted';
  const VARIANTS: readonly Variant[] = ['clear', 'encrypted'];
  const ordered = (k: number): readonly Variant[] => (k % 2 === 0 ? VARIANTS : [...VARIANTS].reverse());
  const open = (v: Variant): { db: TeleradDB; cache: StudyCache } => {
    const vdb = new TeleradDB(`bench-${v}`, { sealer: v === 'clear' ? null : sealer });
    return { db: vdb, cache: new StudyCache(vdb) };
  };
  const pairedRound = async (round: number): Promise<Record<Variant, AppPathRun>> => {
    const runs: Record<Variant, AppPathRun> = { clear: { writeMs: 0, readMs: [] }, encrypted: { writeMs: 0, readMs: [] } };
    const dbs = {} as Record<Variant, { db: TeleradDB; cache: StudyCache }>;
    for (const v of VARIANTS) {
      await deleteDb(`bench-${v}`);
      dbs[v] = open(v);
      await withStudy(dbs[v].cache);
    }
    for (let i = 0; i < count; i += 8) {
      const batch = [];
      for (let k = i; k < Math.min(count, i + 8); k++) batch.push({ meta: meta(k), bytes: files[k]! });
      for (const v of ordered(round + i / 8)) {
        const t = performance.now();
        await dbs[v].cache.putInstances(batch);
        runs[v].writeMs += performance.now() - t;
      }
    }
    // Read back after a reopen, as after a reload: nothing in memory from the write.
    for (const v of VARIANTS) {
      dbs[v].db.close();
      dbs[v] = open(v);
      if ((await dbs[v].cache.getStudy(studyUID))?.storedBytes !== bytes) throw new Error(`${v}: storedBytes does not add up`);
    }
    for (let i = 0; i < count; i++) {
      for (const v of ordered(round + i)) {
        const t = performance.now();
        const stored = await dbs[v].cache.readInstanceBytes(sop(i));
        const px = pixelsOf(stored!);
        if (px.length !== 512 * 512) throw new Error(`${v}: unexpected pixel count ${px.length}`);
        runs[v].readMs.push(performance.now() - t);
      }
    }
    for (const v of VARIANTS) dbs[v].db.close();
    return runs;
  };
  const rounds: SealedComparison['rounds'] = [];
  for (let r = 0; r < sealedRounds; r++) {
    const runs = await pairedRound(r);
    rounds.push({ clear: runs.clear, encrypted: runs.encrypted, firstInRound: ordered(r)[0]! });
  }
  // The last round's databases are still there: what IndexedDB holds for instance 1 and the study row.
  const rawCheck = {
    clear: await checkRawRows('bench-clear', studyUID, sop(0), files[0]!),
    encrypted: await checkRawRows('bench-encrypted', studyUID, sop(0), files[0]!),
  };
  await deleteDb('bench-clear');
  await deleteDb('bench-encrypted');

  return { bytes, instances: count, sealed: { rounds, rawCheck, sealMs, openMs }, app: { writeMs, writeParallelMs, writeBatchedMs, readMs, sha256Ms }, raw: { writeMs: rawWriteMs, readMs: rawReadMs, batchedWriteMs }, dexieTwoTableWriteMs };
};
