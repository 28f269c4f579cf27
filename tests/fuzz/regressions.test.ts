// Failure shapes the fuzzer found or the issue named, kept as fixed cases:
// each one ends in a clear rejection, quickly, without a large allocation.
import { deflateSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { importFiles } from '../../src/renderer/case-import/import-files';
import { readCaseNote } from '../../src/renderer/lib/dicom/case-note-reader';
import { parseSrDocument } from '../../src/renderer/lib/dicom/referral-sr';
import { readReportSr } from '../../src/renderer/lib/dicom/report-sr-reader';
import { loadDcmjs } from '../../src/renderer/lib/dicom/dcmjs-runtime';
import { decodeRleFrame } from '../../src/cli/qc-codecs';
import { readFileFacts } from '../../src/cli/qc-facts';
import { boundedInflater } from '../../src/shared/dicom/inflate-bounded';
import { loadCorpus } from './corpus';
import { nestedSequences, seedFile } from './mutate';
import type { SeedFile } from './mutate';

let seeds: SeedFile[];
beforeAll(async () => {
  seeds = await loadCorpus();
});

const seedNamed = (re: RegExp): SeedFile => {
  const s = seeds.find((f) => re.test(f.name));
  if (!s) throw new Error(`no seed file matches ${re}`);
  return s;
};

async function importOne(bytes: Uint8Array): Promise<Awaited<ReturnType<typeof importFiles>>> {
  return importFiles([{ path: 'case/IM1', size: bytes.length, read: async () => bytes.slice().buffer }]);
}

function withInserted(bytes: Uint8Array, at: number, chunk: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + chunk.length);
  out.set(bytes.subarray(0, at));
  out.set(chunk, at);
  out.set(bytes.subarray(at), at + chunk.length);
  return out;
}

describe('the seed files themselves', () => {
  it('every unmutated seed file imports (DICOMDIR included): the new limits refuse nothing real', async () => {
    for (const seed of seeds) {
      const path = seed.name === 'DICOMDIR' ? 'CD/DICOMDIR' : `case/${seed.name}`;
      const result = await importFiles([{ path, size: seed.bytes.length, read: async () => seed.bytes.slice().buffer }]);
      expect({ name: seed.name, skipped: result.skipped.filter((s) => s.kind !== 'missing') }).toEqual({ name: seed.name, skipped: [] });
      expect(result.instanceCount + result.dicomdirs.length).toBe(1);
    }
  });
});

describe("dicom-parser's buffer overrun on a non-conformant file", () => {
  // Implicit VR: dicom-parser keeps an element whose length runs past the end, and reading it later threw
  // "readFixedString: attempt to read past end of buffer" out of the import and the quality facts.
  it('an implicit-VR SOP Class UID declaring 0xFFFFFFF0 bytes is rejected as truncated by every reader', async () => {
    const seed = seedNamed(/^codec-implicit_VR_little_endian_16_bit/);
    const site = seed.sites.find((s) => s.tag === 'x00080016')!;
    const bytes = seed.bytes.slice();
    new DataView(bytes.buffer).setUint32(site.lengthAt, 0xfffffff0, true);

    const result = await importOne(bytes);
    expect(result.instanceCount).toBe(0);
    expect(result.skipped[0]).toMatchObject({ kind: 'truncated', reason: expect.stringMatching(/^truncated: \(0008,0016\) declares 4294967280 bytes, \d+ present$/) });
    const facts = readFileFacts(bytes, 'IM1');
    expect(facts.kind).toBe('unreadable');
    expect(() => readReportSr(bytes.slice().buffer)).toThrow(/^Not a DICOM file/);
    expect(readCaseNote(bytes)).toBeUndefined();
    expect(() => parseSrDocument(bytes)).toThrow();
    try {
      parseSrDocument(bytes);
    } catch (e) {
      expect(e).not.toBeInstanceOf(TypeError);
    }
  });
});

