// The codec matrix in Chromium: every generated case is decoded by Cornerstone's
// image loader in its WASM decode workers — wired by the app's own
// initCornerstone, the page under the app's CSP, the worker file under the
// worker's CSP — and the decoded pixels are compared with the generator's truth:
// exact for lossless, bounded (PSNR, and JPEG-LS NEAR) for lossy.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { expect, test, type Page } from '@playwright/test';
import { generateCodecMatrix, type CodecCase } from '../fixtures/codecs/codec-matrix';
import { CONTENT_SECURITY_POLICY, DECODE_WORKER_CONTENT_SECURITY_POLICY, DECODE_WORKER_FILE } from '../../src/shared/csp';
import type { DecodedFrame } from '../support/e2e/codec-page/page';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
// Top-level await: the tests are declared per case, and JPEG 2000 encoding is async (WASM).
const cases = await generateCodecMatrix();

let server: Server;
let baseUrl: string;
let page: Page;
/** Console reports of CSP refusals: a codec that needs what the policies forbid shows up here. */
const violations: string[] = [];

test.beforeAll(async ({ browser }) => {
  const bundle = await build({
    entryPoints: [path.join(HERE, '../support/e2e/codec-page/page.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    logLevel: 'silent',
  });
  const pageJs = bundle.outputFiles[0]!.contents;
  const workerJs = readFileSync(path.join(ROOT, 'node_modules/cornerstone-wado-image-loader/dist', DECODE_WORKER_FILE));
  const html = '<!doctype html><html><head><meta charset="utf-8"><title>codecs</title></head><body><script src="/page.js"></script></body></html>';
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, type: string, body: Uint8Array | string, csp = CONTENT_SECURITY_POLICY): void => {
      res.writeHead(status, { 'content-type': type, 'content-security-policy': csp, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (url.pathname === '/') return send(200, 'text/html; charset=utf-8', html);
    if (url.pathname === '/page.js') return send(200, 'text/javascript', pageJs);
    if (url.pathname === `/${DECODE_WORKER_FILE}`) return send(200, 'text/javascript', workerJs, DECODE_WORKER_CONTENT_SECURITY_POLICY);
    const m = /^\/case\/(\d+)$/.exec(url.pathname);
    const c = m ? cases[Number(m[1])] : undefined;
    if (c) return send(200, 'application/dicom', c.bytes);
    return send(404, 'text/plain', 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  page = await browser.newPage();
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  await page.goto(`${baseUrl}/`);
  await expect(page.locator('body[data-ready="true"]')).toBeAttached();
  expect(violations).toEqual([]);
});

test.afterAll(async () => {
  await page?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

/** The decoded samples in truth's layout: stored values for grayscale, RGB triplets for colour (alpha dropped). */
function samples(frame: DecodedFrame, c: CodecCase): number[] {
  const pixels = frame.pixels ?? [];
  const count = c.truth.rows * c.truth.columns;
  if (c.truth.samplesPerPixel === 1) return pixels;
  if (pixels.length === count * 3) return pixels;
  expect(pixels.length, 'colour data is RGB or RGBA').toBe(count * 4);
  const rgb: number[] = [];
  for (let i = 0; i < pixels.length; i += 4) rgb.push(pixels[i]!, pixels[i + 1]!, pixels[i + 2]!);
  return rgb;
}

function psnr(actual: number[], expected: number[], max: number): number {
  let se = 0;
  for (let i = 0; i < expected.length; i++) se += (actual[i]! - expected[i]!) ** 2;
  const mse = se / expected.length;
  return mse === 0 ? Infinity : 10 * Math.log10((max * max) / mse);
}

function firstMismatch(actual: number[], expected: number[]): string {
  const i = expected.findIndex((v, k) => actual[k] !== v);
  if (i < 0) return 'none';
  const count = expected.filter((v, k) => actual[k] !== v).length;
  return `${count} of ${expected.length} samples differ; first at ${i}: decoded ${actual[i]}, truth ${expected[i]}`;
}

/**
 * Cases the loader decodes wrongly today, pinned as expected failures so the
 * defect stays visible and the test turns red ("expected to fail") once fixed.
 */
const KNOWN_DEFECTS: Record<string, string> = {
  'JPEG lossless SV1 8-bit RGB':
    "cornerstone-wado-image-loader 4.13.2's JPEG lossless decoder (jpeg-lossless-decoder-js) leaves the last pixel of a " +
    '3-component image at 0 (3 of 49152 samples differ); dcmtk dcmdjpeg decodes the same file exactly. ' +
    'Cf. rii-mango/JPEGLosslessDecoderJS#11.',
  ...Object.fromEntries(
    ['explicit VR little endian', 'RLE', 'JPEG-LS lossless'].map((syntax) => [
      `${syntax} 8-bit signed with rescale`,
      "cornerstone-wado-image-loader 4.13.2 hands back 8-bit pixel data as the raw bytes (Uint8Array) whatever PixelRepresentation says, in every transfer syntax: a stored -109 reads as 147 (half the samples differ); 16-bit signed data becomes an Int16Array.",
    ]),
  ),
};

cases.forEach((c, index) => {
  const how = c.truth.lossy ? 'within bounds' : 'exactly';
  test(`decodes ${c.name} ${how}`, async () => {
    const defect = KNOWN_DEFECTS[c.name];
    test.fail(defect !== undefined, defect);
    const frames = await page.evaluate(
      ([url, n]) => (window as unknown as { decodeCase(u: string, f: number): Promise<DecodedFrame[]> }).decodeCase(url, n),
      [`/case/${index}`, c.truth.frames] as const,
    );
    expect(frames).toHaveLength(c.truth.frames);
    expect(violations, 'no Content-Security-Policy refusals').toEqual([]);
    frames.forEach((frame, f) => {
      expect(frame.error ?? null, `frame ${f} decodes`).toBeNull();
      expect([frame.rows, frame.columns]).toEqual([c.truth.rows, c.truth.columns]);
      expect(frame.color).toBe(c.truth.samplesPerPixel === 3);
      const grayscale = c.truth.samplesPerPixel === 1;
      // MONOCHROME1 keeps its stored values; Cornerstone inverts at display.
      if (grayscale) expect(frame.invert).toBe(c.truth.photometric === 'MONOCHROME1');
      const decoded = samples(frame, c);
      const truth = c.truth.values[f]!;
      expect(decoded.length).toBe(truth.length);
      if (!c.truth.lossy) {
        if (grayscale) expect([frame.slope, frame.intercept]).toEqual([c.truth.rescaleSlope, c.truth.rescaleIntercept]);
        expect(firstMismatch(decoded, truth), `frame ${f} equals the truth`).toBe('none');
        return;
      }
      // Lossy: dcmcjpeg may remap stored values and rewrite slope/intercept (monochrome),
      // so compare what a reader sees — modality values (HU for CT) — not stored values.
      const slope = grayscale ? (frame.slope ?? 1) : 1;
      const intercept = grayscale ? (frame.intercept ?? 0) : 0;
      const actual = grayscale ? decoded.map((v) => v * slope + intercept) : decoded;
      const expected = grayscale ? truth.map((v) => v * c.truth.rescaleSlope + c.truth.rescaleIntercept) : truth;
      const scale = grayscale ? c.truth.rescaleSlope : 1;
      if (c.truth.maxDeviation !== undefined) {
        const worst = Math.max(...actual.map((v, i) => Math.abs(v - expected[i]!)));
        expect(worst, `frame ${f} max deviation`).toBeLessThanOrEqual(c.truth.maxDeviation * scale);
      }
      if (c.truth.minPsnr !== undefined) {
        const db = psnr(actual, expected, (2 ** c.truth.bitsStored - 1) * scale);
        test.info().annotations.push({ type: 'psnr', description: `${db.toFixed(1)} dB` });
        expect(db, `frame ${f} PSNR`).toBeGreaterThanOrEqual(c.truth.minPsnr);
      }
    });
  });
});
