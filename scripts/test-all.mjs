// `npm test`: every test of the project, complete on a fresh Debian machine.
//   1. Debian packages and node_modules (scripts/lib/prepare.mjs)
//   2. typecheck and lint (gates: a failure fails the run)
//   3. build (the browser host and Electron tests run the built app)
//   4. vitest: unit and integration (real Orthanc)
//   5. Playwright: e2e in Debian's Chromium, Electron shell where its binary exists
// Ends with one line: `N passed, N failed, N skipped`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, prepare } from './lib/prepare.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
prepare(root);

const results = 'test-results';
rmSync(results, { recursive: true, force: true });
mkdirSync(results, { recursive: true });

const npx = (args, extraEnv = {}) => {
  console.log(`\n$ npx ${args.join(' ')}`);
  return spawnSync('npx', args, { stdio: 'inherit', env: { ...process.env, ...extraEnv } }).status ?? 1;
};

let passed = 0;
let failed = 0;
let skipped = 0;
const gates = [];

for (const [name, args] of [
  ['typecheck', ['tsc', '--noEmit', '-p', '.']],
  ['lint', ['eslint', '.']],
]) {
  const status = npx(args);
  if (status !== 0) {
    gates.push(name);
    failed++;
  } else passed++;
}

ensureBuilt(root, { force: true });

const vitestStatus = npx(['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}/vitest.json`]);
const vitestFile = path.join(results, 'vitest.json');
if (existsSync(vitestFile)) {
  const v = JSON.parse(readFileSync(vitestFile, 'utf8'));
  passed += v.numPassedTests ?? 0;
  failed += v.numFailedTests ?? 0;
  skipped += (v.numPendingTests ?? 0) + (v.numTodoTests ?? 0);
  // A suite that failed to load has no failed test but must fail the run.
  if (vitestStatus !== 0 && (v.numFailedTests ?? 0) === 0) failed += Math.max(1, v.numFailedTestSuites ?? 0);
} else if (vitestStatus !== 0) {
  failed++;
}

const pwStatus = npx(['playwright', 'test']);
const pwFile = path.join(results, 'playwright.json');
if (existsSync(pwFile)) {
  const report = JSON.parse(readFileSync(pwFile, 'utf8'));
  const s = report.stats ?? {};
  // The list reporter does not say why a test was skipped; say it here.
  const walk = (suite, titles) => {
    for (const spec of suite.specs ?? [])
      for (const t of spec.tests ?? [])
        if (t.status === 'skipped') {
          const why = (t.annotations ?? []).find((a) => a.type === 'skip')?.description ?? 'no reason given';
          console.log(`skipped: ${[...titles, spec.title].filter(Boolean).join(' › ')} — ${why}`);
        }
    for (const child of suite.suites ?? []) walk(child, [...titles, child.title]);
  };
  for (const suite of report.suites ?? []) walk(suite, []);
  passed += (s.expected ?? 0) + (s.flaky ?? 0);
  failed += s.unexpected ?? 0;
  skipped += s.skipped ?? 0;
  if (pwStatus !== 0 && (s.unexpected ?? 0) === 0) failed++;
} else if (pwStatus !== 0) {
  failed++;
}

if (gates.length) console.log(`\nfailed gates: ${gates.join(', ')}`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
