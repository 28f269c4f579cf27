import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dicomParser } from '../../../src/renderer/lib/dicom/dicom-parser';
import { TS_JPEG_LS_LOSSLESS } from '../../../src/renderer/dicomweb/dicomweb-api';
import { isWado } from '../../support/fault-proxy';
import { startRetrievalHarness } from './harness';
import type { RetrievalHarness } from './harness';

// Transfer syntax negotiation and retries against a real Orthanc 1.10, whose
// DICOMweb plugin transcodes to JPEG-LS lossless on request. Bytes are
// counted at the proxy as they come off the wire (after Orthanc's gzip).
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
let h: RetrievalHarness;

beforeAll(async () => {
  h = await startRetrievalHarness({ studies: [{ slices: 6 }, { slices: 4 }] });
});

afterAll(async () => {
  await h?.close();
});

const fileMetaTs = (bytes: ArrayBuffer): string | undefined => dicomParser.readPart10Header(new Uint8Array(bytes)).string('x00020010')?.trim();

describe('transfer syntax per site', () => {
  it('JPEG-LS lossless moves fewer bytes on the wire than the original, and is stored as JPEG-LS', async () => {
    const study = h.studies[0]!;
    const ours = h.renderer();
    h.proxy.resetCounters();
    expect((await ours.retriever.ensureStudy({ site: h.site, study: h.studyFields(study) })).complete).toBe(true);
    const jpegLsBytes = h.proxy.wireBytes((e) => isWado(e) && e.status === 200);
    expect(h.proxy.exchanges.filter(isWado).every((e) => e.accept.includes(`transfer-syntax=${TS_JPEG_LS_LOSSLESS}`))).toBe(true);
    for (const sop of study.sopInstanceUIDs) {
      const bytes = await ours.cache.readInstanceBytes(sop);
      expect(fileMetaTs(bytes!)).toBe(TS_JPEG_LS_LOSSLESS);
    }
    expect(await ours.db.siteCapabilities.get(h.site.id)).toMatchObject({ jpegLsLossless: true });

    const original = h.renderer({ negotiateJpegLs: false });
    h.proxy.resetCounters();
    expect((await original.retriever.ensureStudy({ site: h.site, study: h.studyFields(study) })).complete).toBe(true);
    const originalBytes = h.proxy.wireBytes((e) => isWado(e) && e.status === 200);
    const storedOriginal = await original.cache.readInstanceBytes(study.sopInstanceUIDs[0]!);
    expect(fileMetaTs(storedOriginal!)).toBe(EXPLICIT_LE);

    // Orthanc 1.10 gzips each original instance (≈0.52× of the raw file here, the phantom is noisy);
    // JPEG-LS (≈0.39× raw) is not gzipped further. Measured here: ≈0.75× the gzipped original.
    expect(jpegLsBytes).toBeLessThan(originalBytes * 0.85);
    expect(h.proxy.exchanges.filter(isWado).every((e) => e.contentEncoding === 'gzip')).toBe(true);
  });

  it('falls back to the original transfer syntax at a site that refuses JPEG-LS, probing only once', async () => {
    const study = h.studies[1]!;
    const r = h.renderer();
    h.proxy.resetCounters();
    h.proxy.addFault({ fault: { kind: 'status', status: 406 }, match: (q) => isWado(q) && q.accept.includes(TS_JPEG_LS_LOSSLESS), times: Infinity });
    try {
      expect((await r.retriever.ensureStudy({ site: h.site, study: h.studyFields(study) })).complete).toBe(true);
    } finally {
      h.proxy.clearFaults();
    }
    expect(h.proxy.exchanges.filter((e) => e.status === 406)).toHaveLength(1);
    expect((await r.cache.getStudyInstances(study.studyInstanceUID)).every((i) => i.transferSyntaxUID === EXPLICIT_LE)).toBe(true);
    expect(await r.db.siteCapabilities.get(h.site.id)).toMatchObject({ jpegLsLossless: false });
  });

  it('retries after 503 answers and completes', async () => {
    const study = h.studies[1]!;
    const r = h.renderer();
    h.proxy.resetCounters();
    h.proxy.addFault({ fault: { kind: 'status', status: 503 }, match: isWado, times: 2 });
    const result = await r.retriever.ensureStudy({ site: h.site, study: h.studyFields(study) });
    expect(result).toEqual({ source: 'network', complete: true });
    expect(h.proxy.exchanges.filter((e) => e.status === 503)).toHaveLength(2);
    expect(r.transfers.getState().transfers[0]).toMatchObject({ state: 'done', instancesDone: 4, instancesTotal: 4 });
  });
});
