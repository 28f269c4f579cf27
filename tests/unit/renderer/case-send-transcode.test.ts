import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCharlsFrameCodec } from '../../../src/renderer/case-send/jpegls-codec';
import type { CharlsModule, JpegLsFrameCodec } from '../../../src/renderer/case-send/jpegls-codec';
import { JPEG_LS_LOSSLESS, transcodeForSending } from '../../../src/renderer/case-send/transcode';
import { loadDcmjs } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import type { DcmjsRuntime } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import { generateCodecMatrix, TS } from '../../fixtures/codecs/codec-matrix';
import type { CodecCase } from '../../fixtures/codecs/codec-matrix';
import { generateEncapsulatedPdf, generateReferralNote, labResultsPdf } from '../../fixtures/referral-packet';
import { generateCtSeries } from '../../fixtures/ct-phantom';

// Node has no CSP: the CharLS module runs here directly, as it does inside the app's encoder worker.
const require = createRequire(import.meta.url);

let dcmjs: DcmjsRuntime;
let codec: JpegLsFrameCodec;
let cases: CodecCase[];
let tmp: string;

beforeAll(async () => {
  dcmjs = await loadDcmjs();
  const factory = require('@cornerstonejs/codec-charls/wasmjs') as () => Promise<CharlsModule>;
  codec = createCharlsFrameCodec(await factory());
  cases = await generateCodecMatrix();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'case-send-transcode-'));
}, 120_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const buf = (u: Uint8Array): ArrayBuffer => u.slice().buffer;

