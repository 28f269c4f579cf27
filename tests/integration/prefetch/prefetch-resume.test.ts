import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { createDicomWebApiFactory } from '../../../src/renderer/dicomweb/dicomweb-api';
import { createPrefetchScheduler } from '../../../src/renderer/prefetch/prefetch-scheduler';
import type { NetworkStatus, PrefetchScheduler, PrefetchState } from '../../../src/renderer/prefetch/prefetch-scheduler';
import { isQido, isWado } from '../../support/fault-proxy';
import { startRetrievalHarness } from '../retrieval/harness';
import type { RetrievalHarness } from '../retrieval/harness';

// The whole prefetch path against a real Orthanc behind the fault proxy and
// the in-process browser host: a link cut part way through a STAT case pauses
// prefetch; when the site answers its probe again the case completes, and no
// instance stored before the cut is fetched a second time.
let h: RetrievalHarness;

beforeAll(async () => {
  h = await startRetrievalHarness({ studies: [{ slices: 10 }, { slices: 4 }] });
}, 120_000);

afterAll(async () => {
  await h?.close();
});

function until(s: PrefetchScheduler, pred: (st: PrefetchState) => boolean, timeoutMs: number): Promise<PrefetchState> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const st = s.getState();
      if (!pred(st)) return false;
      clearTimeout(timer);
      unsubscribe();
      resolve(st);
      return true;
    };
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`prefetch state never matched; last ${JSON.stringify(s.getState())}`));
    }, timeoutMs);
    const unsubscribe = s.subscribe(() => void check());
    check();
  });
}

const alwaysOnline: NetworkStatus = { isOnline: () => true, subscribe: () => () => undefined };

describe('prefetch over a cut link', () => {
  it('pauses when the link is cut part way through a STAT case and resumes without refetching stored instances', async () => {
    const stat = h.studies[0]!;
    const routine = h.studies[1]!;
    const r = h.renderer({ retry: { attempts: 1 } });
    const tokenFetch: typeof fetch = (input, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('x-telerad-token', h.host.token);
      return fetch(input, { ...init, headers });
    };
    const dicomweb = createDicomWebApiFactory(h.host.origin, tokenFetch);
    h.proxy.resetCounters();
    // After the listing and 4 instances the link goes: every later request is cut, probes included.
    h.proxy.addFault({ fault: { kind: 'cut', afterBytes: 0 }, match: isWado, skip: 4, times: Infinity });
    h.proxy.addFault({ fault: { kind: 'cut', afterBytes: 0 }, match: isQido, skip: 1, times: Infinity });

    const scheduler = createPrefetchScheduler({
      retriever: r.retriever,
      cache: r.cache,
      prefs: { marks: async () => [], keepOfflineSites: async () => new Set(), bandwidthCap: async () => undefined },
      candidates: () => [
        { siteId: h.site.id, priority: 'routine', availableOffline: false, study: h.studyFields(routine) },
        { siteId: h.site.id, priority: 'STAT', availableOffline: false, study: h.studyFields(stat) },
      ],
      site: (id) => (id === h.site.id ? h.site : undefined),
      probe: async (site) => {
        await dicomweb(site).searchForStudies({ limit: '1' });
      },
      network: alwaysOnline,
      log: createLogger('prefetch', memorySink()),
      probeIntervalMs: 300,
    });
    scheduler.start();
    try {
      const paused = await until(scheduler, (s) => s.phase === 'paused-offline', 20_000);
      expect(paused.offlineSites).toEqual([h.site.id]);
      const storedBefore = (await r.cache.getStudyInstances(stat.studyInstanceUID)).map((i) => i.sopInstanceUID);
      expect(storedBefore.length).toBeGreaterThan(0);
      expect(storedBefore.length).toBeLessThan(stat.sopInstanceUIDs.length);
      expect((await r.cache.getStudy(stat.studyInstanceUID))?.complete).toBe(false);
      // Probes keep failing while the link is down; nothing is downloaded.
      const wadoWhileDown = h.proxy.exchanges.filter(isWado).length;
      await new Promise((res) => setTimeout(res, 1000));
      expect(h.proxy.exchanges.filter(isWado).length).toBe(wadoWhileDown);
      expect(scheduler.getState().phase).toBe('paused-offline');

      const beforeResume = h.proxy.exchanges.length;
      h.proxy.clearFaults();
      await until(scheduler, (s) => s.phase === 'idle', 20_000);
      const study = await r.cache.getStudy(stat.studyInstanceUID);
      expect(study?.complete).toBe(true);
      expect(study?.lastAccessedAt).toBeGreaterThan(0);
      const stored = await r.cache.getStudyInstances(stat.studyInstanceUID);
      expect(stored).toHaveLength(stat.sopInstanceUIDs.length);
      expect(study?.storedBytes).toBe(stored.reduce((n, i) => n + i.size, 0));
      for (const sop of storedBefore) expect(h.proxy.requestsFor(sop), `stored ${sop} fetched again`).toBe(1);
      // After the resume each missing instance is fetched once, and nothing stored is fetched again.
      // (Before the pause, a download abandoned when the link went may have reached the proxy whole
      // without being stored: fetching that one again is the point.)
      const afterResume = h.proxy.exchanges.slice(beforeResume).filter(isWado).map((e) => e.sopInstanceUID!);
      expect(new Set(afterResume).size).toBe(afterResume.length);
      expect(afterResume.sort()).toEqual(stat.sopInstanceUIDs.filter((sop) => !storedBefore.includes(sop)).sort());
      // The routine case, neither marked nor at a keep-offline site, was never touched.
      for (const sop of routine.sopInstanceUIDs) expect(h.proxy.requestsFor(sop)).toBe(0);
    } finally {
      scheduler.stop();
    }
  }, 60_000);
});
