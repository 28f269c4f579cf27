// `npm run fuzz -- --count N [--seed S] [--from I] [--timeout MS] [--workers W]`: a fuzz
// run on demand; exits 1 when any file crashed or hung. Mutants that did are
// written to test-results/fuzz/ to replay.
import { formatReport, runFuzz } from './harness';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}

const count = arg('count', 2000);
const report = await runFuzz({
  count,
  seed: arg('seed', 1),
  from: arg('from', 0),
  timeoutMs: arg('timeout', 5000),
  workers: arg('workers', 2),
  saveDir: 'test-results/fuzz',
  onProgress: (done, total) => {
    if (done % 250 === 0 || done === total) process.stderr.write(`  ${done}/${total}\n`);
  },
});
process.stdout.write(`${formatReport(report, 10)}\n`);
process.exitCode = report.crashed || report.hung ? 1 : 0;
