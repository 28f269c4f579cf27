import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUDIT_GENESIS, verifyAuditText } from '../../../src/shared/audit/audit-chain';
import { AuditRecordRequestSchema } from '../../../src/shared/ipc/contract';
import type { AuditEvent } from '../../../src/shared/ipc/contract';
import { createLogger, memorySink } from '../../../src/shared/log';
import { AuditLog, sha256Hex } from '../../../src/main/services/audit/audit-log';
import type { AuditEntry } from '../../../src/main/services/audit/audit-log';

let dir: string;
let file: string;
let now: number;
const sink = memorySink();

function newLog(): AuditLog {
  // A clock that moves one minute per event, so date filters have something to cut.
  return new AuditLog({ filePath: file, clock: () => new Date((now += 60_000)), log: createLogger('audit', sink) });
}

const view = (patientId: string, name: string): AuditEntry => ({
  actor: 'Dr Ama Mensah',
  source: 'renderer',
  action: 'study.view',
  patient: { id: patientId, name },
  studyInstanceUID: '1.2.826.0.1.3680043.8.498.1',
  outcome: 'success',
});

const lines = (): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const writeLines = (rows: string[]): void => writeFileSync(file, rows.map((r) => `${r}\n`).join(''));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-audit-'));
  file = join(dir, 'audit', 'audit.jsonl');
  now = Date.parse('2026-03-01T08:00:00Z');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function fiveEvents(): Promise<AuditLog> {
  const log = newLog();
  for (let i = 1; i <= 5; i++) await log.append(view(`P-${i}`, `DOE^PATIENT${i}`));
  return log;
}

