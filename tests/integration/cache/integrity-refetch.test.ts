import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheIntegrityError } from '../../../src/renderer/cache/study-cache';
import { startRetrievalHarness } from '../retrieval/harness';
import type { Renderer, RetrievalHarness } from '../retrieval/harness';
import { flipSealedByte } from '../../support/test-sealer';

// A stored image whose bytes were damaged on disk: the read refuses it, the
// study stops being complete, and opening the study again fetches exactly
// that one image from the site (counted at the fault proxy in front of Orthanc).
let h: RetrievalHarness;
let r: Renderer;

beforeAll(async () => {
  h = await startRetrievalHarness({ studies: [{ slices: 4, rows: 256, columns: 256 }] });
  r = h.renderer();
});

afterAll(async () => {
  await h?.close();
});

describe('a corrupt cached instance', () => {
  it('is dropped on read and re-fetched alone, after which the study is complete again', async () => {
    const study = h.studies[0]!;
    const uid = study.studyInstanceUID;
    expect((await r.retriever.ensureStudy({ site: h.site, study: h.studyFields(study) })).complete).toBe(true);
    const victim = study.sopInstanceUIDs[1]!;
    const original = (await r.cache.readInstanceBytes(victim))!;
    expect(h.proxy.requestsFor(victim)).toBe(1);

    expect(original.byteLength).toBeGreaterThan(0);
    // Flip one byte of the stored (sealed) copy, as disk corruption would.
    await flipSealedByte(r.db.name, 'instanceBytes', victim);

    await expect(r.cache.readInstanceBytes(victim)).rejects.toBeInstanceOf(CacheIntegrityError);
    expect(await r.cache.hasInstance(victim)).toBe(false);
    expect((await r.cache.getStudy(uid))?.complete).toBe(false);
    // The rest of the study still reads (offline it still displays).
    for (const sop of study.sopInstanceUIDs.filter((s) => s !== victim)) expect(await r.cache.readInstanceBytes(sop)).toBeInstanceOf(ArrayBuffer);

    const again = await r.retriever.ensureStudy({ site: h.site, study: h.studyFields(study) });
    expect(again).toMatchObject({ source: 'network', complete: true });
    expect(h.proxy.requestsFor(victim)).toBe(2);
    for (const sop of study.sopInstanceUIDs.filter((s) => s !== victim)) expect(h.proxy.requestsFor(sop)).toBe(1);
    expect((await r.cache.getStudy(uid))?.complete).toBe(true);
    expect(new Uint8Array((await r.cache.readInstanceBytes(victim))!)).toEqual(new Uint8Array(original));
  });
});
