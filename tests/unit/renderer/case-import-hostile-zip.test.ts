// Zips from outside: entries whose names climb out of the case, zip bombs
// (checked from the central directory before anything is inflated), and the
// preamble of kept files zeroed (DICOM/executable polyglots, CVE-2019-11687).
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { importFiles, ZIP_LIMITS } from '../../../src/renderer/case-import/import-files';
import { entryFromBytes } from '../../fixtures/case-import-entries';
import { generateCtSeries } from '../../fixtures/ct-phantom';

function slices(n: number): Uint8Array[] {
  return generateCtSeries({ patientName: 'ZIP^TEST', patientId: 'Z-1', slices: n, rows: 16, columns: 16 }).instances.map((i) => i.bytes);
}

/** Offsets of each central directory header's uncompressed-size field (PK\1\2 + 24). */
function centralSizeFields(zip: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= zip.length; i++) if (zip[i] === 0x50 && zip[i + 1] === 0x4b && zip[i + 2] === 0x01 && zip[i + 3] === 0x02) out.push(i + 24);
  return out;
}

describe('zip import refuses what would land outside the case', () => {
  it('skips entries named ../, /absolute, C:\\ and a\\..\\.. with a reason each, and imports the safe one', async () => {
    const [a, b, c, d, e] = slices(5);
    const zip = zipSync({ '../evil.dcm': a!, '/etc/cron.d/x.dcm': b!, 'C:\\Windows\\x.dcm': c!, 'case\\..\\..\\up.dcm': d!, 'case/ok.dcm': e! }, { level: 1 });
    const result = await importFiles([entryFromBytes('upload.zip', zip)]);
    expect(result.instanceCount).toBe(1);
    expect(result.studies[0]!.series[0]!.instances[0]!.path).toBe('upload.zip/case/ok.dcm');
    const refused = result.skipped.filter((s) => s.kind === 'refused');
    expect(refused.map((s) => s.path).sort()).toEqual(['upload.zip/../evil.dcm', 'upload.zip//etc/cron.d/x.dcm', 'upload.zip/C:\\Windows\\x.dcm', 'upload.zip/case\\..\\..\\up.dcm'].sort());
    for (const s of refused) expect(s.reason).toMatch(/points outside the case folder/);
  });
});

describe('zip import refuses zip bombs before inflating them', () => {
  it('refuses a 64 MB block of zeros packed into a few kilobytes (over 500×)', async () => {
    const bomb = zipSync({ 'IMG.dcm': new Uint8Array(64 * 1024 * 1024) }, { level: 9 });
    expect(bomb.length).toBeLessThan(200_000);
    const result = await importFiles([entryFromBytes('bomb.zip', bomb)]);
    expect(result.instanceCount).toBe(0);
    expect(result.skipped).toEqual([{ path: 'bomb.zip/IMG.dcm', kind: 'refused', reason: expect.stringMatching(/would unpack to 64 MB .*zip bomb/) }]);
  });

  it('refuses an entry whose central directory claims 4 GB without allocating it', async () => {
    const [a] = slices(1);
    const zip = zipSync({ 'IMG.dcm': a! }, { level: 1 });
    const view = new DataView(zip.buffer, zip.byteOffset);
    for (const at of centralSizeFields(zip)) view.setUint32(at, 0xfffffff0, true);
    const result = await importFiles([entryFromBytes('liar.zip', zip)]);
    expect(result.instanceCount).toBe(0);
    expect(result.skipped[0]).toMatchObject({ path: 'liar.zip/IMG.dcm', kind: 'refused', reason: expect.stringMatching(/4096 MB unpacked is over the 1024 MB limit per file/) });
  });

  it('stops at the total size and entry count of one import, across zips and zips in zips', async () => {
    const files = slices(4);
    const inner = zipSync({ 'x/1.dcm': files[0]!, 'x/2.dcm': files[1]! }, { level: 0 });
    const outer = zipSync({ 'inner.zip': inner, 'y/3.dcm': files[2]!, 'y/4.dcm': files[3]! }, { level: 0 });
    // Room for the inner zip and one more slice, not for all four slices.
    const limits = { ...ZIP_LIMITS, maxTotalBytes: inner.length + files[2]!.length + files[0]!.length + 10 };
    const result = await importFiles([entryFromBytes('outer.zip', outer)], { zipLimits: limits });
    const overBudget = result.skipped.filter((s) => /would unpack to more than/.test(s.reason));
    expect(result.instanceCount + overBudget.length).toBe(4);
    expect(overBudget.length).toBeGreaterThan(0);

    const many = zipSync(Object.fromEntries(files.map((f, i) => [`m/${i}.dcm`, f])), { level: 0 });
    const counted = await importFiles([entryFromBytes('many.zip', many)], { zipLimits: { ...ZIP_LIMITS, maxEntries: 3 } });
    expect(counted.instanceCount).toBe(0);
    expect(counted.skipped).toEqual([{ path: 'many.zip', kind: 'unreadable', reason: 'not a readable zip file: more than 3 entries in this import\'s zips: refused' }]);
  });

  it('refuses zips nested deeper than the limit (a recursive zip quine is never unpacked forever)', async () => {
    const [a] = slices(1);
    let z: Uint8Array = zipSync({ 'IMG.dcm': a! }, { level: 0 });
    for (let i = 0; i < ZIP_LIMITS.maxDepth; i++) z = zipSync({ [`level${i}.zip`]: z }, { level: 0 });
    const result = await importFiles([entryFromBytes('deep.zip', z)]);
    expect(result.instanceCount).toBe(0);
    expect(result.skipped[0]!.reason).toMatch(/nested more than 3 zips deep/);
  });
});

describe('imported files lose their preamble', () => {
  it('zeroes an executable header in the preamble, keeps every other byte, and leaves the caller\'s bytes alone', async () => {
    const [slice] = slices(1);
    const polyglot = slice!.slice();
    polyglot.set([0x4d, 0x5a, 0x90, 0x00, 0x03], 0); // "MZ": a PE executable header
    polyglot.fill(0x41, 64, 128);
    const before = polyglot.slice();
    const result = await importFiles([entryFromBytes('case/IM1', polyglot)]);
    const kept = new Uint8Array(result.studies[0]!.series[0]!.instances[0]!.bytes);
    expect([...kept.subarray(0, 128)].every((b) => b === 0)).toBe(true);
    expect(kept.subarray(128)).toEqual(polyglot.subarray(128));
    expect(polyglot).toEqual(before);
  });
});
