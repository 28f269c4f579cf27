// @vitest-environment node
import 'fake-indexeddb/auto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/shared/log';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { dicomParser } from '../../../src/renderer/lib/dicom/dicom-parser';
import { createQualityService } from '../../../src/renderer/quality/study-quality';
import { badgeCandidates, badgeText, createQualityBadges } from '../../../src/renderer/quality/quality-badges';
import { writeSeriesFiles } from '../../fixtures/quality-dicom';
import type { SeriesFileOptions } from '../../fixtures/quality-dicom';
import { testRowSealer } from '../../support/test-sealer';

const log = createLogger('test', () => undefined);
const dirs: string[] = [];
const dbs: TeleradDB[] = [];
let counter = 0;

afterEach(async () => {
  for (const db of dbs.splice(0)) {
    db.close();
    await db.delete();
  }
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface CachedSeries {
  cache: StudyCache;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  /** SOP Instance UID by instance number. */
  sops: Map<number, string>;
  files: string[];
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Writes a series with the fixtures (dcmtk for the lossy one) and stores every file in a fresh cache, as a retrieval would. */
async function cacheSeries(o: SeriesFileOptions, cache?: StudyCache): Promise<CachedSeries> {
  const dir = mkdtempSync(path.join(tmpdir(), 'telerad-quality-unit-'));
  dirs.push(dir);
  const { seriesInstanceUID, files } = writeSeriesFiles(dir, o);
  let store = cache;
  if (!store) {
    const db = new TeleradDB(`telerad-quality-${process.pid}-${Date.now()}-${counter++}`, { sealer: testRowSealer() });
    dbs.push(db);
    store = new StudyCache(db);
  }
  const sops = new Map<number, string>();
  let studyInstanceUID = '';
  for (const file of files) {
    const bytes = toArrayBuffer(readFileSync(file));
    const ds = dicomParser.parseDicom(new Uint8Array(bytes));
    const sop = ds.string('x00080018')!;
    studyInstanceUID = ds.string('x0020000d')!;
    sops.set(Number(ds.string('x00200013')), sop);
    await store.putInstance(
      { sopInstanceUID: sop, studyInstanceUID, seriesInstanceUID, instanceNumber: Number(ds.string('x00200013')), transferSyntaxUID: ds.string('x00020010')! },
      bytes,
    );
  }
  return { cache: store, studyInstanceUID, seriesInstanceUID, sops, files };
}

function serviceOver(cache: StudyCache): { service: ReturnType<typeof createQualityService>; reads: () => number } {
  let reads = 0;
  const service = createQualityService({
    readInstanceBytes: (sop) => {
      reads++;
      return cache.readInstanceBytes(sop);
    },
    listStudyInstances: (uid) => cache.getStudyInstances(uid),
    log,
  });
  return { service, reads: () => reads };
}

describe('quality service over the local cache', () => {
  it('finds lossy compression, missing calibration and the missing slice in a cached dcmcjpeg series', async () => {
    const s = await cacheSeries({ modality: 'MR', slices: 6, size: 64, skip: [4], uncalibrated: true, encode: 'jpeg-extended' });
    const { service } = serviceOver(s.cache);
    const result = await service.checkStudy(s.studyInstanceUID);
    const ids = result.findings.map((f) => f.checkId);
    expect(ids).toEqual(expect.arrayContaining(['suitability.lossy', 'suitability.calibration', 'geometry.missing-slices']));
    // Nothing else but the note that the compressed pixels were not decoded (no decoder in Node).
    expect(ids.filter((id) => !['suitability.lossy', 'suitability.calibration', 'geometry.missing-slices'].includes(id))).toEqual(['acquisition.pixels-skipped']);
    expect(result.worst).toBe('blocker');
    const gap = result.findings.find((f) => f.checkId === 'geometry.missing-slices')!;
    expect(gap.seriesInstanceUID).toBe(s.seriesInstanceUID);
    // The slices either side of the hole are named, so "go to image" can show them.
    expect(gap.evidence.instances.map((e) => e.sopInstanceUID)).toEqual(expect.arrayContaining([s.sops.get(3), s.sops.get(5)]));
  });

  it('finds nothing in a clean, calibrated, uncompressed series (pixel statistics included)', async () => {
    const s = await cacheSeries({ modality: 'MR', slices: 6, size: 64 });
    const { service } = serviceOver(s.cache);
    const result = await service.checkStudy(s.studyInstanceUID);
    expect(result.findings).toEqual([]);
    expect(result.worst).toBe('ok');
  });

  it('reports a blank slice from the raw pixels it reads out of the cache', async () => {
    const s = await cacheSeries({ modality: 'MR', slices: 6, size: 64, alter: (k, px) => (k === 2 ? px.map(() => 100) : px) });
    const { service } = serviceOver(s.cache);
    const result = await service.checkStudy(s.studyInstanceUID);
    const blank = result.findings.find((f) => f.checkId === 'acquisition.blank');
    expect(blank?.evidence.instances.map((e) => e.sopInstanceUID)).toEqual([s.sops.get(3)]);
  });

  it('keeps a study’s result until its instances change, then checks again', async () => {
    const s = await cacheSeries({ modality: 'MR', slices: 4, size: 64 });
    const { service, reads } = serviceOver(s.cache);
    const first = await service.checkStudy(s.studyInstanceUID);
    expect(reads()).toBe(4);
    expect(await service.checkStudy(s.studyInstanceUID)).toBe(first);
    expect(reads()).toBe(4);
    // A copy of slice 1 cut short in its pixel data arrives under a new SOP Instance UID.
    const whole = readFileSync(s.files[0]!);
    const cut = toArrayBuffer(whole.subarray(0, whole.length - 1000));
    await s.cache.putInstance({ sopInstanceUID: '2.25.4242', studyInstanceUID: s.studyInstanceUID, seriesInstanceUID: s.seriesInstanceUID, transferSyntaxUID: '1.2.840.10008.1.2.1' }, cut);
    const again = await service.checkStudy(s.studyInstanceUID);
    expect(again).not.toBe(first);
    expect(reads()).toBe(9);
    expect(again.worst).toBe('blocker');
    expect(again.findings.map((f) => f.checkId)).toContain('integrity.unreadable');
  });

  it('reports a cached file that is not DICOM as unreadable, and goes on with the others', async () => {
    const s = await cacheSeries({ modality: 'MR', slices: 3, size: 64 });
    await s.cache.putInstance(
      { sopInstanceUID: '2.25.999', studyInstanceUID: s.studyInstanceUID, seriesInstanceUID: s.seriesInstanceUID, transferSyntaxUID: '1.2.840.10008.1.2.1' },
      new TextEncoder().encode('not an image').buffer,
    );
    const { service } = serviceOver(s.cache);
    const result = await service.checkStudy(s.studyInstanceUID);
    expect(result.findings.map((f) => f.checkId)).toEqual(['integrity.unreadable']);
    expect(result.worst).toBe('blocker');
  });

  it('checks a referral case’s instances against the referral note', async () => {
    const s = await cacheSeries({ modality: 'MR', slices: 3, size: 64, patientId: 'QC-LOSSY' });
    const { service } = serviceOver(s.cache);
    const sops = [...s.sops.values()];
    expect((await service.checkInstances(sops, { referral: { patientId: 'QC-LOSSY' } })).worst).toBe('ok');
    const other = await service.checkInstances(sops, { referral: { patientId: 'SOMEONE-ELSE' } });
    expect(other.findings.map((f) => f.checkId)).toContain('identity.referral');
  });
});

describe('worklist quality badges', () => {
  it('works the badges out in the background and shows the worst level, the count and the top finding', async () => {
    const bad = await cacheSeries({ modality: 'MR', slices: 5, size: 64, skip: [3], uncalibrated: true });
    const { service } = serviceOver(bad.cache);
    const badges = createQualityBadges({ quality: service, log });
    let notified = 0;
    badges.subscribe(() => notified++);
    await badges.update([{ studyInstanceUID: bad.studyInstanceUID, version: '4' }]);
    const result = badges.getState().byStudy.get(bad.studyInstanceUID)!;
    expect(result.worst).toBe('blocker');
    const text = badgeText(result);
    expect(text.label).toBe(`QC blocker (${result.findings.length})`);
    expect(text.description).toContain('Missing slices');
    // The same version again: no new work.
    await badges.update([{ studyInstanceUID: bad.studyInstanceUID, version: '4' }]);
    expect(notified).toBe(1);
  });

  it('badges only complete cached studies, and works one out again when its stored instances change', async () => {
    const s = await cacheSeries({ modality: 'MR', slices: 3, size: 64 });
    const { service, reads } = serviceOver(s.cache);
    const badges = createQualityBadges({ quality: service, log });
    const partial = { studyInstanceUID: '2.25.1', complete: false, numInstances: 10, storedBytes: 100 };
    const done = { studyInstanceUID: s.studyInstanceUID, complete: true, numInstances: 3, storedBytes: 3000 };
    await badges.update(badgeCandidates([partial, done]));
    expect([...badges.getState().byStudy.keys()]).toEqual([s.studyInstanceUID]);
    expect(badges.getState().byStudy.get(s.studyInstanceUID)!.worst).toBe('ok');
    expect(reads()).toBe(3);
    // A cut-short copy of one slice arrives: more stored bytes, a new badge.
    const whole = readFileSync(s.files[0]!);
    await s.cache.putInstance(
      { sopInstanceUID: '2.25.77', studyInstanceUID: s.studyInstanceUID, seriesInstanceUID: s.seriesInstanceUID, transferSyntaxUID: '1.2.840.10008.1.2.1' },
      toArrayBuffer(whole.subarray(0, whole.length - 500)),
    );
    await badges.update(badgeCandidates([{ ...done, numInstances: 4, storedBytes: 3500 }]));
    expect(badges.getState().byStudy.get(s.studyInstanceUID)!.worst).toBe('blocker');
    expect(badgeText(badges.getState().byStudy.get(s.studyInstanceUID)!).description).toMatch(/1 blocker/);
  });
});
