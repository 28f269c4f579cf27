import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent, AuditQueryResult, SiteSummary } from '../../../src/shared/ipc/contract';
import { startWebHost } from '../../../src/main/hosts/web/web-host';
import type { WebHost } from '../../../src/main/hosts/web/web-host';
import { AuditLog, auditLogPath } from '../../../src/main/services/audit/audit-log';
import { rechainAuditFile } from '../../support/audit-rechain';
import { E2E_PASSPHRASE } from '../../support/e2e/unlock';
import { createLogger, memorySink } from '../../../src/shared/log';
import { startOrthanc } from '../../support/orthanc';
import type { OrthancHandle } from '../../support/orthanc';
import { unlockTestHost } from '../../support/web-host-api';

// The audit trail through the real browser host, against a real Orthanc whose
// second site is provisioned with a wrong password.
const WRONG_PASSWORD = 'audit-wrong-password-3141';
const STUDY_UID = '1.2.826.0.1.3680043.8.498.77';

let orthanc: OrthancHandle;
let host: WebHost;
let tmp: string;
let auditFile: string;

const authed = { 'x-telerad-token': '', 'content-type': 'application/json' };

async function call<T>(channel: string, body: unknown): Promise<{ ok: boolean; value?: T; error?: { code: string; message: string } }> {
  const res = await fetch(`${host.origin}/api/${channel}`, { method: 'POST', headers: authed, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return (await res.json()) as { ok: boolean; value?: T; error?: { code: string; message: string } };
}

function verifyCli(file: string): { status: number | null; out: string } {
  return verifyCliArgs([file]);
}

function verifyCliArgs(args: string[]): { status: number | null; out: string } {
  const run = spawnSync('npm', ['run', '--silent', 'audit:verify', '--', ...args], { cwd: process.cwd(), encoding: 'utf8' });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'telerad-int-audit-'));
  const dataDir = join(tmp, 'data');
  const rendererDir = join(tmp, 'renderer');
  mkdirSync(rendererDir);
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Telerad</title>');
  orthanc = await startOrthanc();
  const sitesFile = join(tmp, 'sites.json');
  writeFileSync(
    sitesFile,
    JSON.stringify([
      { name: 'Hospital A', url: orthanc.dicomWebUrl, auth: { type: 'basic', username: orthanc.username, password: orthanc.password } },
      { name: 'Hospital B', url: orthanc.dicomWebUrl, auth: { type: 'basic', username: orthanc.username, password: WRONG_PASSWORD } },
    ]),
  );
  host = await startWebHost({ dataDir, rendererDir, sitesFile, version: 'test' });
  // Past the lock screen: the host answers no data channel while locked (issue 18).
  await unlockTestHost(host);
  authed['x-telerad-token'] = host.token;
  auditFile = auditLogPath(dataDir);
});

