import { defineConfig } from 'vite';

// The renderer is plain React compiled by esbuild's automatic JSX runtime;
// @vitejs/plugin-react is not used (it buys only fast refresh, and does not
// install cleanly with the npm here).
export default defineConfig({
  root: 'src/renderer',
  base: './',
  publicDir: false,
  esbuild: { jsx: 'automatic' },
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
