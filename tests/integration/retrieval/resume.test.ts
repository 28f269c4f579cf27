import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TS_JPEG_LS_LOSSLESS } from '../../../src/renderer/dicomweb/dicomweb-api';
import { isWado } from '../../support/fault-proxy';
import { startRetrievalHarness } from './harness';
import type { RetrievalHarness } from './harness';

// A link cut in the middle of an instance: what was stored stays stored and is
// never fetched again; the instance that was cut is never stored half.
let h: RetrievalHarness;

beforeAll(async () => {
  h = await startRetrievalHarness({ studies: [{ slices: 8 }, { slices: 6 }] });
});

afterAll(async () => {
  await h?.close();
});

describe('resume after a cut link', () => {
  it('a retrieval cut mid-instance resumes where it stopped, without fetching stored instances again', async () => {
    const study = h.studies[0]!;
    const r = h.renderer({ retry: { attempts: 1 } }); // no retry: the cut ends this retrieval
    h.proxy.resetCounters();
    // The 4th instance answer is cut after 40 kB of its body.
    h.proxy.addFault({ fault: { kind: 'cut', afterBytes: 40_000 }, match: isWado, skip: 3 });
    const first = await r.retriever.ensureStudy({ site: h.site, study: h.studyFields(study) });
    expect(first.complete).toBe(false);
    // The gateway passes the cut on: mid-body if the client already had the headers, else as a closed socket
    // before them (fetch cannot tell that from the host being gone).
    expect(first.failure?.message).toMatch(/(dropped the connection mid-transfer|no connection to the app host) while retrieving instance/);
    const cutSop = h.proxy.exchanges.find((e) => e.fault === 'cut')!.sopInstanceUID!;
    const storedBefore = (await r.cache.getStudyInstances(study.studyInstanceUID)).map((i) => i.sopInstanceUID);
    expect(storedBefore.length).toBeGreaterThan(0);
    expect(storedBefore).not.toContain(cutSop);
    expect(r.transfers.getState().transfers[0]).toMatchObject({ state: 'failed', resumable: true });
    expect(r.transfers.getState().transfers[0]?.lastError).toMatch(/^Hospital A: (dropped the connection|no connection)/);

    // The link is back: the same call (what reopening the study or "resume" does) completes it.
    const second = await r.retriever.ensureStudy({ site: h.site, study: h.studyFields(study) });
    expect(second).toEqual({ source: 'network', complete: true });
    for (const sop of storedBefore) expect(h.proxy.requestsFor(sop), `stored ${sop} fetched again`).toBe(1);
    expect(h.proxy.requestsFor(cutSop)).toBe(2);
    const stored = await r.cache.getStudyInstances(study.studyInstanceUID);
    expect(stored).toHaveLength(8);
    for (const inst of stored) {
      expect(inst.transferSyntaxUID).toBe(TS_JPEG_LS_LOSSLESS);
      expect((await r.cache.readInstanceBytes(inst.sopInstanceUID))?.byteLength).toBe(inst.size); // hash-checked read
    }
  });

  it('with retries on, a cut instance is fetched again in the same retrieval and every other instance once', async () => {
    const study = h.studies[1]!;
    const r = h.renderer();
    h.proxy.resetCounters();
    h.proxy.addFault({ fault: { kind: 'cut', afterBytes: 10_000 }, match: isWado, skip: 2 });
    const result = await r.retriever.ensureStudy({ site: h.site, study: h.studyFields(study) });
    expect(result).toEqual({ source: 'network', complete: true });
    const cutSop = h.proxy.exchanges.find((e) => e.fault === 'cut')!.sopInstanceUID!;
    for (const sop of study.sopInstanceUIDs) expect(h.proxy.requestsFor(sop)).toBe(sop === cutSop ? 2 : 1);
    expect(r.transfers.getState().transfers[0]).toMatchObject({ state: 'done', instancesDone: 6, instancesTotal: 6 });
  });
});
