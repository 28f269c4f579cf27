// Image quality checks in Node (a figure, not a test): every check over a
// generated 300-slice 512×512 CT (raw explicit VR little endian, as
// `npm run qc` reads it from a CD), against the baseline of merely parsing the
// same files with dicom-parser. Ours = the CLI's per-file path (parse, read
// the facts, pixel statistics of the frame, content hash) for every file, then
// runQualityChecks over the whole set. Files are held in memory, so disk
// speed is not measured. Target: ≤ 2 ms per image on top of parsing.
// BENCH_QUALITY_SLICES=N for a smaller study; BENCH_QUALITY_SYNTAX=jpegls to
// re-encode the files with dcmcjpls first (what the app's cache holds), so the
// figure includes decoding with CharLS. Ends with one JSON line.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import * as dicomParserModule from 'dicom-parser';
import { loadDecoders } from '../src/cli/qc-codecs';
import { firstFrame, readFileFacts } from '../src/cli/qc-facts';
import { computePixelStats, runQualityChecks } from '../src/shared/quality';
import type { ImageFacts } from '../src/shared/quality';
import { generateCtSeries } from '../tests/fixtures/ct-phantom';

type DicomParser = typeof dicomParserModule;
const dicomParser: DicomParser = (dicomParserModule as DicomParser & { default?: DicomParser }).default ?? dicomParserModule;

const SLICES = Number(process.env.BENCH_QUALITY_SLICES ?? 300);
const RUNS = 5;
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

console.log(`generating a ${SLICES}-slice 512×512 CT…`);
const series = generateCtSeries({ patientName: 'BENCH^QUALITY', patientId: 'BENCH-QC', slices: SLICES, rows: 512, columns: 512 });
const SYNTAX = process.env.BENCH_QUALITY_SYNTAX === 'jpegls' ? 'jpegls' : 'raw';
let files = series.instances.map((inst) => Buffer.from(inst.bytes.buffer, inst.bytes.byteOffset, inst.bytes.byteLength));
if (SYNTAX === 'jpegls') {
  console.log('re-encoding with dcmcjpls…');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-bench-quality-'));
  try {
    files = files.map((f, i) => {
      const raw = path.join(tmp, `${i}.dcm`);
      const ls = path.join(tmp, `${i}.ls.dcm`);
      writeFileSync(raw, f);
      execFileSync('dcmcjpls', [raw, ls]);
      return readFileSync(ls);
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
const totalMB = files.reduce((s, f) => s + f.length, 0) / 1e6;
const decoders = await loadDecoders();

function parseOnly(): number {
  const t0 = performance.now();
  let elements = 0;
  for (const f of files) elements += Object.keys(dicomParser.parseDicom(f).elements).length;
  if (!elements) throw new Error('nothing parsed');
  return performance.now() - t0;
}

let lastFindings = 0;
function fullQc(): { totalMs: number; factsMs: number; checksMs: number } {
  const t0 = performance.now();
  const facts: ImageFacts[] = [];
  for (let i = 0; i < files.length; i++) {
    const r = readFileFacts(files[i]!, `ct/${i}.dcm`, decoders);
    if (r.kind !== 'image' || !r.facts.pixelStats) throw new Error(`slice ${i}: ${r.kind === 'image' ? r.facts.pixelStatsSkipped : r.kind}`);
    facts.push(r.facts);
  }
  const t1 = performance.now();
  lastFindings = runQualityChecks(facts).length;
  const t2 = performance.now();
  return { totalMs: t2 - t0, factsMs: t1 - t0, checksMs: t2 - t1 };
}

/** The parts of the per-file cost, each alone (the pixels read once up front). */
function parts(): { statsMs: number; hashMs: number } {
  const frames = files.map((f) => {
    const ds = dicomParser.parseDicom(f);
    const r = readFileFacts(f, 'x');
    if (r.kind !== 'image') throw new Error('unreadable');
    const px = firstFrame(ds, r.facts, decoders);
    if (typeof px === 'string') throw new Error(px);
    return px;
  });
  let t0 = performance.now();
  for (const px of frames) computePixelStats(px, 512, 512, { bitsStored: 16 });
  const statsMs = performance.now() - t0;
  t0 = performance.now();
  for (const px of frames) createHash('sha1').update(new Uint8Array(px.buffer, px.byteOffset, px.byteLength)).digest('hex');
  return { statsMs, hashMs: performance.now() - t0 };
}

// Warm both paths up (JIT), then alternate so load on the shared machine hits both alike.
parseOnly();
fullQc();
const parseRuns: number[] = [];
const qcRuns: { totalMs: number; factsMs: number; checksMs: number }[] = [];
for (let r = 0; r < RUNS; r++) {
  parseRuns.push(parseOnly());
  qcRuns.push(fullQc());
}
const p = parts();

const parseMs = median(parseRuns) / SLICES;
const qcMs = median(qcRuns.map((r) => r.totalMs)) / SLICES;
const figures = {
  msPerImage: round(qcMs, 3),
  overheadMsPerImage: round(qcMs - parseMs, 3),
  factsMsPerImage: round(median(qcRuns.map((r) => r.factsMs)) / SLICES, 3),
  checksMsPerImage: round(median(qcRuns.map((r) => r.checksMs)) / SLICES, 4),
  pixelStatsMsPerImage: round(p.statsMs / SLICES, 3),
  contentHashMsPerImage: round(p.hashMs / SLICES, 3),
  findings: lastFindings,
};
const baseline = { msPerImage: round(parseMs, 3) };

console.log(`${SLICES} files (${SYNTAX}), ${round(totalMB, 1)} MB, ${RUNS} runs each (medians), load average ${os.loadavg().map((l) => round(l, 1)).join(' ')}`);
console.log(`parse only (dicom-parser):          ${baseline.msPerImage} ms per image`);
console.log(`all checks (parse, facts, stats…):  ${figures.msPerImage} ms per image`);
console.log(`  on top of parsing:                ${figures.overheadMsPerImage} ms per image (target ≤ 2)`);
console.log(`  of which pixel statistics:        ${figures.pixelStatsMsPerImage} ms, content hash ${figures.contentHashMsPerImage} ms, checks ${figures.checksMsPerImage} ms`);
console.log(`findings on the clean CT: ${figures.findings}`);
console.log(
  JSON.stringify({
    bench: 'quality',
    figures,
    baseline,
    ratios: { msPerImage: round(qcMs / parseMs, 1) },
    slices: SLICES,
    syntax: SYNTAX,
    storedMB: round(totalMB, 1),
    targetOverheadMs: 2,
    loadAverage: os.loadavg().map((l) => round(l, 2)),
  }),
);
