// `npm run demo`: the app doing its job on a local demo site. Installs what a
// fresh Debian machine lacks, builds, then runs scripts/demo-site.ts.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, prepare } from './lib/prepare.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
prepare(root, { packages: ['orthanc', 'orthanc-dicomweb', 'dcmtk', 'fonts-dejavu-core'] });
ensureBuilt(root);
const child = spawn(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'scripts/demo-site.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: root,
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 0));
