// The page side of bench/cache.bench.ts, bundled with esbuild and run in
// Chromium: the app's own TeleradDB / StudyCache against real IndexedDB, and
// the baseline (one raw IndexedDB transaction per instance, no hash).
// Read-to-pixels = read from the cache (hash check included) → dicom-parser
// parse → the pixel data as a typed array Cornerstone can paint from (raw
// explicit VR little endian, so no codec: the same view the image loader makes).
import { StudyCache } from '../src/renderer/cache/study-cache';
import { TeleradDB } from '../src/renderer/cache/telerad-db';
import { dicomParser } from '../src/renderer/lib/dicom-parser';

export interface PageFigures {
  bytes: number;
  instances: number;
  /** writeBatchedMs: putInstances, 8 per batch, as the retriever's write-behind buffer writes; the others putInstance, one per instance. */
  app: { writeMs: number; writeParallelMs: number; writeBatchedMs: number; readMs: number[]; sha256Ms: number[] };
  raw: { writeMs: number; readMs: number[]; batchedWriteMs: number };
  /** Diagnosis: a bare Dexie transaction over instances + instanceBytes, no hash, no study bookkeeping. */
  dexieTwoTableWriteMs: number;
}

declare global {
  interface Window {
    __runCacheBench?: (count: number, studyUID: string, seriesUID: string) => Promise<PageFigures>;
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

window.__runCacheBench = async (count, studyUID, seriesUID): Promise<PageFigures> => {
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

  return { bytes, instances: count, app: { writeMs, writeParallelMs, writeBatchedMs, readMs, sha256Ms }, raw: { writeMs: rawWriteMs, readMs: rawReadMs, batchedWriteMs }, dexieTwoTableWriteMs };
};
