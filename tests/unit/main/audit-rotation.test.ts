import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { orderAuditFileNames, verifyAuditFiles } from '../../../src/shared/audit/audit-chain';
import type { AuditEvent } from '../../../src/shared/ipc/contract';
import { createLogger, memorySink } from '../../../src/shared/log';
import { AuditLog, sha256Hex } from '../../../src/main/services/audit/audit-log';
import type { AuditEntry } from '../../../src/main/services/audit/audit-log';

let dir: string;
let auditDir: string;
let now: number;

// About 520 bytes per line (its clinical fields sealed): a 1,200-byte limit rotates every third line.
const ROTATE_BYTES = 1200;

function newLog(rotateBytes = ROTATE_BYTES): AuditLog {
  return new AuditLog({
    filePath: join(auditDir, 'audit.jsonl'),
    clock: () => new Date((now += 60_000)),
    log: createLogger('audit', memorySink()),
    rotateBytes,
  });
}

const view = (i: number): AuditEntry => ({
  actor: 'Dr Ama Mensah',
  source: 'renderer',
  action: 'study.view',
  patient: { id: `P-${i}`, name: `DOE^PATIENT${i}` },
  studyInstanceUID: '1.2.826.0.1.3680043.8.498.1',
  outcome: 'success',
});

const logFiles = (): string[] => orderAuditFileNames(readdirSync(auditDir));
const verifyDir = (names = logFiles()): ReturnType<typeof verifyAuditFiles> =>
  verifyAuditFiles(
    names.map((name) => ({ name, read: () => readFileSync(join(auditDir, name), 'utf8') })),
    sha256Hex,
  );
const rowsOf = (name: string): string[] => readFileSync(join(auditDir, name), 'utf8').split('\n').filter(Boolean);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-audit-rot-'));
  auditDir = join(dir, 'audit');
  now = Date.parse('2026-03-01T08:00:00Z');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function appendMany(log: AuditLog, n: number, from = 1): Promise<void> {
  for (let i = from; i < from + n; i++) await log.append(view(i));
}

describe('audit log rotation', () => {
  it('renames a full live file to audit-<first>-<last>.jsonl and chains the new file to its last line', async () => {
    await appendMany(newLog(), 10);
    const files = logFiles();
    expect(files.length).toBeGreaterThanOrEqual(3);
    expect(files[files.length - 1]).toBe('audit.jsonl');
    // Each rotated file is named for the seqs it holds, and holds just those.
    for (const name of files.slice(0, -1)) {
      const [, first, last] = /^audit-(\d+)-(\d+)\.jsonl$/.exec(name)!.map(Number);
      const seqs = rowsOf(name).map((r) => (JSON.parse(r) as AuditEvent).seq);
      expect(seqs[0]).toBe(first);
      expect(seqs[seqs.length - 1]).toBe(last);
    }
    // The first line of each file names the previous file's last hash as prev.
    for (let i = 1; i < files.length; i++) {
      const before = rowsOf(files[i - 1]!);
      const firstHere = JSON.parse(rowsOf(files[i]!)[0]!) as AuditEvent;
      expect(firstHere.prev).toBe((JSON.parse(before[before.length - 1]!) as AuditEvent).hash);
    }
    expect(verifyDir()).toMatchObject({ ok: true, files: files.length, lines: 10, lastSeq: 10 });
  });

  it('continues the chain after a restart that finds only rotated files', async () => {
    // The third line (≈ 520 bytes each) passes the limit: the live file is renamed and none is left.
    await appendMany(newLog(), 3);
    expect(logFiles()).toEqual(['audit-000000000001-000000000003.jsonl']);
    await appendMany(newLog(), 2, 100);
    expect(logFiles()).toEqual(['audit-000000000001-000000000003.jsonl', 'audit.jsonl']);
    expect(verifyDir()).toMatchObject({ ok: true, files: 2, lines: 5, lastSeq: 5 });
  });

  it('counts the bytes a restart finds in the live file, so the file is rotated at the same size', async () => {
    await appendMany(newLog(), 2);
    await appendMany(newLog(), 1, 3);
    expect(logFiles()).toEqual(['audit-000000000001-000000000003.jsonl']);
  });

  it('queries across rotated files: a patient whose events are in an older file is still found', async () => {
    const log = newLog();
    await appendMany(log, 12);
    const found = await log.query({ patient: 'P-2' }, { offset: 0, limit: 10 });
    expect(found.events.map((e) => e.patient?.id)).toEqual(['P-2']);
    const all = await log.query({}, { offset: 0, limit: 100 });
    expect(all.total).toBe(12);
    expect(all.events.map((e) => e.seq)).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect((await log.readMatching({})).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('names the older file and its line when a line in a rotated file is changed', async () => {
    await appendMany(newLog(), 10);
    const oldest = logFiles()[0]!;
    const rows = rowsOf(oldest);
    rows[1] = rows[1]!.replace('Dr Ama Mensah', 'Dr Someone Else');
    writeFileSync(join(auditDir, oldest), rows.map((r) => `${r}\n`).join(''));
    expect(verifyDir()).toMatchObject({ ok: false, file: oldest, line: 2, reason: 'hash mismatch', goodLinesTotal: 1 });
  });

  it('names the first line of the next file when a whole rotated file is removed', async () => {
    await appendMany(newLog(), 10);
    const files = logFiles();
    rmSync(join(auditDir, files[1]!));
    expect(verifyDir()).toMatchObject({ ok: false, file: files[2], line: 1, reason: 'seq gap' });
  });

  it('notices when the oldest file is missing: the chain must start at seq 1', async () => {
    await appendMany(newLog(), 10);
    const files = logFiles();
    rmSync(join(auditDir, files[0]!));
    expect(verifyDir()).toMatchObject({ ok: false, file: files[1], line: 1, reason: 'seq gap' });
  });

  it('names the file when files are given out of order', async () => {
    await appendMany(newLog(), 10);
    const files = logFiles();
    const swapped = [files[1]!, files[0]!, ...files.slice(2)];
    expect(verifyDir(swapped)).toMatchObject({ ok: false, file: files[1], line: 1 });
  });

  it('lists rotated files in chain order by seq, not by text (shell globs agree: names are zero-padded)', () => {
    const names = ['audit.jsonl', 'audit-000000001001-000000002000.jsonl', 'notes.txt', 'audit-000000000001-000000001000.jsonl'];
    expect(orderAuditFileNames(names)).toEqual(['audit-000000000001-000000001000.jsonl', 'audit-000000001001-000000002000.jsonl', 'audit.jsonl']);
    expect([...names].filter((n) => n.startsWith('audit')).sort()).toEqual(orderAuditFileNames(names));
  });

  it('keeps one file below the limit (16 MiB by default)', async () => {
    await appendMany(newLog(16 * 1024 * 1024), 10);
    expect(logFiles()).toEqual(['audit.jsonl']);
    expect(verifyDir()).toMatchObject({ ok: true, files: 1, lines: 10 });
  });
});
