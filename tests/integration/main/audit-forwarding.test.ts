import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/shared/ipc/contract';
import { AuditLog, auditLogPath } from '../../../src/main/services/audit/audit-log';
import { startWebHost } from '../../../src/main/hosts/web/web-host';
import { auditForwardCursorPath } from '../../../src/main/services/audit/audit-forwarder';
import { createLogger, memorySink } from '../../../src/shared/log';
import { isRsyslogAvailable, makeTestCa, startRsyslog } from '../../support/rsyslog';
import type { ReceivedSyslog, RsyslogHandle, TestCa } from '../../support/rsyslog';
import { appendEvents, startHostProcess, testForwarder, waitFor } from '../../support/audit-forwarding';
import { E2E_PASSPHRASE, unlockHost } from '../../support/e2e/unlock';
import { WAITING_FOR_UNLOCK } from '../../../src/main/services/audit/audit-forwarder';
import { VaultFile, vaultFilePath } from '../../../src/main/services/vault/vault-file';
import { VaultService } from '../../../src/main/services/vault/vault-service';
import type { HostProcess, TestForwarder } from '../../support/audit-forwarding';

// The audit trail forwarded to a real rsyslogd (plain TCP and TLS with a
// test CA), as an auditor would check it at the repository: every record
// once, in order, each a well-formed DICOM audit message carrying its seq.

