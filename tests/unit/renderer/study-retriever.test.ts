// @vitest-environment node
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import type { DicomJsonDataset } from '../../../src/shared/dicom/dicomweb-json';
import { createLogger, memorySink } from '../../../src/shared/log';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import type { StudyUpsert } from '../../../src/renderer/cache/study-cache';
import { NOT_OFFLINE_MESSAGE, StudyRetriever, StudyUnavailableError } from '../../../src/renderer/cache/study-retriever';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { DicomWebApi } from '../../../src/renderer/dicomweb/dicomweb-api';
import { sortStack } from '../../../src/renderer/viewer/stack-order';

const STUDY = '1.2.826.0.1.3680043.2.1125.7';
const SERIES = `${STUDY}.1`;
const SITE: SiteSummary = { id: 'a', name: 'Hospital A', url: 'http://pacs.invalid', authType: 'none', gatewayPath: '/sites/a/dicom-web' };
const STUDY_FIELDS: StudyUpsert = {
  studyInstanceUID: STUDY,
  siteId: 'a',
  patientName: 'TESTER, ANNA',
  patientId: 'P1',
  studyDate: '20261120',
  modalities: ['CT'],
  description: 'CT CHEST',
  numInstances: 0,
};

/** A minimal explicit-VR little-endian Part 10 file: enough header for the retriever to check and sort it. */
function part10(sop: string, instanceNumber: number, z: number): ArrayBuffer {
  const chunks: number[] = [...new Array<number>(128).fill(0), ...'DICM'.split('').map((c) => c.charCodeAt(0))];
  const el = (group: number, element: number, vr: string, value: string): void => {
    const v = value.length % 2 ? value + (vr === 'UI' ? '\0' : ' ') : value;
    chunks.push(group & 0xff, group >> 8, element & 0xff, element >> 8, vr.charCodeAt(0), vr.charCodeAt(1), v.length & 0xff, v.length >> 8);
    for (const c of v) chunks.push(c.charCodeAt(0));
  };
  el(0x0002, 0x0010, 'UI', '1.2.840.10008.1.2.1');
  el(0x0008, 0x0018, 'UI', sop);
  el(0x0008, 0x0060, 'CS', 'CT');
  el(0x0008, 0x103e, 'LO', 'AXIAL 5MM');
  el(0x0020, 0x000e, 'UI', SERIES);
  el(0x0020, 0x0013, 'IS', String(instanceNumber));
  el(0x0020, 0x0032, 'DS', `0\\0\\${z}`);
  el(0x0020, 0x0037, 'DS', '1\\0\\0\\0\\1\\0');
  return new Uint8Array(chunks).buffer;
}

const sops = [1, 2, 3, 4, 5, 6].map((n) => `${SERIES}.${n}`);
const qido: DicomJsonDataset[] = sops.map((sop, k) => ({
  '0020000E': { vr: 'UI', Value: [SERIES] },
  '00080018': { vr: 'UI', Value: [sop] },
  '00200013': { vr: 'IS', Value: [k + 1] },
}));