afterAll(async () => {
  await host?.close();
  await orthanc?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('audit trail through the browser host', () => {
  it('records what the renderer reports, stamped by main, and finds it by patient', async () => {
    const recorded = await call<{ seq: number }>('audit.record', {
      action: 'study.view',
      actor: 'Dr Ama Mensah',
      patient: { id: 'INT-AUD-1', name: 'ASANTE^YAW' },
      studyInstanceUID: STUDY_UID,
      siteId: 'hospital-a',
      outcome: 'success',
    });
    expect(recorded.ok).toBe(true);
    await call('audit.record', { action: 'report.sign', actor: 'Dr Ama Mensah', patient: { id: 'INT-AUD-2', name: 'BOATENG^ESI' }, outcome: 'success' });

    const found = await call<AuditQueryResult>('audit.query', { patient: 'asante' });
    expect(found.value?.total).toBe(1);
    const event = found.value?.events[0] as AuditEvent;
    expect(event).toMatchObject({ seq: recorded.value?.seq, action: 'study.view', actor: 'Dr Ama Mensah', source: 'renderer', studyInstanceUID: STUDY_UID });
    expect(Date.now() - Date.parse(event.at)).toBeLessThan(60_000);
    expect(event.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('audit.jsonl holds no patient name in clear', async () => {
    const onDisk = readdirSync(dirname(auditFile))
      .map((n) => readFileSync(join(dirname(auditFile), n), 'utf8'))
      .join('\n');
    expect(onDisk).toContain('"action":"study.view"');
    for (const value of ['ASANTE', 'BOATENG', 'INT-AUD-1', 'INT-AUD-2', STUDY_UID]) expect(onDisk).not.toContain(value);
  });

  it('a re-chained audit file fails verify, in the app and in audit:verify with the passphrase', async () => {
    // A copy of the workstation's data folder, re-chained as an attacker would: one line changed, every prev and
    // hash after it recomputed with plain SHA-256 (MACs dropped), the head record's clear part set to match.
    const copyDir = join(tmp, 'rechained');
    mkdirSync(join(copyDir, 'audit'), { recursive: true });
    for (const name of readdirSync(dirname(auditFile))) writeFileSync(join(copyDir, 'audit', name), readFileSync(join(dirname(auditFile), name)));
    writeFileSync(join(copyDir, 'vault.json'), readFileSync(join(dirname(dirname(auditFile)), 'vault.json')));
    rechainAuditFile(join(copyDir, 'audit'), (lines) => {
      lines[1]!.actor = 'Dr Mallory';
    });
    const passphraseFile = join(tmp, 'passphrase.txt');
    writeFileSync(passphraseFile, `${E2E_PASSPHRASE}\n`, { mode: 0o600 });

    const blind = verifyCliArgs([join(copyDir, 'audit')]);
    expect(blind.status).toBe(0);
    expect(blind.out).toMatch(/MACs NOT checked/);
    const keyed = verifyCliArgs([join(copyDir, 'audit'), '--passphrase-file', passphraseFile]);
    expect(keyed.out).toMatch(/FAILED: .*not the one this workstation signed/);
    expect(keyed.status).toBe(1);

    const rendererDir = join(tmp, 'renderer');
    const copyHost = await startWebHost({ dataDir: copyDir, rendererDir, version: 'test' });
    try {
      await unlockTestHost(copyHost);
      const res = await fetch(`${copyHost.origin}/api/audit.status`, { method: 'POST', headers: { 'x-telerad-token': copyHost.token, 'content-type': 'application/json' }, body: '{}' });
      const status = ((await res.json()) as { value: { integrity: { ok: boolean; message?: string } } }).value;
      expect(status.integrity.ok).toBe(false);
      expect(status.integrity.message).toMatch(/not the one this workstation signed/);
    } finally {
      await copyHost.close();
    }
  }, 60_000);

  it('refuses a renderer that tries to supply its own hash or seq', async () => {
    const forged = await call('audit.record', { action: 'study.view', actor: 'x', outcome: 'success', seq: 1, hash: 'f'.repeat(64) });
    expect(forged).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    const claimed = await call('audit.record', { action: 'site.auth.failed', actor: 'x', outcome: 'failure', reason: 'made up' });
    expect(claimed).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  });

  it('writes site.auth.failed when a real Orthanc refuses the stored password', async () => {
    const sites = (await call<SiteSummary[]>('sites.list', {})).value ?? [];
    const siteB = sites.find((s) => s.name === 'Hospital B');
    expect(siteB).toBeDefined();
    const res = await fetch(`${host.origin}${siteB!.gatewayPath}/studies/${STUDY_UID}/series`, { headers: { 'x-telerad-token': host.token } });
    expect(res.status).toBe(502);
    await res.arrayBuffer();

    const failed = await call<AuditQueryResult>('audit.query', { action: 'site.auth.failed' });
    expect(failed.value?.events[0]).toMatchObject({ actor: 'system', source: 'main', siteId: siteB!.id, studyInstanceUID: STUDY_UID, outcome: 'failure' });
  });

  it('writes login.failed for a request without the launch token, and never the token itself', async () => {
    expect((await fetch(`${host.origin}/api/sites.list`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
    expect((await fetch(`${host.origin}/sites/x/dicom-web/studies`, { headers: { 'x-telerad-token': `not-the-token-${'x'.repeat(20)}` } })).status).toBe(401);
    const failed = await call<AuditQueryResult>('audit.query', { action: 'login.failed' });
    expect(failed.value?.total).toBeGreaterThanOrEqual(2);

    const text = readFileSync(auditFile, 'utf8');
    for (const secret of [host.token, orthanc.password, WRONG_PASSWORD, 'not-the-token-']) expect(text).not.toContain(secret);
  });

  it('exports the events of a patient as DICOM audit messages', async () => {
    const exported = await call<{ messages: string[]; count: number }>('audit.exportDicom', { patient: 'INT-AUD-1' });
    expect(exported.value?.count).toBe(1);
    expect(exported.value?.messages[0]).toContain('<EventID csd-code="110103" codeSystemName="DCM" originalText="DICOM Instances Accessed"/>');
    expect(exported.value?.messages[0]).toContain('ParticipantObjectID="INT-AUD-1"');
  });

  it('audit:verify says OK on the file the host wrote, and names the line after tampering (exit 1)', async () => {
    const clean = verifyCli(auditFile);
    const lineCount = readFileSync(auditFile, 'utf8').split('\n').filter(Boolean).length;
    expect(clean.out).toContain(`OK 1 file, ${lineCount} lines`);
    expect(clean.status).toBe(0);
    // Given the directory, it finds the log's files itself.
    expect(verifyCli(dirname(auditFile)).out).toContain(`OK 1 file, ${lineCount} lines`);

    const copy = join(tmp, 'tampered.jsonl');
    const rows = readFileSync(auditFile, 'utf8').split('\n');
    rows[1] = rows[1]!.replace('"actor":"', '"actor":"Mallory ');
    writeFileSync(copy, rows.join('\n'));
    const tampered = verifyCli(copy);
    expect(tampered.out).toContain(`${copy} line 2: hash mismatch`);
    expect(tampered.status).toBe(1);
  });

  it('audit:verify checks a rotated log directory across its files and names the older file that was changed', async () => {
    const rotatedDir = join(tmp, 'rotated', 'audit');
    let t = Date.parse('2026-03-01T08:00:00Z');
    const rotating = new AuditLog({ filePath: join(rotatedDir, 'audit.jsonl'), clock: () => new Date((t += 1000)), log: createLogger('audit', memorySink()), rotateBytes: 1024 });
    for (let i = 1; i <= 10; i++) {
      await rotating.append({ actor: 'Dr Ama Mensah', source: 'renderer', action: 'study.view', patient: { id: `ROT-${i}`, name: `DOE^ROT${i}` }, outcome: 'success' });
    }
    // The log's files; the chain head record (audit-head.json) sits beside them.
    const files = readdirSync(rotatedDir).filter((f) => f.endsWith('.jsonl')).sort();
    expect(files.length).toBeGreaterThanOrEqual(3);
    const clean = verifyCli(rotatedDir);
    expect(clean.out).toContain(`OK ${files.length} files, 10 lines`);
    expect(clean.status).toBe(0);

    const oldest = join(rotatedDir, files[0]!);
    const oldRows = readFileSync(oldest, 'utf8').split('\n');
    oldRows[1] = oldRows[1]!.replace('"actor":"', '"actor":"Mallory ');
    writeFileSync(oldest, oldRows.join('\n'));
    const tampered = verifyCli(rotatedDir);
    expect(tampered.out).toContain(`${oldest} line 2: hash mismatch`);
    expect(tampered.status).toBe(1);
  });

  it('holds back a scan of wrong tokens to one line per reason and counts the rest, written at the latest on close', async () => {
    const linesBefore = readFileSync(auditFile, 'utf8').split('\n').filter(Boolean).length;
    for (let i = 0; i < 20; i++) {
      expect((await fetch(`${host.origin}/api/sites.list`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
      expect((await fetch(`${host.origin}/sites/x/dicom-web/studies`, { headers: { 'x-telerad-token': `scan-${i}-${'y'.repeat(20)}` } })).status).toBe(401);
    }
    // 40 refusals, two reasons: a handful of lines at most (one per reason per 10 s; a window may end mid-scan).
    const duringScan = readFileSync(auditFile, 'utf8').split('\n').filter(Boolean).length;
    expect(duringScan - linesBefore).toBeLessThanOrEqual(4);

    await host.close();
    const added = readFileSync(auditFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .slice(linesBefore)
      .map((l) => JSON.parse(l) as AuditEvent);
    expect(added.every((e) => e.action === 'login.failed')).toBe(true);
    for (const reason of ['request without the launch token', 'wrong launch token']) {
      const mine = added.filter((e) => e.reason?.startsWith(reason));
      expect(mine.length).toBeLessThanOrEqual(2);
      // Every refusal is accounted for: a line of its own, or counted in a summary line.
      const accounted = mine.reduce((n, e) => n + (e.reason === reason ? 1 : Number(/\((\d+) more in the last 10 s\)$/.exec(e.reason ?? '')?.[1] ?? NaN)), 0);
      expect(accounted).toBe(20);
    }
    const verified = verifyCli(dirname(auditFile));
    expect(verified.out).toMatch(/^OK 1 file, \d+ lines/m);
    expect(verified.status).toBe(0);
  });
});