let tmp: string;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(() => {
  if (!isRsyslogAvailable()) throw new Error('rsyslogd or openssl missing: apt-get install rsyslog rsyslog-openssl openssl');
  tmp = mkdtempSync(join(tmpdir(), 'telerad-int-audit-fwd-'));
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The vault's audit key as an unlock hands it over (any 32 bytes do for a log without a vault). */
const AUDIT_KEY = Buffer.alloc(32, 5);

/** The data dir's vault, as the host's (full scrypt cost, so the host opens it as it is). */
function newVault(dataDir: string, audit: AuditLog): VaultService {
  return new VaultService({ file: new VaultFile(vaultFilePath(dataDir)), now: () => Date.now(), audit, log: createLogger('vault', memorySink()) });
}

let dirCount = 0;
function newLog(): { audit: AuditLog; dataDir: string; cursorFile: string } {
  const dataDir = join(tmp, `data-${++dirCount}`);
  const audit = new AuditLog({ filePath: auditLogPath(dataDir), clock: () => new Date(), log: createLogger('audit', memorySink()) });
  return { audit, dataDir, cursorFile: auditForwardCursorPath(dataDir) };
}

async function repository(opts: { tls?: boolean; ca?: TestCa } = {}): Promise<RsyslogHandle> {
  const repo = await startRsyslog(opts);
  cleanups.push(() => repo.stop());
  return repo;
}

function forwarderFor(...args: Parameters<typeof testForwarder>): TestForwarder {
  const f = testForwarder(...args);
  cleanups.push(() => f.forwarder.close());
  return f;
}

function seqs(received: ReceivedSyslog[]): number[] {
  return received.map((r) => r.seq);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Every XML parsed by expat (strict by the XML spec); returns the EventDateTime and outcome of each. */
function parseAllStrict(xmls: string[]): Array<{ at: string; outcome: string; eventId: string }> {
  const script = [
    'import sys, json, xml.dom.minidom',
    'out = []',
    'for x in json.load(sys.stdin):',
    '    d = xml.dom.minidom.parseString(x.encode("utf-8"))',
    '    e = d.getElementsByTagName("EventIdentification")[0]',
    '    out.append({"at": e.getAttribute("EventDateTime"), "outcome": e.getAttribute("EventOutcomeIndicator"), "eventId": d.getElementsByTagName("EventID")[0].getAttribute("csd-code")})',
    'print(json.dumps(out))',
  ].join('\n');
  return JSON.parse(execFileSync('python3', ['-c', script], { input: JSON.stringify(xmls), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as Array<{ at: string; outcome: string; eventId: string }>;
}

async function allEvents(audit: AuditLog): Promise<AuditEvent[]> {
  return audit.readAfter(0, Number.MAX_SAFE_INTEGER);
}

/** What an auditor checks at the repository: each record once, in order, matching the local log. */
async function expectRepositoryHoldsLog(repo: RsyslogHandle, audit: AuditLog): Promise<void> {
  const events = await allEvents(audit);
  const received = repo.received();
  expect(seqs(received)).toEqual(events.map((e) => e.seq));
  const parsed = parseAllStrict(received.map((r) => r.xml));
  received.forEach((r, i) => {
    const e = events[i]!;
    expect(r.sd).toContain(`hash="${e.hash}"`);
    expect(r.pri).toBe(e.outcome === 'success' ? 85 : 84);
    expect(r.msgId).toBe('IHE+RFC-3881');
    expect(r.appName).toBe('telerad');
    expect(parsed[i]!.at).toBe(e.at);
    expect(parsed[i]!.outcome).toBe(e.outcome === 'success' ? '0' : '4');
  });
}

describe('audit forwarding to a real rsyslog over TCP', () => {
  it('delivers every event once, in seq order, the backlog first and then live ones, each a well-formed DICOM audit message with its seq', async () => {
    const repo = await repository();
    const { audit, cursorFile } = newLog();
    await appendEvents(audit, 40, 'backlog');
    const { forwarder } = forwarderFor(audit, { repository: { url: repo.url }, cursorFile });
    await forwarder.start();
    await appendEvents(audit, 25, 'live');
    await waitFor(() => forwarder.status().state === 'idle' && forwarder.status().forwardedUpTo === 65, 'forwarded up to #65 and idle', 15_000);
    await waitFor(() => repo.received().length >= 65, '65 messages at rsyslog', 10_000);
    await expectRepositoryHoldsLog(repo, audit);
    expect(forwarder.status()).toEqual({ repository: repo.url, state: 'idle', forwardedUpTo: 65, backlog: 0 });
    // The cursor on disk says how far it got.
    expect(JSON.parse(readFileSync(cursorFile, 'utf8'))).toEqual({ sent: 65, confirmed: 65 });
  });

  it('says plainly that the connection is refused when nothing listens, and keeps the events for later', async () => {
    const repo = await repository();
    const port = repo.port;
    await repo.stop();
    const { audit, cursorFile } = newLog();
    await appendEvents(audit, 5);
    const { forwarder, messages } = forwarderFor(audit, { repository: { url: `tcp://127.0.0.1:${port}` }, cursorFile });
    await forwarder.start();
    await waitFor(() => forwarder.status().state === 'retrying', 'retrying', 10_000);
    const status = forwarder.status();
    expect(status).toMatchObject({ state: 'retrying', forwardedUpTo: 0, backlog: 5 });
    expect(status.lastError).toMatch(/connection refused by 127\.0\.0\.1:\d+/);
    expect(Date.parse(status.nextRetryAt ?? '')).toBeGreaterThan(Date.now() - 1000);
    expect(messages().some((m) => m.startsWith('warn connection refused by 127.0.0.1'))).toBe(true);
  });
});

describe('audit forwarding of sealed lines', () => {
  it('forwarding waits for the first unlock to read sealed lines, then delivers their clinical fields', async () => {
    const repo = await repository();
    const { audit, cursorFile, dataDir } = newLog();
    await newVault(dataDir, audit).setup(E2E_PASSPHRASE); // #1 login
    await appendEvents(audit, 3); // #2–#4 study.view, sealed
    await audit.close();

    // The next start, locked: main's own line goes in clear, the rest sealed to the public key.
    const restarted = new AuditLog({ filePath: auditLogPath(dataDir), clock: () => new Date(), log: createLogger('audit', memorySink()) });
    const { forwarder, messages } = forwarderFor(restarted, { repository: { url: repo.url }, cursorFile });
    await forwarder.start();
    await waitFor(() => forwarder.status().waiting === WAITING_FOR_UNLOCK, 'forwarding waiting for the unlock', 10_000);
    await waitFor(() => repo.received().length >= 1, '#1 at rsyslog', 10_000);
    await restarted.append({ action: 'lock', actor: 'system', source: 'main', outcome: 'success', reason: 'locked by the user' }); // #5
    await new Promise((r) => setTimeout(r, 300));
    expect(seqs(repo.received())).toEqual([1]);
    expect(forwarder.status()).toMatchObject({ forwardedUpTo: 1, backlog: 4, waiting: WAITING_FOR_UNLOCK });
    expect(messages()).toContainEqual(expect.stringMatching(/Forwarding waits at #2: waiting for the first unlock to read sealed fields/));

    await newVault(dataDir, restarted).unlock('passphrase', E2E_PASSPHRASE); // #6 login
    await waitFor(() => forwarder.status().forwardedUpTo === 6, 'forwarded up to #6', 10_000);
    await waitFor(() => repo.received().length >= 6, '6 messages at rsyslog', 10_000);
    expect(seqs(repo.received())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(forwarder.status().waiting).toBeUndefined();
    const view = repo.received()[1]?.xml ?? '';
    expect(view).toContain('MENSAH^KOFI');
    expect(view).toContain('1.2.826.0.1.3680043.8.498.1');
    expect((await restarted.checkedIntegrity()).ok).toBe(true);
    // Nothing clinical in main's log on the way.
    expect(messages().join('\n')).not.toContain('MENSAH');
  });
});

describe('audit forwarding past a damaged record', () => {
  it('forwards the records that can be read, says which seqs it skipped, and does not stall', async () => {
    const repo = await repository();
    const { audit, cursorFile, dataDir } = newLog();
    await audit.useHeadKey(AUDIT_KEY);
    await appendEvents(audit, 10);
    await audit.close();
    // Line 5 damaged on disk (audit:verify reports it); the rest still readable.
    const file = auditLogPath(dataDir);
    const rows = readFileSync(file, 'utf8').split('\n');
    rows[4] = rows[4]!.slice(0, 40);
    writeFileSync(file, rows.join('\n'));
    const reopened = new AuditLog({ filePath: file, clock: () => new Date(), log: createLogger('audit', memorySink()) });
    // The restart's unlock: the sealed fields open, and the check finds the damaged line (#11, audit.integrity).
    await reopened.useHeadKey(AUDIT_KEY);
    const { forwarder, messages } = forwarderFor(reopened, { repository: { url: repo.url }, cursorFile });
    await forwarder.start();
    await waitFor(() => forwarder.status().state === 'idle' && forwarder.status().forwardedUpTo === 11, 'forwarded up to #11', 15_000);
    await waitFor(() => repo.received().length >= 10, '10 messages at rsyslog', 10_000);
    expect(seqs(repo.received())).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 10, 11]);
    expect(repo.received().find((r) => r.seq === 11)?.xml).toMatch(/line 5: not JSON/);
    expect(messages()).toContainEqual(expect.stringMatching(/^error Skipped #5–#5: the audit log holds no readable record for them/));
  });
});

describe('audit forwarding configuration at host start', () => {
  it('refuses to start the browser host with a settings.json whose repository is wrong, naming the field', async () => {
    const dataDir = join(tmp, 'bad-settings');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'settings.json'), JSON.stringify({ audit: { repository: 'udp://arr.example:514' } }));
    await expect(startWebHost({ dataDir, rendererDir: join(tmp, 'renderer') })).rejects.toThrow(/settings\.json: field "audit\.repository": unsupported scheme "udp:"/);
  });
});

describe('audit forwarding to a real rsyslog over TLS (RFC 5425)', () => {
  let ca: TestCa;
  let otherCa: TestCa;
  beforeAll(() => {
    ca = makeTestCa('Telerad Test Audit CA');
    otherCa = makeTestCa('Some Other CA');
  });
  afterAll(() => {
    for (const c of [ca, otherCa]) if (c) rmSync(c.dir, { recursive: true, force: true });
  });

  it('delivers every event once and in order when the repository certificate is signed by the configured CA', async () => {
    const repo = await repository({ tls: true, ca });
    const { audit, cursorFile } = newLog();
    await appendEvents(audit, 30);
    const { forwarder } = forwarderFor(audit, { repository: { url: repo.url, caCertificate: ca.caCertificate }, cursorFile });
    await forwarder.start();
    await appendEvents(audit, 10, 'live');
    await waitFor(() => forwarder.status().state === 'idle' && forwarder.status().forwardedUpTo === 40, 'forwarded up to #40 and idle', 15_000);
    await waitFor(() => repo.received().length >= 40, '40 messages at rsyslog', 10_000);
    await expectRepositoryHoldsLog(repo, audit);
  });

  it('refuses a repository whose certificate the configured CA did not sign, says so, and loses nothing once the right CA is configured', async () => {
    const repo = await repository({ tls: true, ca });
    const { audit, cursorFile } = newLog();
    await appendEvents(audit, 20);
    const wrong = forwarderFor(audit, { repository: { url: repo.url, caCertificate: otherCa.caCertificate }, cursorFile });
    await wrong.forwarder.start();
    await waitFor(() => wrong.forwarder.status().state === 'retrying', 'retrying with the wrong CA', 10_000);
    const status = wrong.forwarder.status();
    expect(status.lastError).toMatch(/TLS certificate of 127\.0\.0\.1:\d+ is not trusted: it is not signed by the configured CA/);
    expect(status).toMatchObject({ forwardedUpTo: 0, backlog: 20 });
    expect(wrong.messages().some((m) => /^warn the TLS certificate .* is not trusted/.test(m))).toBe(true);
    // No CA text in the log.
    expect(wrong.messages().join('\n')).not.toContain('BEGIN CERTIFICATE');
    await new Promise((r) => setTimeout(r, 300));
    expect(repo.received()).toEqual([]);
    await wrong.forwarder.close();

    // The administrator fixes the CA; the same cursor file carries on.
    const right = forwarderFor(audit, { repository: { url: repo.url, caCertificate: ca.caCertificate }, cursorFile });
    await right.forwarder.start();
    await waitFor(() => right.forwarder.status().state === 'idle' && right.forwarder.status().forwardedUpTo === 20, 'forwarded with the right CA', 15_000);
    await waitFor(() => repo.received().length >= 20, '20 messages at rsyslog', 10_000);
    await expectRepositoryHoldsLog(repo, audit);
  });

  it('gives up on a repository that accepts the connection but never answers the handshake, saying it timed out', async () => {
    // A hung repository: the TCP connection is accepted, nothing is ever sent back (it reads, so it sees our close).
    const silent = net.createServer((socket) => socket.resume());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => silent.close(() => r())));
    const port = (silent.address() as net.AddressInfo).port;
    const { audit, cursorFile } = newLog();
    await appendEvents(audit, 2);
    const { forwarder } = forwarderFor(audit, { repository: { url: `tcp+tls://127.0.0.1:${port}`, caCertificate: ca.caCertificate }, cursorFile, connectTimeoutMs: 300 });
    await forwarder.start();
    await waitFor(() => forwarder.status().state === 'retrying', 'retrying', 10_000);
    expect(forwarder.status()).toMatchObject({ forwardedUpTo: 0, backlog: 2 });
    expect(forwarder.status().lastError).toMatch(/no answer from 127\.0\.0\.1:\d+ within 300 ms \(timeout\): the connection or its TLS handshake did not complete/);
  });

  it('refuses a certificate that does not name the host it connected to (host name mismatch)', async () => {
    const repo = await repository({ tls: true, ca });
    const { audit, cursorFile } = newLog();
    await appendEvents(audit, 3);
    // The server certificate names IP 127.0.0.1 only.
    const { forwarder } = forwarderFor(audit, { repository: { url: `tcp+tls://localhost:${repo.port}`, caCertificate: ca.caCertificate }, cursorFile });
    await forwarder.start();
    await waitFor(() => forwarder.status().state === 'retrying', 'retrying', 10_000);
    expect(forwarder.status().lastError).toMatch(/does not name localhost \(host name mismatch\)/);
    expect(repo.received()).toEqual([]);
  });
});

describe('audit forwarding while the repository is down for a while', () => {
  it('shows retrying with the backlog, loses nothing, and delivers everything exactly once in order when it returns on the same port', async () => {
    const ca = makeTestCa();
    cleanups.push(() => rmSync(ca.dir, { recursive: true, force: true }));
    const repo = await repository({ tls: true, ca });
    const { audit, cursorFile } = newLog();
    const { forwarder, messages } = forwarderFor(audit, { repository: { url: repo.url, caCertificate: ca.caCertificate }, cursorFile });
    await forwarder.start();
    await appendEvents(audit, 20);
    await waitFor(() => forwarder.status().state === 'idle' && forwarder.status().forwardedUpTo === 20, 'forwarded == newest (#20)', 15_000);
    await waitFor(() => repo.received().length >= 20, '20 messages at rsyslog', 10_000);

    await repo.stop({ keepData: true });
    await appendEvents(audit, 50, 'down');
    await waitFor(() => forwarder.status().state === 'retrying', 'retrying', 10_000);
    expect(forwarder.status()).toMatchObject({ state: 'retrying', forwardedUpTo: 20, backlog: 50 });
    expect(forwarder.status().lastError).toMatch(/connection refused/);
    // Down for a while: several retries.
    await new Promise((r) => setTimeout(r, 1500));
    expect(forwarder.status()).toMatchObject({ state: 'retrying', backlog: 50 });

    await repo.restart();
    await waitFor(() => forwarder.status().state === 'idle' && forwarder.status().forwardedUpTo === 70, 'all 70 forwarded after the restart', 20_000);
    await waitFor(() => repo.received().length >= 70, '70 messages at rsyslog', 10_000);
    await expectRepositoryHoldsLog(repo, audit);
    expect(forwarder.status()).toEqual({ repository: repo.url, state: 'idle', forwardedUpTo: 70, backlog: 0 });
    expect(messages().some((m) => m.includes('may hold some of them twice'))).toBe(false);
  });

  it('resends from the last clean close after the repository dies mid-session, and says the repository may hold some twice', async () => {
    const repo = await repository();
    const { audit, cursorFile } = newLog();
    // A long idle time keeps the connection open, as during a busy session.
    const { forwarder, messages } = forwarderFor(audit, { repository: { url: repo.url }, cursorFile, idleMs: 60_000 });
    await forwarder.start();
    await appendEvents(audit, 10);
    await waitFor(() => repo.received().length >= 10 && forwarder.status().forwardedUpTo === 10, '10 messages at rsyslog', 10_000);
    expect(forwarder.status()).toMatchObject({ state: 'sending', forwardedUpTo: 10 });
    await repo.stop({ keepData: true });
    // The repository hung up; the forwarder notices at once, not at the next event.
    await waitFor(() => forwarder.status().state === 'retrying', 'retrying', 10_000);
    expect(forwarder.status().lastError).toMatch(/closed the connection|connection refused/);
    await appendEvents(audit, 5, 'after');
    // Nothing was confirmed by a clean close: the cursor went back to it.
    expect(forwarder.status()).toMatchObject({ forwardedUpTo: 0, backlog: 15 });
    await repo.restart();
    await waitFor(() => forwarder.status().forwardedUpTo === 15, 'forwarded up to #15 again', 20_000);
    await waitFor(() => new Set(seqs(repo.received())).size >= 15, 'all 15 seqs at rsyslog', 10_000);
    const got = seqs(repo.received());
    // Nothing lost; duplicates only by seq, and only of what was sent before the failure.
    expect([...new Set(got)].sort((a, b) => a - b)).toEqual(range(1, 15));
    expect(got.filter((s, i) => got.indexOf(s) !== i).every((s) => s <= 10)).toBe(true);
    expect(messages()).toContainEqual(expect.stringMatching(/^warn Resent #1–#1\d after the connection failed; the repository may hold some of them twice \(same seq\)$/));
  });
});

describe('browser host SIGKILLed while forwarding', () => {
  const N = 3000;
  let hostProc: HostProcess | undefined;
  afterEach(async () => {
    await hostProc?.kill('SIGKILL');
    hostProc = undefined;
  });

  // Exactly once is not reachable with plain syslog: a SIGKILL that lands
  // while the kernel is inside write() takes effect after it returns, so the
  // kernel delivers that message and the cursor never names it (4 of 10 kills
  // on loopback). What holds, and is asserted: nothing lost, order kept, and
  // at most that one message twice, identical (same seq and hash).
  it(`resumes after the restart so that every seq 1..${N} arrives, in order, none lost, at most the one message in the killed write twice`, async () => {
    const repo = await repository();
    const { audit, dataDir } = newLog();
    // A workstation set up with a passphrase: the events' clinical fields are sealed to its audit key.
    await newVault(dataDir, audit).setup(E2E_PASSPHRASE);
    // #1 the setup's login, then the events; each of the two host starts adds its unlock's login: N in all.
    await appendEvents(audit, N - 3);
    await audit.close();
    const rendererDir = join(tmp, 'renderer');
    mkdirSync(rendererDir, { recursive: true });
    writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Telerad</title>');
    const args = ['--data-dir', dataDir, '--renderer-dir', rendererDir, '--audit-repository', repo.url];
    const cursorFile = auditForwardCursorPath(dataDir);
    const sentCursor = (): number => {
      try {
        return (JSON.parse(readFileSync(cursorFile, 'utf8')) as { sent: number }).sent;
      } catch {
        return 0;
      }
    };

    hostProc = await startHostProcess(args);
    // Sealed lines are forwarded from the first unlock of the run on.
    await unlockHost(hostProc);
    // Killed once forwarding is under way, well before it is through.
    await waitFor(() => sentCursor() >= 300, 'forwarding under way (cursor ≥ #300)', 30_000, 1);
    await hostProc.kill('SIGKILL');
    const atKill = sentCursor();
    expect(atKill).toBeLessThan(N);

    hostProc = await startHostProcess(args);
    const host = hostProc;
    await unlockHost(host);
    await waitFor(async () => (await host.auditStatus()).forwarding.forwardedUpTo === N, `the restarted host forwarded up to #${N}`, 60_000, 100);
    await waitFor(() => repo.received().length >= N, `${N} messages at rsyslog`, 20_000);
    // Late duplicates would show within this.
    await new Promise((r) => setTimeout(r, 1500));
    const received = repo.received();
    const got = seqs(received);
    const duplicates = got.filter((s, i) => got.indexOf(s) !== i);
    const seen = new Set(got);
    const missing = range(1, N).filter((s) => !seen.has(s));
    expect({ killedAfter: atKill, missing }).toEqual({ killedAfter: atKill, missing: [] });
    // Only the message after the cursor at the kill can be there twice, both copies the same record.
    expect(duplicates.filter((s) => s !== atKill + 1)).toEqual([]);
    expect(duplicates.length).toBeLessThanOrEqual(1);
    for (const d of duplicates) {
      const copies = received.filter((r) => r.seq === d);
      expect(new Set(copies.map((c) => `${c.sd} ${c.xml}`)).size).toBe(1);
    }
    // In order: the repeat sits right behind its first copy.
    expect(got.filter((s, i) => i === 0 || s !== got[i - 1])).toEqual(range(1, N));
    expect((await host.auditStatus()).forwarding).toMatchObject({ forwardedUpTo: N, backlog: 0 });
    // The repository gets the clinical fields the file holds sealed.
    expect(received.find((r) => r.seq === 2)?.xml).toContain('MENSAH^KOFI');
  });
});
