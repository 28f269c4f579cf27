// The CI fuzz run: 2,000 seeded mutants of the project's own DICOM files
// through import, parsing, the SR readers, the quality facts and the Node
// decoders. Fails on any crash or hang, printing how to replay the first ones.
import { describe, expect, it } from 'vitest';
import { formatReport, runFuzz } from './harness';

const COUNT = Number(process.env.FUZZ_COUNT ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);

describe('fuzzing every reader of untrusted DICOM', () => {
  it(`ends each of ${COUNT} mutated files accepted or rejected with a reason — none crashes or hangs`, async () => {
    const report = await runFuzz({ count: COUNT, seed: SEED, timeoutMs: 10_000, workers: 2, saveDir: 'test-results/fuzz' });
    const text = formatReport(report);
    process.stdout.write(`${text}\n`);
    expect(report.accepted + report.rejected + report.crashed + report.hung).toBe(COUNT);
    // Mutants that still parse and mutants every reader refuses: a harness that only made garbage (or only valid files) tests nothing.
    expect(report.accepted).toBeGreaterThan(COUNT / 10);
    expect(report.rejected).toBeGreaterThan(COUNT / 10);
    expect({ crashed: report.crashed, hung: report.hung, first: report.failures.slice(0, 3) }, text).toEqual({ crashed: 0, hung: 0, first: [] });
  }, 240_000);
});