describe('audit log chain', () => {
  it('chains the first line to the genesis value and each next line to the one before', async () => {
    await fiveEvents();
    const parsed = lines().map((l) => JSON.parse(l) as AuditEvent);
    expect(parsed.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(parsed[0]?.prev).toBe(AUDIT_GENESIS);
    for (let i = 1; i < parsed.length; i++) expect(parsed[i]?.prev).toBe(parsed[i - 1]?.hash);
    expect(verifyAuditText(readFileSync(file, 'utf8'), sha256Hex)).toMatchObject({ ok: true, lines: 5 });
    // Patient names are in it: owner-only, like the secrets file.
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('continues the chain after a restart instead of starting a new one', async () => {
    await fiveEvents();
    await newLog().append(view('P-6', 'DOE^SIX'));
    expect(verifyAuditText(readFileSync(file, 'utf8'), sha256Hex)).toMatchObject({ ok: true, lines: 6, lastSeq: 6 });
  });

  it('names the changed line when one field of one line is edited', async () => {
    await fiveEvents();
    const rows = lines();
    rows[2] = rows[2]!.replace('"outcome":"success"', '"outcome":"failure"');
    writeLines(rows);
    expect(verifyAuditText(readFileSync(file, 'utf8'), sha256Hex)).toMatchObject({ ok: false, line: 3, reason: 'hash mismatch' });
  });

  it('names the line after a deleted one', async () => {
    await fiveEvents();
    const rows = lines();
    rows.splice(1, 1);
    writeLines(rows);
    expect(verifyAuditText(readFileSync(file, 'utf8'), sha256Hex)).toMatchObject({ ok: false, line: 2, reason: 'seq gap' });
  });

  it('names the first of two swapped lines', async () => {
    await fiveEvents();
    const rows = lines();
    [rows[3], rows[4]] = [rows[4]!, rows[3]!];
    writeLines(rows);
    expect(verifyAuditText(readFileSync(file, 'utf8'), sha256Hex)).toMatchObject({ ok: false, line: 4 });
  });

  it('catches a deleted line whose successors were renumbered (prev no longer matches)', async () => {
    await fiveEvents();
    const rows = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    rows.splice(2, 1);
    // A forger renumbers and rehashes the later lines but cannot know to fix prev without rewriting the chain.
    for (let i = 2; i < rows.length; i++) rows[i]!.seq = i + 1;
    writeLines(rows.map((r) => JSON.stringify(r)));
    expect(verifyAuditText(readFileSync(file, 'utf8'), sha256Hex)).toMatchObject({ ok: false, line: 3, reason: 'prev mismatch' });
  });

  it('names a line that is not JSON', async () => {
    await fiveEvents();
    const rows = lines();
    rows[1] = '{"seq":2, garbage';
    writeLines(rows);
    expect(verifyAuditText(readFileSync(file, 'utf8'), sha256Hex)).toMatchObject({ ok: false, line: 2, reason: 'not JSON' });
  });

  it('reports a partial last line left by a crash mid-append, and the next start keeps it visible', async () => {
    await fiveEvents();
    appendFileSync(file, '{"seq":6,"at":"2026-03-01T09:00:00.000Z","actor":"Dr');
    expect(verifyAuditText(readFileSync(file, 'utf8'), sha256Hex)).toMatchObject({ ok: false, line: 6, reason: 'partial last line' });

    const restarted = newLog();
    const next = await restarted.append(view('P-7', 'DOE^SEVEN'));
    // Chained on from the last complete line; the cut-off line stays where it was, flagged.
    expect(next.seq).toBe(6);
    expect(lines()).toHaveLength(7);
    expect(verifyAuditText(readFileSync(file, 'utf8'), sha256Hex)).toMatchObject({ ok: false, line: 6, reason: 'not JSON' });
    expect(sink.records.some((r) => r.level === 'error' && r.message.includes('partial line'))).toBe(true);
  });

  it('keeps concurrent appends in one unbroken order without duplicate seqs', async () => {
    const log = newLog();
    const written = await Promise.all(Array.from({ length: 40 }, (_, i) => log.append(view(`P-${i}`, `DOE^${i}`))));
    expect(written.map((e) => e.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(lines().map((l) => (JSON.parse(l) as AuditEvent).seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const onDisk = await log.readAfter(0, 100);
    expect(onDisk.map((e) => e.patient?.id)).toEqual(Array.from({ length: 40 }, (_, i) => `P-${i}`));
    expect(verifyAuditText(readFileSync(file, 'utf8'), sha256Hex)).toMatchObject({ ok: true, lines: 40 });
  });
});

describe('audit query', () => {
  it('filters by patient id or name substring, by date and by action, newest first and paged', async () => {
    const log = newLog();
    await log.append(view('P-100', 'MENSAH^KOFI')); // 08:01
    await log.append(view('P-200', 'OWUSU^ABENA')); // 08:02
    await log.append({ ...view('P-100', 'MENSAH^KOFI'), action: 'report.sign' }); // 08:03
    log.recordSystem({ action: 'site.auth.failed', siteId: 'hospital-a', outcome: 'failure', reason: 'HTTP 401' }); // 08:04

    const byName = await log.query({ patient: 'mensah' }, { offset: 0, limit: 10 });
    expect(byName.total).toBe(2);
    expect(byName.events.map((e) => e.action)).toEqual(['report.sign', 'study.view']);

    expect((await log.query({ patient: 'P-200' }, { offset: 0, limit: 10 })).events.map((e) => e.patient?.name)).toEqual(['OWUSU^ABENA']);
    expect((await log.query({ from: '2026-03-01T08:02:00Z', to: '2026-03-01T08:03:00Z' }, { offset: 0, limit: 10 })).total).toBe(2);
    expect((await log.query({ to: '2026-02-28' }, { offset: 0, limit: 10 })).total).toBe(0);
    expect((await log.query({ from: '2026-03-01', to: '2026-03-01' }, { offset: 0, limit: 10 })).total).toBe(4);
    const system = await log.query({ action: 'site.auth.failed' }, { offset: 0, limit: 10 });
    expect(system.events[0]).toMatchObject({ actor: 'system', source: 'main', siteId: 'hospital-a' });

    const page2 = await log.query({}, { offset: 2, limit: 2 });
    expect(page2.total).toBe(4);
    expect(page2.events.map((e) => e.seq)).toEqual([2, 1]);
  });
});

describe('audit.record request schema', () => {
  const valid = { action: 'study.view', actor: 'Dr Ama Mensah', patient: { id: 'P-1', name: 'DOE^JANE' }, outcome: 'success' };

  it('accepts what the renderer may report', () => {
    expect(AuditRecordRequestSchema.safeParse(valid).success).toBe(true);
  });

  it.each(['hash', 'seq', 'prev', 'at'])('refuses a renderer-supplied %s', (field) => {
    const result = AuditRecordRequestSchema.safeParse({ ...valid, [field]: field === 'seq' ? 7 : 'x' });
    expect(result.success).toBe(false);
  });

  it('refuses events only main may record, and a failure without a reason', () => {
    expect(AuditRecordRequestSchema.safeParse({ ...valid, action: 'login.failed' }).success).toBe(false);
    expect(AuditRecordRequestSchema.safeParse({ ...valid, outcome: 'failure' }).success).toBe(false);
    expect(AuditRecordRequestSchema.safeParse({ ...valid, outcome: 'failure', reason: 'signature key missing' }).success).toBe(true);
  });
});
