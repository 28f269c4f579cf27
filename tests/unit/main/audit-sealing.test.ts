import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditLineHash, verifyAuditText } from '../../../src/shared/audit/audit-chain';
import type { AuditHeadRecord } from '../../../src/shared/audit/audit-chain';
import { createLogger, memorySink } from '../../../src/shared/log';
import type { LogRecord } from '../../../src/shared/log';
import { AuditLog, auditHeadPath, auditSealKeyPath, sha256Hex } from '../../../src/main/services/audit/audit-log';
import type { AuditEntry } from '../../../src/main/services/audit/audit-log';
import { publicSealKey, sealAad, sealAuditFields } from '../../../src/main/services/audit/audit-seal';
import { deriveAuditHeadKey, unwrapSecret, deriveWrappingKey } from '../../../src/main/services/vault/vault-crypto';
import { VaultFile, vaultFilePath } from '../../../src/main/services/vault/vault-file';
import { VaultService } from '../../../src/main/services/vault/vault-service';

// The audit file's clinical fields sealed (X25519 + HKDF + AES-256-GCM to the trail's key),
// and its lines MAC'd with a key from the vault, so a re-chained file fails verify.

let dataDir: string;
let file: string;
let now: number;
let records: LogRecord[];
const PASSPHRASE = 'correct horse battery staple';
const NAME = 'OKONKWO^ADAEZE';
const PATIENT_ID = 'MRN-55501';
const STUDY = '1.2.826.0.1.3680043.8.498.7777';
const SERIES = '1.2.826.0.1.3680043.8.498.7778';
const SOP = '1.2.826.0.1.3680043.8.498.7779';
const REASON = `report for ${NAME} could not be delivered`;
const CLINICAL = [NAME, 'OKONKWO', PATIENT_ID, STUDY, SERIES, SOP];

function newLog(): AuditLog {
  return new AuditLog({ filePath: file, clock: () => new Date((now += 1000)), log: createLogger('audit', (r) => records.push(r)) });
}

const view = (n: number, name = NAME): AuditEntry => ({
  actor: 'Dr Ama Mensah',
  source: 'renderer',
  action: 'study.view',
  patient: { id: `${PATIENT_ID}-${n}`, name },
  studyInstanceUID: STUDY,
  siteId: 'hospital-a',
  outcome: 'success',
});
const sent: AuditEntry = {
  actor: 'Dr Ama Mensah',
  source: 'renderer',
  action: 'outbox.send',
  studyInstanceUID: STUDY,
  seriesInstanceUID: SERIES,
  sopInstanceUIDs: [SOP],
  siteId: 'hospital-a',
  outcome: 'failure',
  reason: REASON,
};

const rows = (): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const parsedRows = (): Array<Record<string, unknown>> => rows().map((r) => JSON.parse(r) as Record<string, unknown>);
const headRecord = (): AuditHeadRecord => JSON.parse(readFileSync(auditHeadPath(file), 'utf8')) as AuditHeadRecord;

/** A vault set up with the passphrase (as the app's first start does), handing its key to `audit`. */
async function setupVault(audit: AuditLog): Promise<void> {
  const vault = new VaultService({ file: new VaultFile(vaultFilePath(dataDir)), now: () => now, audit, log: createLogger('vault', memorySink()), scrypt: { N: 2 ** 10, r: 8, p: 1 } });
  await vault.setup(PASSPHRASE);
}

/** The vault's audit key, as an unlock hands it to the log. */
async function auditKey(): Promise<Buffer> {
  const content = JSON.parse(readFileSync(vaultFilePath(dataDir), 'utf8')) as { kdf: { salt: string; N: number; r: number; p: number }; wrappedMaster: string };
  const wrapping = await deriveWrappingKey(PASSPHRASE, Buffer.from(content.kdf.salt, 'base64'), content.kdf);
  const master = unwrapSecret(wrapping, Buffer.from(content.wrappedMaster, 'base64'));
  if (!master) throw new Error('test vault did not open');
  return deriveAuditHeadKey(master);
}

/**
 * What an attacker with write access to the folder does: changes line `index`
 * (here: a patient name, re-sealed to the trail's public key, which is no
 * secret), recomputes every prev and hash with plain SHA-256 and sets the
 * head record's clear part to match. The MACs are kept (now wrong) or, when
 * `stripMacs`, removed as if the lines had been written before an unlock.
 */
