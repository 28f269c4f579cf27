// `npm run bench [-- name]`: runs each bench/*.bench.ts in turn (tsx).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const filter = process.argv[2];
const benches = readdirSync(path.join(root, 'bench')).filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter)));
let failed = 0;
for (const b of benches) {
  console.log(`\n# ${b}`);
  const r = spawnSync(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'bench', b)], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
