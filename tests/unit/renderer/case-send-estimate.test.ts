import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCharlsFrameCodec } from '../../../src/renderer/case-send/jpegls-codec';
import type { CharlsModule } from '../../../src/renderer/case-send/jpegls-codec';
import { estimateCompressed, estimateSend, lastDownloadBytesPerSecond, measuredBitsPerSecond } from '../../../src/renderer/case-send/send-estimate';
import { transcodeForSending } from '../../../src/renderer/case-send/transcode';
import type { TranscodeDeps } from '../../../src/renderer/case-send/transcode';
import { loadDcmjs } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import type { TransferSnapshot } from '../../../src/renderer/cache/transfers-store';
import { generateCtSeries } from '../../fixtures/ct-phantom';
import { generateEncapsulatedPdf, labResultsPdf } from '../../fixtures/referral-packet';

let deps: TranscodeDeps;
beforeAll(async () => {
  const factory = createRequire(import.meta.url)('@cornerstonejs/codec-charls/wasmjs') as () => Promise<CharlsModule>;
  deps = { dcmjs: await loadDcmjs(), codec: createCharlsFrameCodec(await factory()) };
});

describe('estimateSend', () => {
  it('gives bytes and, with a measured rate, the seconds at that rate', () => {
    expect(estimateSend([100_000_000, 57_000_000], { bitsPerSecond: 10_000_000 })).toEqual({ bytes: 157_000_000, seconds: 125.6 });
  });

  it('without a measured rate says the bytes only', () => {
    expect(estimateSend([1000, 2000], {})).toEqual({ bytes: 3000 });
    expect(estimateSend([1000], { bitsPerSecond: 0 })).toEqual({ bytes: 1000 });
  });

  it('takes the outbox upload rate before the transfers download rate, and the newest finished transfer when none runs', () => {
    expect(measuredBitsPerSecond({ uploadBytesPerSecond: 1_000_000, downloadBytesPerSecond: 5_000_000 })).toBe(8_000_000);
    expect(measuredBitsPerSecond({ downloadBytesPerSecond: 5_000_000 })).toBe(40_000_000);
    expect(measuredBitsPerSecond({})).toBeUndefined();
    const t = (over: Partial<TransferSnapshot>): TransferSnapshot => ({
      studyInstanceUID: '1',
      siteId: 's',
      siteName: 'S',
      label: 'x',
      state: 'done',
      instancesDone: 1,
      instancesTotal: 1,
      previewsDone: 0,
      previewsTotal: 0,
      pausable: false,
      bytes: 0,
      bandwidthBps: 0,
      startedAt: 0,
      resumable: false,
      ...over,
    });
    expect(lastDownloadBytesPerSecond({ bandwidthBps: 0, transfers: [t({ bytes: 10_000_000, startedAt: 0, finishedAt: 8000 }), t({ bytes: 1, finishedAt: 1 })] })).toBe(1_250_000);
    expect(lastDownloadBytesPerSecond({ bandwidthBps: 300_000, transfers: [] })).toBe(300_000);
    expect(lastDownloadBytesPerSecond({ bandwidthBps: 0, transfers: [t({ state: 'failed', bytes: 5, finishedAt: 9 })] })).toBeUndefined();
  });
});

describe('estimateCompressed', () => {
  it('extrapolates a 3-image sample to the whole CT within 10 % of transcoding every image, and counts a PDF at its size', async () => {
    const ct = generateCtSeries({ patientName: 'EST^TEST', patientId: 'E-1', slices: 24, rows: 128, columns: 128 });
    const study = { studyInstanceUID: ct.studyInstanceUID, patientName: 'EST^TEST', patientId: 'E-1', studyDescription: 'CT' };
    const pdf = generateEncapsulatedPdf(study, await labResultsPdf('EST^TEST', 'E-1', 'Labs'), 'Labs');
    const files = [...ct.instances.map((i) => i.bytes.slice().buffer), pdf.bytes.slice().buffer];
    const est = await estimateCompressed(files, deps, { sampleSize: 3 });
    let exact = 0;
    for (const f of files) exact += (await transcodeForSending(f, deps)).bytes.byteLength;
    expect(est.sampled).toBe(3);
    expect(est.estimated).toBe(true);
    expect(est.originalBytes).toBe(files.reduce((n, f) => n + f.byteLength, 0));
    expect(est.bytes).toBeLessThan(est.originalBytes * 0.8);
    expect(Math.abs(est.bytes - exact) / exact).toBeLessThan(0.1);
  });
});