function rechain(index: number, edit: (line: Record<string, unknown>) => void, stripMacs: boolean): void {
  const lines = parsedRows();
  const target = lines[index];
  if (!target) throw new Error('no such line');
  edit(target);
  let prev = lines[0]?.prev as string;
  for (const line of lines) {
    if (stripMacs) delete line.mac;
    line.prev = prev;
    line.hash = auditLineHash(line, sha256Hex);
    prev = line.hash as string;
  }
  writeFileSync(file, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  const head = headRecord();
  const last = lines[lines.length - 1] as { seq: number; hash: string };
  writeFileSync(auditHeadPath(file), `${JSON.stringify({ ...head, seq: last.seq, hash: last.hash })}\n`);
}

/** Re-seals a line's clinical part with another patient name: possible for anyone, the public key is in clear. */
function resealWithOtherName(line: Record<string, unknown>): void {
  const keyFile = JSON.parse(readFileSync(auditSealKeyPath(file), 'utf8')) as { publicKey: string };
  const { prev: _p, hash: _h, mac: _m, sealed: _s, ...clear } = line;
  line.sealed = sealAuditFields(publicSealKey(keyFile.publicKey), JSON.stringify({ patient: { id: 'MRN-1', name: 'SOMEONE^ELSE' }, studyInstanceUID: STUDY }), sealAad(clear));
}

function verifyCli(args: string[], input?: string): { status: number | null; out: string } {
  const run = spawnSync('npm', ['run', '--silent', 'audit:verify', '--', ...args], { cwd: process.cwd(), encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

function passphraseFile(text = `${PASSPHRASE}\n`): string {
  const path = join(dataDir, 'passphrase.txt');
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'telerad-audit-seal-'));
  file = join(dataDir, 'audit', 'audit.jsonl');
  now = Date.parse('2026-03-01T08:00:00Z');
  records = [];
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

describe('sealed clinical fields', () => {
  it('audit.jsonl holds no patient name in clear', async () => {
    const log = newLog();
    await setupVault(log);
    await log.append(view(1));
    await log.append(sent);
    await log.close();

    const onDisk = readdirSync(dirname(file))
      .map((n) => readFileSync(join(dirname(file), n), 'utf8'))
      .join('\n');
    for (const value of CLINICAL) expect(onDisk).not.toContain(value);
    expect(onDisk).not.toContain('could not be delivered');
    // What stays clear: ordering, filtering and forwarding need it.
    expect(parsedRows()[1]).toMatchObject({ seq: 2, action: 'study.view', actor: 'Dr Ama Mensah', source: 'renderer', siteId: 'hospital-a', outcome: 'success' });
    expect(parsedRows()[1]?.sealed).toMatch(/^v1\.[0-9a-f]{16}\./);
    expect(parsedRows()[1]).not.toHaveProperty('patient');
    expect(parsedRows()[2]).not.toHaveProperty('reason');

    // The app reads them back in clear, after an unlock.
    const found = await newLogUnlocked();
    const events = await found.query({ patient: 'okonkwo' }, { offset: 0, limit: 10 });
    expect(events.events.map((e) => e.patient?.name)).toEqual([NAME]);
    const [delivery] = (await found.query({ action: 'outbox.send' }, { offset: 0, limit: 10 })).events;
    expect(delivery).toMatchObject({ studyInstanceUID: STUDY, seriesInstanceUID: SERIES, sopInstanceUIDs: [SOP], reason: REASON });
    expect(delivery).not.toHaveProperty('sealed');
    expect(delivery).not.toHaveProperty('mac');
    // Main's own reasons carry no clinical value and stay readable before an unlock.
    expect(parsedRows()[0]).toMatchObject({ action: 'login', reason: 'passphrase chosen at first start' });
    expect(parsedRows()[0]).not.toHaveProperty('sealed');
  });

  it('lines written while locked are sealed and readable after unlock', async () => {
    const first = newLog();
    await setupVault(first);
    await first.append(view(1));
    await first.close();

    // The next start, before anyone unlocks: main still records, sealing to the public key.
    const locked = newLog();
    await locked.append(sent);
    expect(parsedRows()[2]).not.toHaveProperty('mac');
    expect(parsedRows()[1]).toHaveProperty('mac');
    const before = await locked.readAfter(0, 10);
    expect(before.map((e) => e.sealedState)).toEqual([undefined, 'waiting-for-unlock', 'waiting-for-unlock']);
    expect(before[2]).not.toHaveProperty('reason');
    expect(JSON.stringify(before)).not.toContain(NAME);
    expect((await locked.query({ patient: 'okonkwo' }, { offset: 0, limit: 10 })).total).toBe(0);

    let readable = 0;
    locked.onSealedReadable(() => readable++);
    await locked.useHeadKey(await auditKey());
    expect(readable).toBe(1);
    const after = await locked.readAfter(0, 10);
    expect(after.map((e) => e.sealedState)).toEqual([undefined, undefined, undefined]);
    expect(after[1]?.patient?.name).toBe(NAME);
    expect(after[2]?.reason).toBe(REASON);
    // The line written before the unlock has no MAC; the next one covers it through prev.
    await locked.append(view(2));
    expect(parsedRows()[3]).toHaveProperty('mac');
    expect((await locked.checkedIntegrity()).ok).toBe(true);
  });

  it('makes the key pair before the first unlock when none exists, and wraps it at the unlock', async () => {
    const log = newLog();
    await log.append(view(1));
    const pending = JSON.parse(readFileSync(auditSealKeyPath(file), 'utf8')) as Record<string, unknown>;
    expect(pending).not.toHaveProperty('wrappedPrivate');
    await setupVault(log);
    // The unlock answers before the log has taken its key (that runs in the log's own queue): wait for it.
    await log.checkedIntegrity();
    const full = JSON.parse(readFileSync(auditSealKeyPath(file), 'utf8')) as Record<string, unknown>;
    expect(full.publicKey).toBe(pending.publicKey);
    expect(full.wrappedPrivate).toEqual(expect.any(String));
    await log.close();
    const restarted = await newLogUnlocked();
    expect((await restarted.readAfter(0, 1))[0]?.patient?.name).toBe(NAME);
    expect((await restarted.checkedIntegrity()).ok).toBe(true);
  });

  it('reads lines from before sealing (all in clear) as they are, and they verify with the MACs', async () => {
    // A line as the previous version wrote it: patient in clear, no sealed part, no MAC.
    const old = { seq: 1, at: '2026-02-01T08:00:00.000Z', actor: 'Dr Ama Mensah', source: 'renderer', action: 'study.view', patient: { id: 'OLD-1', name: 'OLD^PATIENT' }, outcome: 'success', prev: '0'.repeat(64) };
    const oldLine = { ...old, hash: auditLineHash(old, sha256Hex) };
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(oldLine)}\n`);
    writeFileSync(auditHeadPath(file), `${JSON.stringify({ v: 1, seq: 1, hash: oldLine.hash })}\n`);
    const log = newLog();
    await setupVault(log);
    await log.append(view(2));
    expect((await log.checkedIntegrity()).ok).toBe(true);
    const events = await log.readAfter(0, 10);
    expect(events[0]?.patient?.name).toBe('OLD^PATIENT');
    expect(events[2]?.patient?.name).toBe(NAME);
    const rechecked = await newLogUnlocked();
    expect((await rechecked.checkedIntegrity()).ok).toBe(true);
  });

  it('a sealed part moved to another line does not open there', async () => {
    const log = newLog();
    await setupVault(log);
    await log.append(view(1, 'FIRST^PATIENT'));
    await log.append(view(2, 'SECOND^PATIENT'));
    await log.close();
    rechain(2, (line) => (line.sealed = parsedRows()[1]?.sealed), true);
    const reopened = await newLogUnlocked();
    const events = await reopened.readAfter(0, 10);
    expect(events[2]?.sealedState).toBe('cannot-open');
    expect(events[2]).not.toHaveProperty('patient');
  });

  it('finds a replaced public key at the unlock', async () => {
    const log = newLog();
    await setupVault(log);
    await log.close();
    const keyFile = JSON.parse(readFileSync(auditSealKeyPath(file), 'utf8')) as Record<string, unknown>;
    const attacker = publicSealKey(Buffer.alloc(32, 9).toString('base64url'));
    writeFileSync(auditSealKeyPath(file), JSON.stringify({ ...keyFile, publicKey: attacker.publicRaw, kid: attacker.kid }));
    const reopened = await newLogUnlocked();
    const integrity = await reopened.checkedIntegrity();
    expect(integrity.ok).toBe(false);
    expect(integrity.message).toMatch(/audit-seal-key\.json/);
  });
});

describe('line MACs', () => {
  it('a re-chained audit file fails verify in the app, with the MACs left in place', async () => {
    const log = newLog();
    await setupVault(log);
    for (let i = 1; i <= 4; i++) await log.append(view(i));
    await log.close();
    rechain(2, resealWithOtherName, false);
    // The plain chain and the head's clear part are fooled: that is the attack.
    expect(verifyAuditText(readFileSync(file, 'utf8'), sha256Hex).ok).toBe(true);

    const reopened = await newLogUnlocked();
    const integrity = await reopened.checkedIntegrity();
    expect(integrity.ok).toBe(false);
    expect(integrity.message).toMatch(/MAC mismatch/);
    await reopened.close();
    expect(parsedRows().some((r) => r.action === 'audit.integrity' && String(r.reason).includes('MAC mismatch'))).toBe(true);
  });

  it('a re-chained audit file fails verify in the app, with the MACs stripped', async () => {
    const log = newLog();
    await setupVault(log);
    for (let i = 1; i <= 4; i++) await log.append(view(i));
    await log.close();
    rechain(2, resealWithOtherName, true);
    const reopened = await newLogUnlocked();
    const integrity = await reopened.checkedIntegrity();
    expect(integrity.ok).toBe(false);
    expect(integrity.message).toMatch(/not the one this workstation signed/);
  });

  it('a re-chained audit file fails verify in audit:verify with the passphrase, and passes without it saying MACs were not checked', async () => {
    const log = newLog();
    await setupVault(log);
    for (let i = 1; i <= 4; i++) await log.append(view(i));
    await log.close();
    const good = verifyCli([dirname(file), '--passphrase-file', passphraseFile()]);
    expect(good.out).toMatch(/^OK 1 file, 5 lines; chain head #5 matches; MACs checked: 5 line MACs and the signed head hold/m);
    expect(good.status).toBe(0);

    rechain(2, resealWithOtherName, false);
    const kept = verifyCli([dirname(file), '--passphrase-file', passphraseFile()]);
    expect(kept.out).toMatch(/line 3: MAC mismatch/);
    expect(kept.status).toBe(1);

    rechain(2, resealWithOtherName, true);
    const stripped = verifyCli([dirname(file), '--passphrase-stdin'], `${PASSPHRASE}\n`);
    expect(stripped.out).toMatch(/FAILED: record #5 is not the one this workstation signed/);
    expect(stripped.status).toBe(1);

    const blind = verifyCli([dirname(file)]);
    expect(blind.status).toBe(0);
    expect(blind.out).toMatch(/MACs NOT checked/);
    for (const run of [good, kept, stripped, blind]) for (const value of CLINICAL) expect(run.out).not.toContain(value);
  }, 60_000);

  it('audit:verify takes no passphrase from the command line and says so on a wrong one', async () => {
    const log = newLog();
    await setupVault(log);
    await log.close();
    const argv = verifyCli([dirname(file), `--passphrase=${PASSPHRASE}`]);
    expect(argv.status).toBe(2);
    expect(argv.out).toMatch(/never taken from the command line/);
    const wrong = verifyCli([dirname(file), '--passphrase-file', passphraseFile('not it\n')]);
    expect(wrong.status).toBe(2);
    expect(wrong.out).toMatch(/wrong passphrase.*MACs not checked/);
  }, 30_000);

  it('names lines written before an unlock as not yet covered by a MAC', async () => {
    const log = newLog();
    await setupVault(log);
    await log.close();
    const locked = newLog();
    await locked.append(sent);
    await locked.close();
    const run = verifyCli([dirname(file), '--passphrase-file', passphraseFile()]);
    expect(run.status).toBe(0);
    expect(run.out).toMatch(/the 1 newest, written before an unlock, carry none yet/);
  }, 30_000);

  it('writes no clinical value to the main log while finding a re-chained file', async () => {
    const log = newLog();
    await setupVault(log);
    for (let i = 1; i <= 3; i++) await log.append(view(i));
    await log.append(sent);
    await log.close();
    rechain(1, resealWithOtherName, true);
    const reopened = await newLogUnlocked();
    await reopened.query({}, { offset: 0, limit: 10 });
    await reopened.close();
    expect(records.some((r) => r.level === 'error')).toBe(true);
    const logged = JSON.stringify(records);
    for (const value of [...CLINICAL, 'SOMEONE^ELSE', 'could not be delivered']) expect(logged).not.toContain(value);
  });
});

/** A restart of the app followed by an unlock. */
async function newLogUnlocked(): Promise<AuditLog> {
  const log = newLog();
  await log.useHeadKey(await auditKey());
  return log;
}
