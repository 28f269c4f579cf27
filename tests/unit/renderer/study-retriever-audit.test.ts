// @vitest-environment node
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import type { DicomJsonDataset } from '../../../src/shared/dicom/dicomweb-json';
import { createLogger, memorySink } from '../../../src/shared/log';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { StudyRetriever } from '../../../src/renderer/cache/study-retriever';
import type { StudyRetrievedEvent } from '../../../src/renderer/cache/study-retriever';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { DicomWebApi } from '../../../src/renderer/dicomweb/dicomweb-api';
import { createTransfersStore } from '../../../src/renderer/cache/transfers-store';
import { TEST_SITE, instanceList, studyFields, tinyPart10 } from '../../support/tiny-dicom';
import { testRowSealer } from '../../support/test-sealer';

// The retrieval events the audit trail records ('study.retrieve'): once per
// retrieval that brought instances from the site, naming exactly those.
const STUDY = '1.2.826.0.1.3680043.2.1125.9';
const SERIES = `${STUDY}.1`;
const sops = [1, 2, 3, 4, 5, 6].map((k) => `${SERIES}.${k}`);
const qido: DicomJsonDataset[] = instanceList(SERIES, sops);

const unreachable = Object.assign(new Error('request failed'), {
  status: 502,
  response: { code: 'SITE_UNREACHABLE', message: 'Hospital A could not be reached' },
  request: { getResponseHeader: () => 'SITE_UNREACHABLE' },
});

/** A site serving the six instances; `failSop` always answers 500, `failList` makes the listing fail. */
function site(opts: { failSop?: string; failList?: unknown; gate?: Promise<void> } = {}): DicomWebApi & { retrieved: string[] } {
  const api = {
    retrieved: [] as string[],
    searchForStudies: async () => [],
    retrieveRendered: async () => Promise.reject(new Error('no /rendered at this site')),
    searchForInstances: async () => {
      if (opts.failList) throw opts.failList;
      return qido;
    },
    retrieveInstance: async (uids: { sopInstanceUID: string }, signal?: AbortSignal) => {
      if (api.retrieved.length >= 2 && opts.gate) await opts.gate;
      await new Promise((r) => setTimeout(r, 1));
      if (signal?.aborted) throw signal.reason;
      if (uids.sopInstanceUID === opts.failSop) throw Object.assign(new Error('request failed'), { status: 500 });
      api.retrieved.push(uids.sopInstanceUID);
      const k = sops.indexOf(uids.sopInstanceUID);
      return tinyPart10({ sop: uids.sopInstanceUID, series: SERIES, instanceNumber: k + 1, z: -5 * k, transferSyntaxUID: '1.2.840.10008.1.2.1' });
    },
  };
  return api;
}

let dbs: TeleradDB[] = [];
let n = 0;
function setup(): { cache: StudyCache; events: StudyRetrievedEvent[]; retriever: (api: DicomWebApi, extra?: { transfers?: ReturnType<typeof createTransfersStore>; concurrency?: number }) => StudyRetriever } {
  const db = new TeleradDB(`telerad-retriever-audit-${process.pid}-${n++}`, { sealer: testRowSealer() });
  dbs.push(db);
  const cache = new StudyCache(db);
  const events: StudyRetrievedEvent[] = [];
  return {
    cache,
    events,
    retriever: (api, extra = {}) =>
      new StudyRetriever({
        cache,
        dicomweb: () => api,
        log: createLogger('t', memorySink()),
        concurrency: extra.concurrency ?? 2,
        retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
        negotiateJpegLs: false,
        onStudyRetrieved: (e) => events.push(e),
        ...(extra.transfers ? { transfers: extra.transfers } : {}),
      }),
  };
}

afterEach(async () => {
  for (const db of dbs) {
    db.close();
    await db.delete();
  }
  dbs = [];
});

describe('StudyRetriever: retrievals reported for the audit trail', () => {
  it('reports one successful retrieval naming the study, site, patient and every instance fetched', async () => {
    const { retriever, events } = setup();
    await retriever(site()).ensureStudy({ site: TEST_SITE, study: studyFields(STUDY) });
    expect(events).toHaveLength(1);
    expect(events[0]).toEqual({
      studyInstanceUID: STUDY,
      siteId: TEST_SITE.id,
      patient: { id: 'P1', name: 'TESTER, ANNA' },
      sopInstanceUIDs: expect.arrayContaining(sops),
      outcome: 'success',
    });
    expect(events[0]?.sopInstanceUIDs).toHaveLength(6);
  });

  it('reports nothing when the study opens from the cache complete', async () => {
    const { retriever, events } = setup();
    await retriever(site()).ensureStudy({ site: TEST_SITE, study: studyFields(STUDY) });
    const offline = site({ failList: unreachable });
    await retriever(offline).ensureStudy({ site: TEST_SITE, study: studyFields(STUDY) });
    expect(events).toHaveLength(1);
    expect(offline.retrieved).toEqual([]);
  });

  it('reports a failure with the reason and only what arrived when an instance keeps failing, then the rest when it comes', async () => {
    const { retriever, events } = setup();
    const result = await retriever(site({ failSop: sops[3] })).ensureStudy({ site: TEST_SITE, study: studyFields(STUDY) });
    expect(result.complete).toBe(false);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: 'failure', studyInstanceUID: STUDY });
    expect(events[0]?.reason).toMatch(/5 of 6 instances in the cache$/);
    expect(events[0]?.reason).toContain(sops[3]);
    expect([...(events[0]?.sopInstanceUIDs ?? [])].sort()).toEqual(sops.filter((s) => s !== sops[3]).sort());

    await retriever(site()).ensureStudy({ site: TEST_SITE, study: studyFields(STUDY) });
    expect(events).toHaveLength(2);
    expect(events[1]).toMatchObject({ outcome: 'success', sopInstanceUIDs: [sops[3]] });
  });

  it('reports nothing for a site that cannot be reached before any instance arrived', async () => {
    const { retriever, events } = setup();
    await expect(retriever(site({ failList: unreachable })).ensureStudy({ site: TEST_SITE, study: studyFields(STUDY) })).rejects.toThrow();
    expect(events).toEqual([]);
  });

  it('reports a cancelled retrieval as a failure naming the two instances that did arrive', async () => {
    const { retriever, events } = setup();
    const transfers = createTransfersStore();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const api = site({ gate });
    const running = retriever(api, { transfers, concurrency: 1 }).ensureStudy({ site: TEST_SITE, study: studyFields(STUDY) });
    while (api.retrieved.length < 2) await new Promise((r) => setTimeout(r, 2));
    transfers.cancel(STUDY);
    release();
    await running;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: 'failure', reason: 'retrieval cancelled; 2 of 6 instances in the cache' });
    expect(events[0]?.sopInstanceUIDs).toHaveLength(2);
  });
});
