// A zip bomb made of many entries each too small for the per-entry ratio
// check (issue 18): an import may inflate from a zip no more than a budget
// tied to the zip's size on disk, and the refusal costs the import nothing else.
import { deflateSync, Zip, zipSync } from 'fflate';
import type { ZipInputFile } from 'fflate';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { importFiles, ZIP_LIMITS } from '../../../src/renderer/case-import/import-files';
import type { Logger } from '../../../src/shared/log';
import { entryFromBytes } from '../../fixtures/case-import-entries';
import { generateCtSeries } from '../../fixtures/ct-phantom';

const MiB = 1024 * 1024;

/**
 * A zip of `count` entries of `size` zero bytes, each deflated at level 9.
 * The same bytes zipSync would write, but deflated once and added `count`
 * times: zipSync takes ~20 s to deflate 960 MiB of zeros on a shared core.
 */
function zerosZip(count: number, size: number): Uint8Array {
  const zeros = new Uint8Array(size);
  const packed = deflateSync(zeros, { level: 9 });
  const crc = crc32(zeros);
  const parts: Uint8Array[] = [];
  const zip = new Zip((err, chunk) => {
    if (err) throw err;
    parts.push(chunk);
  });
  for (let i = 0; i < count; i++) {
    // Already deflated: handed to the zip as is, with the size and CRC of what it inflates to.
    const file: ZipInputFile = {
      filename: `IMG${String(i).padStart(4, '0')}.dcm`,
      size,
      crc,
      compression: 8,
    };
    zip.add(file);
    file.ondata!(null, packed, true);
  }
  zip.end();
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function ctSlices(n: number, size: number): Uint8Array[] {
  return generateCtSeries({ patientName: 'BUDGET^TEST', patientId: 'B-1', slices: n, rows: size, columns: size }).instances.map((i) => i.bytes);
}

function recordingLog(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const ignore = (): void => undefined;
  const log: Logger = {
    debug: ignore,
    info: ignore,
    warn: (message) => {
      warnings.push(message);
    },
    error: ignore,
    child: () => log,
  };
  return { log, warnings };
}

describe('an import inflates no more from a zip than its size on disk allows', () => {
  it('refuses a 994 KB zip of 120 × 8 MiB zero entries within its budget, and still imports the file next to it', async () => {
    const bomb = zerosZip(120, 8 * MiB);
    expect(bomb.length).toBeLessThan(1_000_000);
    const [loose] = ctSlices(1, 16);
    let inflated = 0;
    const { log, warnings } = recordingLog();
    const result = await importFiles([entryFromBytes('bomb.zip', bomb), entryFromBytes('case/IM1', loose!)], {
      log,
      onZipInflate: (bytes) => {
        inflated += bytes;
      },
    });

    const reason = expect.stringMatching(/^zip refused: it would inflate to more than \d+ MB from a 9\d\d KB file \(a zip bomb\?\)$/);
    expect(result.skipped).toEqual([{ path: 'bomb.zip', kind: 'refused', reason }]);
    expect(warnings.some((w) => w.startsWith('import: skipped bomb.zip: zip refused:'))).toBe(true);
    expect(result.instanceCount).toBe(1);
    expect(result.studies[0]!.series[0]!.instances[0]!.path).toBe('case/IM1');
    // Bounded work: never more inflated than the budget (the whole-zip ratio times its size), let alone the 960 MiB;
    // here nothing at all, since the central directory's sizes already add up to too much.
    expect(inflated).toBeLessThanOrEqual(ZIP_LIMITS.maxRatio * bomb.length);
    expect(inflated).toBe(0);
  });

  it('refuses zips inside a zip by the outer file\'s size, and keeps nothing of it', async () => {
    // One inner zip of 1 MiB of zeros (~1 KB), stored 40 times: 40 MiB from ~45 KB on disk, 900×.
    const inner = zipSync({ 'IMG.dcm': new Uint8Array(MiB) }, { level: 9 });
    const outer = zipSync(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`part${i}.zip`, inner])), { level: 0 });
    const limits = { ...ZIP_LIMITS, archiveFloorBytes: 4 * MiB };
    let inflated = 0;
    const result = await importFiles([entryFromBytes('outer.zip', outer)], {
      zipLimits: limits,
      onZipInflate: (bytes) => {
        inflated += bytes;
      },
    });
    expect(result.instanceCount).toBe(0);
    expect(result.skipped).toEqual([{ path: 'outer.zip', kind: 'refused', reason: expect.stringMatching(/^zip refused: it would inflate to more than \d+ MB from a \d+ KB file \(a zip bomb\?\)$/) }]);
    // The budget plus at most the one entry that passed it was ever inflated.
    expect(inflated).toBeLessThanOrEqual(limits.maxRatio * outer.length + MiB);
  });

  it('imports a legitimate zip of a few MB of CT slices fully, even with the ratio floor below its size', async () => {
    const files = ctSlices(40, 256);
    const total = files.reduce((n, f) => n + f.length, 0);
    expect(total).toBeGreaterThan(4 * MiB);
    const zip = zipSync(Object.fromEntries(files.map((f, i) => [`CT/IM${i}.dcm`, f])), { level: 9 });
    for (const zipLimits of [ZIP_LIMITS, { ...ZIP_LIMITS, archiveFloorBytes: MiB }]) {
      let inflated = 0;
      const result = await importFiles([entryFromBytes('case.zip', zip)], {
        zipLimits,
        onZipInflate: (bytes) => {
          inflated += bytes;
        },
      });
      expect(result.skipped).toEqual([]);
      expect(result.instanceCount).toBe(40);
      expect(inflated).toBe(total);
    }
  });
});
