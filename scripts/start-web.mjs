// `npm run start:web -- [--port N] [--data-dir DIR] [--sites FILE]`
// Builds when needed (output on stderr), then runs the browser host, whose
// first line of stdout is its URL with the per-launch token.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, prepare } from './lib/prepare.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
prepare(root, { packages: [] });
ensureBuilt(root);
const child = spawn(process.execPath, [path.join(root, 'dist/main/web-host.mjs'), ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
