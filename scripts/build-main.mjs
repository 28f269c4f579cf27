// Bundles the main-side entry points with esbuild. Main and preload are
// CommonJS because Electron's sandboxed preload must be a single CJS file.
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: false, logLevel: 'warning' };

await Promise.all([
  build({ ...common, entryPoints: ['src/main/electron-main.ts'], outfile: 'dist/main/electron-main.cjs', format: 'cjs', external: ['electron'] }),
  build({ ...common, entryPoints: ['src/preload/index.ts'], outfile: 'dist/preload/index.cjs', format: 'cjs', external: ['electron'], platform: 'browser', target: 'chrome120' }),
  build({ ...common, entryPoints: ['src/main/web-host.ts'], outfile: 'dist/main/web-host.mjs', format: 'esm',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } }),
]);
