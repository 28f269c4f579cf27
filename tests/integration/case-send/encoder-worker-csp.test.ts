import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { build } from 'esbuild';
import { chromium } from '@playwright/test';
import type { Browser } from '@playwright/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JPEGLS_ENCODER_WASM_FILE, JPEGLS_ENCODER_WORKER_FILE, contentSecurityPolicyFor } from '../../../src/shared/csp';
import type { CharlsModule } from '../../../src/renderer/case-send/jpegls-codec';

// The encoder worker in real Chromium under the app's policies, as the hosts
// serve them (contentSecurityPolicyFor by path): the page has no eval, the
// worker file gets the worker policy. The page encodes a 16-bit signed frame
// through createWorkerFrameCodec; Node decodes the answer with CharLS.

const require = createRequire(import.meta.url);
let server: Server;
let browser: Browser;
let baseUrl: string;

const PAGE = `
import { createWorkerFrameCodec } from '${path.resolve('src/renderer/case-send/jpegls-codec.ts')}';
const codec = createWorkerFrameCodec(() => new Worker(new URL('assets/${JPEGLS_ENCODER_WORKER_FILE}', document.baseURI)));
const w = 64, h = 48;
const px = new Int16Array(w * h);
for (let i = 0; i < px.length; i++) px[i] = ((i * 37) % 4000) - 2000;
window.runEncode = async () => {
  const out = await codec.encodeFrame(new Uint8Array(px.buffer), { width: w, height: h, bitsPerSample: 16, componentCount: 1, isSigned: true });
  return Array.from(out);
};
window.pixels = Array.from(new Uint8Array(px.buffer));
window.evalRefused = (() => { try { new Function('return 1'); return false; } catch { return true; } })();
`;

beforeAll(async () => {
  const bundle = async (opts: Parameters<typeof build>[0]): Promise<Uint8Array> => (await build({ ...opts, bundle: true, write: false, format: 'iife', platform: 'browser', target: 'es2022', logLevel: 'silent' })).outputFiles![0]!.contents;
  const pageJs = await bundle({ stdin: { contents: PAGE, loader: 'ts', resolveDir: process.cwd() } });
  // The same build as vite.config.ts's jpeglsEncoderWorkerFile.
  const workerJs = await bundle({ entryPoints: [path.resolve('src/renderer/case-send/jpegls-encoder.worker.ts')], minify: true, external: ['fs', 'path', 'crypto', 'module', 'url'] });
  const wasm = readFileSync(require.resolve('@cornerstonejs/codec-charls/wasm'));
  const html = '<!doctype html><html><head><meta charset="utf-8"><title>encoder</title><script src="page.js"></script></head><body></body></html>';
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (type: string, body: Uint8Array | string): void => {
      res.writeHead(200, { 'content-type': type, 'content-security-policy': contentSecurityPolicyFor(url.pathname), 'cache-control': 'no-store' });
      res.end(body);
    };
    if (url.pathname === '/') return send('text/html; charset=utf-8', html);
    if (url.pathname === '/page.js') return send('text/javascript', pageJs);
    if (url.pathname === `/assets/${JPEGLS_ENCODER_WORKER_FILE}`) return send('text/javascript', workerJs);
    if (url.pathname === `/assets/${JPEGLS_ENCODER_WASM_FILE}`) return send('application/wasm', wasm);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

describe('the JPEG-LS encoder worker under the app CSP', () => {
  it('encodes losslessly in its own worker, with no CSP violation on the page', async () => {
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|unsafe-eval/i.test(m.text())) violations.push(m.text());
    });
    await page.goto(`${baseUrl}/`);
    const encoded = (await page.evaluate('window.runEncode()')) as number[];
    const pixels = (await page.evaluate('window.pixels')) as number[];
    // The page itself still cannot eval.
    expect(await page.evaluate('window.evalRefused')).toBe(true);
    const factory = require('@cornerstonejs/codec-charls/wasmjs') as () => Promise<CharlsModule>;
    const charls = await factory();
    const decoder = new charls.JpegLSDecoder();
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.decode();
    expect(Array.from(decoder.getDecodedBuffer())).toEqual(pixels);
    decoder.delete();
    expect(encoded.length).toBeLessThan(pixels.length);
    expect(violations).toEqual([]);
    await page.close();
  });
});