function fakeApi(opts: { failList?: unknown; failSop?: string } = {}): DicomWebApi & { retrieved: string[]; maxInFlight: number } {
  let inFlight = 0;
  const api = {
    retrieved: [] as string[],
    maxInFlight: 0,
    searchForStudies: async () => [],
    searchForInstances: async () => {
      if (opts.failList) throw opts.failList;
      return qido;
    },
    retrieveInstance: async (uids: { sopInstanceUID: string }) => {
      inFlight++;
      api.maxInFlight = Math.max(api.maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      if (uids.sopInstanceUID === opts.failSop) throw Object.assign(new Error('request failed'), { status: 500 });
      api.retrieved.push(uids.sopInstanceUID);
      const k = sops.indexOf(uids.sopInstanceUID);
      return part10(uids.sopInstanceUID, k + 1, -5 * k);
    },
  };
  return api;
}

const unreachable = Object.assign(new Error('request failed'), {
  status: 502,
  response: { code: 'SITE_UNREACHABLE', message: 'Hospital A could not be reached' },
  request: { getResponseHeader: () => 'SITE_UNREACHABLE' },
});

let dbs: TeleradDB[] = [];
let n = 0;
function setup(api: DicomWebApi): { cache: StudyCache; retriever: StudyRetriever } {
  const db = new TeleradDB(`telerad-retriever-${process.pid}-${n++}`);
  dbs.push(db);
  const cache = new StudyCache(db);
  return { cache, retriever: new StudyRetriever({ cache, dicomweb: () => api, log: createLogger('t', memorySink()), concurrency: 2 }) };
}

afterEach(async () => {
  for (const db of dbs) {
    db.close();
    await db.delete();
  }
  dbs = [];
});

describe('StudyRetriever', () => {
  it('stores every instance, reports progress, and marks the study complete', async () => {
    const api = fakeApi();
    const { cache, retriever } = setup(api);
    const progress: string[] = [];
    const result = await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS, onProgress: (p) => progress.push(`${p.done}/${p.total}`) });
    expect(result).toEqual({ source: 'network', complete: true });
    expect(progress[0]).toBe('0/6');
    expect(progress.at(-1)).toBe('6/6');
    expect(api.maxInFlight).toBeLessThanOrEqual(2);
    const stored = await cache.getStudyInstances(STUDY);
    expect(stored).toHaveLength(6);
    expect(sortStack(stored).map((i) => i.instanceNumber)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await cache.getStudySeries(STUDY))[0]?.description).toBe('AXIAL 5MM');
  });

  it('opens a complete study from the cache without any request', async () => {
    const api = fakeApi();
    const { cache, retriever } = setup(api);
    await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS });
    const offline = fakeApi({ failList: unreachable });
    const again = new StudyRetriever({ cache, dicomweb: () => offline, log: createLogger('t', memorySink()) });
    expect(await again.ensureStudy({ site: SITE, study: STUDY_FIELDS })).toEqual({ source: 'cache', complete: true });
    expect(offline.retrieved).toEqual([]);
  });

  it('retrieves only the instances not cached yet', async () => {
    const partial = fakeApi({ failSop: sops[3] });
    const { cache, retriever } = setup(partial);
    const first = await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS });
    expect(first.complete).toBe(false);
    expect(await cache.getStudyInstances(STUDY)).toHaveLength(5);
    const api = fakeApi();
    const second = new StudyRetriever({ cache, dicomweb: () => api, log: createLogger('t', memorySink()) });
    expect((await second.ensureStudy({ site: SITE, study: STUDY_FIELDS })).complete).toBe(true);
    expect(api.retrieved).toEqual([sops[3]]);
  });

  it('says plainly that a study neither cached nor reachable cannot open', async () => {
    const { retriever } = setup(fakeApi({ failList: unreachable }));
    const attempt = retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS });
    await expect(attempt).rejects.toBeInstanceOf(StudyUnavailableError);
    await expect(attempt).rejects.toThrow(NOT_OFFLINE_MESSAGE);
  });
});

describe('sortStack', () => {
  const inst = (n: number, z?: number): Parameters<typeof sortStack>[0][number] => ({
    sopInstanceUID: `1.${n}`,
    studyInstanceUID: STUDY,
    seriesInstanceUID: SERIES,
    instanceNumber: n,
    size: 1,
    sha256: '',
    transferSyntaxUID: '',
    storedAt: 0,
    ...(z !== undefined ? { imagePositionPatient: [0, 0, z], imageOrientationPatient: [1, 0, 0, 0, 1, 0] } : {}),
  });

  it('orders axial slices head first by position, whatever their instance numbers', () => {
    expect(sortStack([inst(1, -10), inst(2, 0), inst(3, -5)]).map((i) => i.instanceNumber)).toEqual([2, 3, 1]);
  });

  it('falls back to instance number when a slice has no position', () => {
    expect(sortStack([inst(3, 0), inst(1), inst(2, -5)]).map((i) => i.instanceNumber)).toEqual([1, 2, 3]);
  });
});
