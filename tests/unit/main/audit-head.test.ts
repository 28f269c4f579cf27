import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAuditText } from '../../../src/shared/audit/audit-chain';
import type { AuditEvent } from '../../../src/shared/ipc/contract';
import { createLogger, memorySink } from '../../../src/shared/log';
import { AuditLog, auditHeadPath, sha256Hex } from '../../../src/main/services/audit/audit-log';
import type { AuditEntry } from '../../../src/main/services/audit/audit-log';

// Truncation at the newest end: the chain alone still verifies, the head kept beside it does not.

let dir: string;
let file: string;
let now: number;
const KEY = Buffer.alloc(32, 7);

function newLog(): AuditLog {
  return new AuditLog({ filePath: file, clock: () => new Date((now += 1000)), log: createLogger('audit', memorySink()) });
}

const view = (n: number): AuditEntry => ({ actor: 'Dr Ama Mensah', source: 'renderer', action: 'study.view', patient: { id: `P-${n}`, name: `DOE^P${n}` }, outcome: 'success' });
const rows = (): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const events = (): AuditEvent[] => rows().map((r) => JSON.parse(r) as AuditEvent);

async function writeEvents(count: number, key?: Buffer): Promise<void> {
  const log = newLog();
  if (key) await log.useHeadKey(key);
  for (let i = 1; i <= count; i++) await log.append(view(i));
  await log.close();
}

function verifyCli(target: string): { status: number | null; out: string } {
  const run = spawnSync('npm', ['run', '--silent', 'audit:verify', '--', target], { cwd: process.cwd(), encoding: 'utf8' });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-audit-head-'));
  file = join(dir, 'audit', 'audit.jsonl');
  now = Date.parse('2026-03-01T08:00:00Z');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('audit chain head', () => {
  it('keeps the head beside the log, signed once the vault key is there', async () => {
    await writeEvents(3, KEY);
    const head = JSON.parse(readFileSync(auditHeadPath(file), 'utf8')) as { seq: number; hash: string; signed?: { seq: number; mac: string } };
    expect(head.seq).toBe(3);
    expect(head.hash).toBe(events()[2]?.hash);
    expect(head.signed?.seq).toBe(3);
    expect(head.signed?.mac).toMatch(/^[0-9a-f]{64}$/);
  });

  it('says "3 newest records missing" at start when the newest lines were deleted, and goes on without reusing their seq', async () => {
    await writeEvents(10);
    writeFileSync(file, rows().slice(0, 7).map((r) => `${r}\n`).join(''));
    // The chain that is left verifies on its own: that is why the head is needed.
    expect(verifyAuditText(readFileSync(file, 'utf8'), sha256Hex).ok).toBe(true);

    const log = newLog();
    expect(await log.newestSeq()).toBe(10);
    expect(log.integrity()).toMatchObject({ ok: false, missingNewest: 3 });
    expect(log.integrity().message).toContain('3 newest records missing: #8–#10 were written but the log ends at #7');
    await log.append(view(11));
    await log.close();
    const after = events();
    // The finding is itself a record (so the repository hears of it), then the new event; seq 8–10 are never given again.
    expect(after.slice(7).map((e) => [e.seq, e.action])).toEqual([
      [11, 'audit.integrity'],
      [12, 'study.view'],
    ]);
    expect(after[7]?.reason).toContain('3 newest records missing');
    expect(verifyAuditText(readFileSync(file, 'utf8'), sha256Hex)).toMatchObject({ ok: false, line: 8, reason: 'seq gap' });
  });

  it('notices a deleted live file, and a head lowered by hand but not its signed part', async () => {
    await writeEvents(5, KEY);
    unlinkSync(file);
    const gone = newLog();
    await gone.newestSeq();
    expect(gone.integrity()).toMatchObject({ ok: false, missingNewest: 5 });
    expect(gone.integrity().message).toContain('the log holds no records');
    await gone.close();
  });

  it('refuses a head rewritten to hide the truncation once the vault key arrives', async () => {
    await writeEvents(6, KEY);
    const kept = rows().slice(0, 4);
    writeFileSync(file, kept.map((r) => `${r}\n`).join(''));
    const last = JSON.parse(kept[3] ?? '{}') as AuditEvent;
    // Someone who can write the folder lowers both parts of the head; without the key the MAC cannot follow.
    writeFileSync(auditHeadPath(file), JSON.stringify({ v: 1, seq: 4, hash: last.hash, signed: { seq: 4, hash: last.hash, mac: 'ab'.repeat(32) } }));
    const log = newLog();
    await log.newestSeq();
    expect(log.integrity().ok).toBe(true);
    await log.useHeadKey(KEY);
    expect(log.integrity()).toMatchObject({ ok: false });
    expect(log.integrity().message).toContain('fails its check');
    await log.close();
  });

  it('reports a missing head record when the log has records', async () => {
    await writeEvents(2);
    unlinkSync(auditHeadPath(file));
    const log = newLog();
    await log.newestSeq();
    expect(log.integrity()).toMatchObject({ ok: false, missingNewest: 0 });
    expect(log.integrity().message).toContain('head record (audit-head.json) is missing');
    await log.close();
  });

  it('accepts a head one line behind the files (a crash between the line and the head)', async () => {
    await writeEvents(3);
    const head = JSON.parse(readFileSync(auditHeadPath(file), 'utf8')) as { seq: number; hash: string };
    const second = events()[1] as AuditEvent;
    writeFileSync(auditHeadPath(file), JSON.stringify({ ...head, seq: 2, hash: second.hash }));
    const log = newLog();
    expect(await log.newestSeq()).toBe(3);
    expect(log.integrity()).toEqual({ ok: true, missingNewest: 0 });
    await log.close();
  });

  it('audit:verify says "N newest records missing" (exit 1) when the newest lines or the live file were removed', async () => {
    await writeEvents(8);
    const auditDir = dirname(file);
    const clean = verifyCli(auditDir);
    expect(clean.out).toContain('OK 1 file, 8 lines; chain head #8 matches');
    expect(clean.status).toBe(0);

    writeFileSync(file, rows().slice(0, 5).map((r) => `${r}\n`).join(''));
    const cut = verifyCli(auditDir);
    expect(cut.out).toContain('FAILED: 3 newest records missing: #6–#8 were written but the log ends at #5');
    expect(cut.status).toBe(1);
    // Named as a file, the head beside it is still found.
    expect(verifyCli(file).out).toContain('3 newest records missing');

    unlinkSync(file);
    const none = verifyCli(auditDir);
    expect(none.out).toContain('8 newest records missing');
    expect(none.status).toBe(1);
  }, 60_000);
});
