import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as esbuild } from 'esbuild';
import { defineConfig } from 'vite';
import type { Plugin } from 'vite';
import { DECODE_WORKER_FILE, JPEGLS_ENCODER_WASM_FILE, JPEGLS_ENCODER_WORKER_FILE } from './src/shared/csp';

/**
 * Ships cornerstone-wado-image-loader's standalone decode worker as
 * assets/<DECODE_WORKER_FILE>, next to the bundle. The loader starts it from
 * that URL when the CSP refuses its inline blob: worker (see src/shared/csp.ts).
 */
function decodeWorkerFile(): Plugin {
  const require = createRequire(import.meta.url);
  const dist = path.dirname(require.resolve('cornerstone-wado-image-loader/dist/cornerstoneWADOImageLoader.bundle.min.js'));
  return {
    name: 'telerad-decode-worker',
    apply: 'build',
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: `assets/${DECODE_WORKER_FILE}`, source: readFileSync(path.join(dist, DECODE_WORKER_FILE)) });
    },
  };
}

/**
 * The JPEG-LS encoder worker (src/renderer/case-send/jpegls-encoder.worker.ts)
 * as its own classic script, assets/<JPEGLS_ENCODER_WORKER_FILE>, with CharLS's
 * WASM beside it. Not a Vite `?worker` chunk: the hosts give this one path the
 * worker policy that allows CharLS's eval (src/shared/csp.ts).
 */
function jpeglsEncoderWorkerFile(): Plugin {
  const require = createRequire(import.meta.url);
  return {
    name: 'telerad-jpegls-encoder-worker',
    apply: 'build',
    async generateBundle() {
      const out = await esbuild({
        entryPoints: [fileURLToPath(new URL('./src/renderer/case-send/jpegls-encoder.worker.ts', import.meta.url))],
        bundle: true,
        write: false,
        format: 'iife',
        platform: 'browser',
        target: 'es2022',
        minify: true,
        // Only reached under Node, never in a worker.
        external: ['fs', 'path', 'crypto', 'module', 'url'],
      });
      this.emitFile({ type: 'asset', fileName: `assets/${JPEGLS_ENCODER_WORKER_FILE}`, source: out.outputFiles[0]!.contents });
      const wasm = require.resolve('@cornerstonejs/codec-charls/wasm');
      this.emitFile({ type: 'asset', fileName: `assets/${JPEGLS_ENCODER_WASM_FILE}`, source: readFileSync(wasm) });
    },
  };
}

// The renderer is plain React compiled by esbuild's automatic JSX runtime;
// @vitejs/plugin-react is not used (it buys only fast refresh, and does not
// install cleanly with the npm here).
export default defineConfig({
  root: 'src/renderer',
  base: './',
  publicDir: false,
  esbuild: { jsx: 'automatic' },
  plugins: [decodeWorkerFile(), jpeglsEncoderWorkerFile()],
  build: {
    outDir: '../../dist/renderer',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 4096,
    target: 'es2022',
  },
  worker: { format: 'es' },
  server: { host: '127.0.0.1' },
});
