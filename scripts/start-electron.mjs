// `npm start`: the desktop app. The Electron binary is fetched by the
// `electron` package from GitHub on first use; where that cannot happen
// (no internet), say so plainly and point at the browser host.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, prepare } from './lib/prepare.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
prepare(root, { packages: [] });
ensureBuilt(root);

export function electronBinary() {
  const dir = path.join(root, 'node_modules', 'electron');
  const pathTxt = path.join(dir, 'path.txt');
  if (!existsSync(pathTxt)) return undefined;
  const bin = path.join(dir, 'dist', readFileSync(pathTxt, 'utf8').trim());
  return existsSync(bin) ? bin : undefined;
}

let bin = process.env.ELECTRON_OVERRIDE_DIST_PATH ? path.join(process.env.ELECTRON_OVERRIDE_DIST_PATH, 'electron') : electronBinary();
if (!bin) {
  console.error('Fetching the Electron binary (node node_modules/electron/install.js)…');
  const r = spawn(process.execPath, [path.join(root, 'node_modules/electron/install.js')], { stdio: 'inherit' });
  await new Promise((resolve) => r.on('exit', resolve));
  bin = electronBinary();
}
if (!bin) {
  console.error(
    '\nThe Electron binary is not installed and could not be downloaded (it comes from GitHub releases, ' +
      'which this machine cannot reach).\nUse the browser host instead: npm run start:web -- --sites sites.json\n',
  );
  process.exit(1);
}
const child = spawn(bin, [root, ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 0));