describe("dcmjs's endless reading of a malformed header", () => {
  it('sequences nested 20,000 deep (dcmjs needs minutes: its time grows with the square of the depth) are refused at import in well under a second', async () => {
    const seed = seedNamed(/^report-sr/);
    const at = seed.sites.find((s) => s.topLevel && s.tag === 'x0040a730')?.headerStart ?? seed.bytes.length;
    const bytes = withInserted(seed.bytes, at, nestedSequences(20_000, true, true));
    const started = performance.now();
    const result = await importOne(bytes);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(result.instanceCount).toBe(0);
    expect(result.skipped[0]!.reason).toMatch(/sequences nested (more than 64 levels|too) deep/);
  });

  it('deep nesting that dicom-parser skips over but dcmjs descends into is refused from the bytes, wherever it is inserted', async () => {
    const seed = seedNamed(/^report-sr/);
    for (const delimited of [true, false]) {
      const chunk = nestedSequences(2_000, true, delimited);
      for (const site of seed.sites.filter((s) => !s.tag.startsWith('x0002'))) {
        const result = await importOne(withInserted(seed.bytes, site.headerStart, chunk));
        expect({ at: site.headerStart, delimited, imported: result.instanceCount }).toEqual({ at: site.headerStart, delimited, imported: 0 });
      }
    }
  });

  it('dcmjs 0.52 answers a meta header without its group length (dcmjs#326, once an endless loop) with an error', async () => {
    const seed = seedNamed(/^ct-0/);
    const groupLength = seed.sites.find((s) => s.tag === 'x00020000')!;
    // Cut (0002,0000) out: the meta header then starts with (0002,0001).
    const bytes = new Uint8Array([...seed.bytes.subarray(0, groupLength.headerStart), ...seed.bytes.subarray(groupLength.dataOffset + 4)]);
    const dcmjs = await loadDcmjs();
    dcmjs.log?.setLevel?.('silent');
    expect(() => dcmjs.data.DicomMessage.readFile(bytes.slice().buffer)).toThrow(/meta length tag is malformed or not present/);
  });
});

describe('lengths that would allocate gigabytes', () => {
  it('a deflated data set that inflates past the limit is refused while inflating, not after', () => {
    const bomb = deflateSync(new Uint8Array(8 * 1024 * 1024), { level: 9 });
    const header = new Uint8Array(16);
    expect(() => boundedInflater(1024 * 1024)(new Uint8Array([...header, ...bomb]), 16)).toThrow(/inflates past 1 MB: refused/);
    const small = boundedInflater(1024 * 1024)(new Uint8Array([...header, ...deflateSync(new Uint8Array([1, 2, 3]))]), 16);
    expect([...small.subarray(16)]).toEqual([1, 2, 3]);
  });

  it('the deflated seed still imports through the bounded inflater', async () => {
    const result = await importOne(seedNamed(/^codec-deflated/).bytes);
    expect(result.skipped).toEqual([]);
    expect(result.instanceCount).toBe(1);
  });

  it('an RLE frame whose header claims 65535×65535 from 100 bytes is refused before the buffer is allocated', () => {
    const encoded = new Uint8Array(100);
    new DataView(encoded.buffer).setUint32(0, 2, true);
    expect(() => decodeRleFrame(encoded, { rows: 65535, columns: 65535, bitsAllocated: 16 })).toThrow(/65535×65535 cannot come from 100 bytes/);
  });
});

describe('palette images whose size overflows 32 bits', () => {
  it('a PALETTE COLOR image declaring 65535×65535 with 65536-entry 16-bit LUTs is refused at import and skipped by the pixel checks', async () => {
    const seed = seedNamed(/^codec-explicit_VR_little_endian_8_bit_PALETTE/);
    const bytes = seed.bytes.slice();
    const view = new DataView(bytes.buffer);
    for (const tag of ['x00280010', 'x00280011']) view.setUint16(seed.sites.find((s) => s.tag === tag)!.dataOffset, 0xffff, true);
    for (const tag of ['x00281101', 'x00281102', 'x00281103']) {
      const lut = seed.sites.find((s) => s.tag === tag);
      if (lut) view.setUint16(lut.dataOffset, 0, true); // 0 entries means 65536
    }
    const result = await importOne(bytes);
    expect(result.instanceCount).toBe(0);
    expect(result.skipped[0]).toMatchObject({ kind: 'malformed', reason: 'malformed image: 65535×65535×1 frames would decode to 16 GiB' });
    const facts = readFileFacts(bytes, 'IM1');
    expect(facts.kind === 'image' && facts.facts.pixelStatsSkipped).toBe('pixel data too short');
    expect(() => seedFile('mutated', bytes)).not.toThrow();
  });
});