let fileSeq = 0;
function write(bytes: ArrayBuffer | Uint8Array, name: string): string {
  const file = path.join(tmp, `${++fileSeq}-${name.replace(/[^a-z0-9]+/gi, '_')}.dcm`);
  writeFileSync(file, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  return file;
}

/** dcmtk's own JPEG-LS decoder, independent of CharLS's JS build: the file as a receiving PACS would decode it. */
function dcmtkDecode(bytes: ArrayBuffer, name: string): ArrayBuffer {
  const input = write(bytes, name);
  const output = `${input}.raw.dcm`;
  const run = spawnSync('dcmdjpls', [input, output], { encoding: 'utf8' });
  expect(run.status, `dcmdjpls: ${run.stderr}`).toBe(0);
  const b = readFileSync(output);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
}

function pixelBytes(bytes: ArrayBuffer): Uint8Array {
  const { dict } = dcmjs.data.DicomMessage.readFile(bytes);
  const v = dict['7FE00010']?.Value?.[0];
  if (!(v instanceof ArrayBuffer)) throw new Error('no native Pixel Data');
  return new Uint8Array(v);
}

/** dcmdump's lines without the meta header and Pixel Data: every other attribute, as a receiver reads it. */
function attributes(bytes: ArrayBuffer, name: string): string[] {
  const run = spawnSync('dcmdump', ['+P', 'all', '-q', write(bytes, name)], { encoding: 'utf8' });
  return run.stdout
    .split('\n')
    .filter((l) => l.trim() && !l.trimStart().startsWith('(0002,') && !l.includes('(7fe0,0010)') && !l.startsWith('#'));
}

function iodErrors(bytes: ArrayBuffer, name: string): string[] {
  const run = spawnSync('/usr/bin/dciodvfy', [write(bytes, name)], { encoding: 'utf8' });
  return `${run.stdout}${run.stderr}`.split('\n').filter((l) => l.startsWith('Error'));
}

function transferSyntaxOf(bytes: ArrayBuffer): string {
  return String(dcmjs.data.DicomMessage.readFile(bytes).meta['00020010']?.Value?.[0]);
}

const original = (name: string): CodecCase => {
  const c = cases.find((x) => x.name.includes(name) && x.transferSyntaxUID === TS.explicitLE);
  if (!c) throw new Error(`no explicit VR little endian case named ${name}: ${cases.map((x) => x.name).join(', ')}`);
  return c;
};

describe('transcodeForSending: uncompressed images become JPEG-LS lossless, pixel for pixel', () => {
  it.each([
    ['16-bit signed CT', '16-bit signed CT'],
    ['8-bit RGB', '8-bit RGB'],
    ['multi-frame 16-bit', '16-bit unsigned 3 frames'],
    ['12-bit unsigned with rescale', '12-bit unsigned CT'],
    ['8-bit MONOCHROME1', '8-bit MONOCHROME1'],
    ['8-bit PALETTE COLOR', '8-bit PALETTE COLOR'],
    ['implicit VR little endian (any image)', 'implicit VR little endian'],
  ])('%s: dcmtk decodes exactly the original pixels, every other attribute is kept and dciodvfy finds no new error', async (_label, prefix) => {
    const c = cases.find((x) => (x.transferSyntaxUID === TS.explicitLE || x.transferSyntaxUID === TS.implicitLE) && x.name.includes(prefix));
    expect(c, `codec matrix case containing "${prefix}"`).toBeDefined();
    const source = buf(c!.bytes);
    const result = await transcodeForSending(source, { dcmjs, codec });
    expect(result.reason).toBeUndefined();
    expect(result.transcoded).toBe(true);
    expect(transferSyntaxOf(result.bytes)).toBe(JPEG_LS_LOSSLESS);
    const decoded = dcmtkDecode(result.bytes, c!.name);
    expect(Buffer.from(pixelBytes(decoded)).equals(Buffer.from(pixelBytes(source)))).toBe(true);
    expect(attributes(result.bytes, `${c!.name}-jls`)).toEqual(attributes(source, c!.name));
    // The matrix's sources are minimal (dciodvfy lists their missing Type 2 attributes): the transcode must add none.
    expect(iodErrors(result.bytes, c!.name)).toEqual(iodErrors(source, c!.name));
  });

  it('writes one fragment per frame behind a Basic Offset Table, and leaves Lossy Image Compression as it was', async () => {
    const c = cases.find((x) => x.transferSyntaxUID === TS.explicitLE && x.truth.frames > 1)!;
    const result = await transcodeForSending(buf(c.bytes), { dcmjs, codec });
    const dump = spawnSync('dcmdump', ['+P', '7fe0,0010', '+P', '0028,2110', write(result.bytes, 'mf')], { encoding: 'utf8' }).stdout;
    const items = dump.split('\n').filter((l) => l.includes('(fffe,e000)'));
    // The offset table item, then one fragment per frame.
    expect(items).toHaveLength(1 + c.truth.frames);
    expect(items[0]).toMatch(new RegExp(`# *${4 * c.truth.frames},`));
    const before = spawnSync('dcmdump', ['+P', '0028,2110', write(c.bytes, 'mf-src')], { encoding: 'utf8' }).stdout;
    expect(spawnSync('dcmdump', ['+P', '0028,2110', write(result.bytes, 'mf-jls')], { encoding: 'utf8' }).stdout).toBe(before);
  });

  it('makes a generated CT slice (explicit VR little endian, as on a CD) smaller and still exact', async () => {
    const ct = generateCtSeries({ patientName: 'SEND^TEST', patientId: 'SEND-1', slices: 1, rows: 256, columns: 256 });
    const source = buf(ct.instances[0]!.bytes);
    const result = await transcodeForSending(source, { dcmjs, codec });
    expect(result.transcoded).toBe(true);
    expect(result.bytes.byteLength).toBeLessThan(source.byteLength * 0.7);
    expect(Buffer.from(pixelBytes(dcmtkDecode(result.bytes, 'ct'))).equals(Buffer.from(pixelBytes(source)))).toBe(true);
    expect(iodErrors(result.bytes, 'ct-jls')).toEqual(iodErrors(source, 'ct'));
  });
});

describe('transcodeForSending leaves alone what it must not touch, and says why', () => {
  it.each([
    [TS.jpegBaseline, 'already in JPEG Baseline'],
    [TS.jpeg2000Lossless, 'already in JPEG 2000 lossless'],
    [TS.rle, 'already in RLE lossless'],
    [TS.jpegLsLossless, 'already JPEG-LS lossless'],
  ])('a file in %s is returned byte for byte: "%s"', async (syntax, reason) => {
    const c = cases.find((x) => x.transferSyntaxUID === syntax);
    expect(c).toBeDefined();
    const source = buf(c!.bytes);
    const result = await transcodeForSending(source, { dcmjs, codec });
    expect(result).toEqual({ bytes: source, transcoded: false, reason });
  });

  it('a referral note (SR) and an Encapsulated PDF are not images', async () => {
    const study = { studyInstanceUID: '1.2.826.0.1.3680043.8.498.1', patientName: 'SEND^TEST', patientId: 'SEND-1', studyDescription: 'CT' };
    const sr = generateReferralNote({ ...study, clinicalQuestion: 'Nodule?', history: 'Cough' });
    const pdf = generateEncapsulatedPdf(study, await labResultsPdf('SEND^TEST', 'SEND-1', 'Labs'), 'Labs');
    for (const o of [sr, pdf]) {
      const source = buf(o.bytes);
      const result = await transcodeForSending(source, { dcmjs, codec });
      expect(result).toEqual({ bytes: source, transcoded: false, reason: 'not an image (no Pixel Data)' });
    }
  });

  it('bytes that are not DICOM come back unchanged with the parser\'s reason', async () => {
    const junk = new TextEncoder().encode('not a dicom file at all').buffer;
    const result = await transcodeForSending(junk, { dcmjs, codec });
    expect(result.transcoded).toBe(false);
    expect(result.bytes).toBe(junk);
    expect(result.reason).toMatch(/^not readable as DICOM/);
  });

  it('an encoder failure keeps the original and names the frame', async () => {
    const failing: JpegLsFrameCodec = { encodeFrame: () => Promise.reject(new Error('out of memory')) };
    const source = buf(original('16-bit signed CT').bytes);
    const result = await transcodeForSending(source, { dcmjs, codec: failing });
    expect(result).toEqual({ bytes: source, transcoded: false, reason: 'the JPEG-LS encoder failed on frame 1: out of memory' });
  });
});
