// The fuzz run: mutants of the seed corpus, fed to a small pool of child
// processes (each file bounded in time by a timer that kills its process, and
// in memory by the child's heap limit), tallied per file as accepted (some
// reader took it), rejected (every reader refused it with a reason), crashed
// or hung.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCorpus } from './corpus';
import { mutant } from './mutate';
import type { SeedFile } from './mutate';
import type { TargetOutcome } from './targets';

export interface FuzzOptions {
  count: number;
  seed: number;
  /** First mutant index (to replay one failure: `--from I --count 1`). */
  from?: number;
  /** Per file, all targets together. */
  timeoutMs?: number;
  workers?: number;
  /** Heap limit of each child, in MB. */
  heapMb?: number;
  /** Peak resident memory of a child (typed arrays included) above which the file that raised it counts as a crash. */
  maxRssMb?: number;
  /** Where crashing and hanging mutants are written (to replay them); none when absent. */
  saveDir?: string;
  corpusDir?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface FuzzFailure {
  index: number;
  seed: number;
  seedName: string;
  mutation: string;
  kind: 'crashed' | 'hung';
  target?: string;
  detail: string;
  stack?: string;
  savedAs?: string;
}

export interface FuzzReport {
  seed: number;
  count: number;
  seeds: number;
  accepted: number;
  rejected: number;
  crashed: number;
  hung: number;
  /** Rejection reasons by the import, most frequent first (a sample of what users would read). */
  topReasons: [string, number][];
  failures: FuzzFailure[];
  ms: number;
}

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.ts');

interface Slot {
  child: ChildProcess;
  ready: Promise<void>;
}

function spawnChild(heapMb: number): Slot {
  const child = fork(WORKER, [], {
    execArgv: ['--import', 'tsx', `--max-old-space-size=${heapMb}`],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  child.stderr?.resume();
  const ready = new Promise<void>((resolve, reject) => {
    const onMsg = (m: { ready?: boolean }): void => {
      if (m.ready) {
        child.off('message', onMsg);
        resolve();
      }
    };
    child.on('message', onMsg);
    child.once('exit', (code) => reject(new Error(`fuzz worker exited (${code}) before it was ready`)));
  });
  return { child, ready };
}

type Answer = { outcomes: TargetOutcome[]; peakRssBytes: number } | { hung: true } | { exited: string };

function runOne(slot: Slot, id: number, name: string, bytes: Uint8Array, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    const done = (a: Answer): void => {
      clearTimeout(timer);
      slot.child.off('message', onMessage);
      slot.child.off('exit', onExit);
      resolve(a);
    };
    const onMessage = (m: { id?: number; outcomes?: TargetOutcome[]; peakRssBytes?: number }): void => {
      if (m.id === id && m.outcomes) done({ outcomes: m.outcomes, peakRssBytes: m.peakRssBytes ?? 0 });
    };
    const onExit = (code: number | null, signal: string | null): void => done({ exited: `worker died (${signal ?? `exit ${code}`})` });
    const timer = setTimeout(() => done({ hung: true }), timeoutMs);
    slot.child.on('message', onMessage);
    slot.child.once('exit', onExit);
    slot.child.send({ id, name, bytes });
  });
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const seeds: SeedFile[] = await loadCorpus(opts.corpusDir);
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const heapMb = opts.heapMb ?? 512;
  const maxRssBytes = (opts.maxRssMb ?? 1024) * 1024 * 1024;
  const workers = Math.max(1, opts.workers ?? Math.min(2, cpus().length));
  const report: FuzzReport = { seed: opts.seed, count: opts.count, seeds: seeds.length, accepted: 0, rejected: 0, crashed: 0, hung: 0, topReasons: [], failures: [], ms: 0 };
  const reasons = new Map<string, number>();
  const from = opts.from ?? 0;
  let next = from;
  let done = 0;

  const save = (index: number, bytes: Uint8Array): string | undefined => {
    if (!opts.saveDir) return undefined;
    mkdirSync(opts.saveDir, { recursive: true });
    const file = path.join(opts.saveDir, `seed${opts.seed}-${index}.dcm`);
    writeFileSync(file, bytes);
    return file;
  };

  const lane = async (): Promise<void> => {
    let slot = spawnChild(heapMb);
    await slot.ready;
    try {
      while (next < from + opts.count) {
        const index = next++;
        const m = mutant(seeds, opts.seed, index);
        const answer = await runOne(slot, index, m.seedName, m.bytes, timeoutMs);
        const base = { index, seed: opts.seed, seedName: m.seedName, mutation: m.mutation };
        if ('outcomes' in answer && answer.peakRssBytes > maxRssBytes) {
          report.crashed++;
          const savedAs = save(index, m.bytes);
          report.failures.push({ ...base, kind: 'crashed', detail: `peak memory ${Math.round(answer.peakRssBytes / 1048576)} MB (limit ${opts.maxRssMb ?? 1024} MB)`, ...(savedAs ? { savedAs } : {}) });
          // A fresh child, so the next file starts from a low peak.
          slot.child.kill('SIGKILL');
          slot = spawnChild(heapMb);
          await slot.ready;
        } else if ('outcomes' in answer) {
          const crashes = answer.outcomes.filter((o) => o.verdict === 'crashed');
          if (crashes.length) {
            report.crashed++;
            const c = crashes[0]!;
            const savedAs = save(index, m.bytes);
            report.failures.push({ ...base, kind: 'crashed', target: c.target, detail: c.detail ?? '', ...(c.stack ? { stack: c.stack } : {}), ...(savedAs ? { savedAs } : {}) });
          } else if (answer.outcomes.some((o) => o.verdict === 'accepted')) report.accepted++;
          else report.rejected++;
          const imp = answer.outcomes.find((o) => o.target === 'import' && o.verdict === 'rejected');
          if (imp?.detail) {
            const key = imp.detail.replace(/\d+/g, 'N').slice(0, 120);
            reasons.set(key, (reasons.get(key) ?? 0) + 1);
          }
        } else {
          // The process is gone or stuck: a fresh one for the next file.
          const hung = 'hung' in answer;
          if (hung) report.hung++;
          else report.crashed++;
          const savedAs = save(index, m.bytes);
          report.failures.push({ ...base, kind: hung ? 'hung' : 'crashed', detail: hung ? `no answer within ${timeoutMs} ms` : answer.exited, ...(savedAs ? { savedAs } : {}) });
          slot.child.kill('SIGKILL');
          slot = spawnChild(heapMb);
          await slot.ready;
        }
        opts.onProgress?.(++done, opts.count);
      }
    } finally {
      slot.child.kill('SIGKILL');
    }
  };
  await Promise.all(Array.from({ length: workers }, lane));
  report.failures.sort((a, b) => a.index - b.index);
  report.topReasons = [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
  report.ms = Date.now() - started;
  return report;
}

/** The report as the terminal and the CI log show it. */
export function formatReport(r: FuzzReport, maxStacks = 5): string {
  const lines = [
    `fuzz: ${r.count} mutants of ${r.seeds} seed files, seed ${r.seed}, ${(r.ms / 1000).toFixed(1)} s`,
    `  accepted ${r.accepted}, rejected ${r.rejected}, crashed ${r.crashed}, hung ${r.hung}`,
  ];
  if (r.topReasons.length) {
    lines.push('  most frequent import rejections:');
    for (const [reason, n] of r.topReasons) lines.push(`    ${n}× ${reason}`);
  }
  for (const f of r.failures.slice(0, maxStacks)) {
    lines.push(`  ${f.kind.toUpperCase()} #${f.index} (seed ${f.seed}, file ${f.seedName}): ${f.mutation}`);
    lines.push(`    ${f.target ? `${f.target}: ` : ''}${f.detail}${f.savedAs ? ` — saved as ${f.savedAs}` : ''}`);
    if (f.stack) lines.push(...f.stack.split('\n').slice(1, 7).map((l) => `      ${l.trim()}`));
  }
  if (r.failures.length > maxStacks) lines.push(`  … and ${r.failures.length - maxStacks} more`);
  return lines.join('\n');
}
