// @vitest-environment node
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import type { StudyRecord } from '../../../src/renderer/cache/telerad-db';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { classifySiteError } from '../../../src/renderer/dicomweb/site-error';
import { createStoredInstanceCounts } from '../../../src/renderer/worklist/cached-sizes';
import { EMPTY_FILTER, filterRows } from '../../../src/renderer/worklist/worklist-filter';
import { createWorklistStore, selectWorklistRows } from '../../../src/renderer/worklist/worklist-store';
import { testRowSealer } from '../../support/test-sealer';

// The worklist's "available offline" column: a complete case says so, a
// partly cached one says how much of it is stored, and the filter keeps only
// the cases that open with no network.
const study = (uid: string, numInstances: number, complete: boolean): StudyRecord => ({
  studyInstanceUID: uid,
  siteId: 'hospital-a',
  patientName: 'TESTER, ANNA',
  patientId: 'P1',
  studyDate: '20261120',
  modalities: ['CT'],
  description: 'CT CHEST',
  numInstances,
  complete,
  storedAt: 1,
});

let db: TeleradDB | undefined;
afterEach(async () => {
  db?.close();
  await db?.delete();
  db = undefined;
});

describe('offline share in the worklist', () => {
  it('shows a complete case as available offline and a partial one by its stored share; the filter keeps only complete ones', async () => {
    db = new TeleradDB(`telerad-worklist-offline-${process.pid}`, { sealer: testRowSealer() });
    const cache = new StudyCache(db);
    for (const s of [study('1.2.full', 2, true), study('1.2.part', 25, false), study('1.2.none', 10, false)]) await db.studies.put(s);
    const put = (sop: string, studyUID: string): Promise<unknown> =>
      cache.putInstance({ sopInstanceUID: sop, studyInstanceUID: studyUID, seriesInstanceUID: `${studyUID}.1`, transferSyntaxUID: '1.2.840.10008.1.2.1' }, new ArrayBuffer(8));
    for (let i = 0; i < 2; i++) await put(`1.2.full.${i}`, '1.2.full');
    for (let i = 0; i < 12; i++) await put(`1.2.part.${i}`, '1.2.part');

    const store = createWorklistStore({
      listSites: async () => [],
      queryStudies: async () => ({ rows: [] }),
      listCachedStudies: () => cache.listCachedStudies(),
      storedInstanceCounts: createStoredInstanceCounts(db),
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    await store.refresh();
    const rows = new Map(selectWorklistRows(store.getState()).map((r) => [r.studyInstanceUID, r]));
    expect(rows.get('1.2.full')).toMatchObject({ availableOffline: true });
    expect(rows.get('1.2.full')?.offlineFraction).toBeUndefined();
    expect(rows.get('1.2.part')).toMatchObject({ availableOffline: false, offlineFraction: 0.48 });
    expect(rows.get('1.2.none')?.offlineFraction).toBeUndefined();

    const onlyOffline = filterRows([...rows.values()], { ...EMPTY_FILTER, offline: 'complete' });
    expect(onlyOffline.map((r) => r.studyInstanceUID)).toEqual(['1.2.full']);
  });
});
