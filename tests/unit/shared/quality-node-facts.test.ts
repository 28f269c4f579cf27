// The CLI's file reader (src/cli/qc-facts.ts): what it makes of real Part 10 bytes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFileFacts } from '../../../src/cli/qc-facts';
import { loadDecoders } from '../../../src/cli/qc-codecs';
import { generateCtSeries } from '../../fixtures/ct-phantom';
import { newUid, writePart10 } from '../../fixtures/dicom-common';

function mrFile(pixels: Uint16Array | Int16Array, bitsStored: number, pixelRepresentation: 0 | 1): Uint8Array {
  return writePart10(
    {
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.4',
      SOPInstanceUID: newUid(),
      StudyInstanceUID: newUid(),
      SeriesInstanceUID: newUid(),
      Modality: 'MR',
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: 4,
      Columns: 4,
      BitsAllocated: 16,
      BitsStored: bitsStored,
      HighBit: bitsStored - 1,
      PixelRepresentation: pixelRepresentation,
    },
    pixels,
  );
}

describe('readFileFacts', () => {
  it('ignores bits above Bits Stored (an overlay in bit 15) when taking pixel statistics', () => {
    const px = Uint16Array.from({ length: 16 }, (_, i) => 100 + i);
    px[3]! |= 0x8000; // overlay bit set on one pixel
    const r = readFileFacts(mrFile(px, 12, 0), 'mr.dcm');
    expect(r.kind).toBe('image');
    if (r.kind !== 'image') return;
    expect(r.facts.pixelStats).toMatchObject({ min: 100, max: 115 });
  });

  it('sign-extends 12-bit signed values stored in 16 bits', () => {
    const px = Uint16Array.from({ length: 16 }, (_, i) => (i === 0 ? 0x0800 : 10)); // -2048 in 12-bit two's complement
    const r = readFileFacts(mrFile(px, 12, 1), 'mr.dcm');
    if (r.kind !== 'image') throw new Error(r.kind);
    expect(r.facts.pixelStats!.min).toBe(-2048);
    expect(r.facts.pixelStats!.max).toBe(10);
  });

  it('names the element a truncated file cuts short, and calls a text file not DICOM', () => {
    const bytes = generateCtSeries({ patientName: 'T^T', patientId: 'T', slices: 1, rows: 64, columns: 64 }).instances[0]!.bytes;
    const cut = readFileFacts(bytes.subarray(0, bytes.length - 100), 'cut.dcm');
    expect(cut.kind === 'unreadable' && cut.facts.unreadable).toEqual({ kind: 'truncated', reason: 'Pixel Data declares 8192 bytes, 8092 present' });
    const text = readFileFacts(new TextEncoder().encode('hello, this is not an image'), 'a.txt');
    expect(text.kind === 'unreadable' && text.facts.unreadable!.kind).toBe('not-dicom');
  });

  it.each([
    ['JPEG-LS', 'dcmcjpls', [], '1.2.840.10008.1.2.4.80'],
    ['RLE', 'dcmcrle', [], '1.2.840.10008.1.2.5'],
  ])('gives the same content hash and statistics to an image read raw and read through the %s decoder', async (_name, tool, args, syntax) => {
    const raw = generateCtSeries({ patientName: 'L^S', patientId: 'LS', slices: 1, rows: 128, columns: 128 }).instances[0]!.bytes;
    const dir = mkdtempSync(path.join(tmpdir(), 'telerad-qc-facts-'));
    try {
      writeFileSync(path.join(dir, 'raw.dcm'), raw);
      execFileSync(tool, [...args, path.join(dir, 'raw.dcm'), path.join(dir, 'ls.dcm')]);
      const decoders = await loadDecoders();
      const a = readFileFacts(raw, 'raw.dcm', decoders);
      const b = readFileFacts(readFileSync(path.join(dir, 'ls.dcm')), 'ls.dcm', decoders);
      if (a.kind !== 'image' || b.kind !== 'image') throw new Error('unreadable');
      expect(b.facts.transferSyntaxUID).toBe(syntax);
      expect(b.facts.pixelStats).toEqual(a.facts.pixelStats);
      expect(b.facts.contentHash).toBe(a.facts.contentHash);
      // Without a decoder it says so instead of guessing.
      const c = readFileFacts(readFileSync(path.join(dir, 'ls.dcm')), 'ls.dcm');
      expect(c.kind === 'image' && c.facts.pixelStatsSkipped).toMatch(/^compressed \((JPEG-LS|RLE) lossless\), no decoder here$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
