// Audit forwarding (IHE ATNA syslog over TLS, RFC 5425) to a real rsyslogd
// on loopback with a test CA, the deployment's transport.
//   up: 10,000 events appended to a real AuditLog (fsync per line, as in the
//       app) while the forwarder runs; then 10,000 already in the log when
//       the forwarder starts (a backlog: the forwarder's own rate).
//   down/up: 10,000 events, rsyslog down for the first 5,000 (the forwarder
//       retries), back for the rest: time to drain the backlog once it is back.
// Lost and duplicated are counted from rsyslog's file by seq.
// Baseline: the same framed messages written to the same rsyslog over one
// TLS socket as fast as it takes them, without the queue or the cursor.
// Ends with one JSON line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { AuditLog, auditLogPath } from '../src/main/services/audit/audit-log';
import { auditForwardCursorPath } from '../src/main/services/audit/audit-forwarder';
import { syslogFrame } from '../src/main/services/audit/syslog-message';
import { createLogger, memorySink } from '../src/shared/log';
import { appendEvents, testForwarder, waitFor } from '../tests/support/audit-forwarding';
import { makeTestCa, startRsyslog } from '../tests/support/rsyslog';
import type { RsyslogHandle } from '../tests/support/rsyslog';

const N = 10_000;
const tmp = mkdtempSync(join(tmpdir(), 'telerad-bench-audit-'));
const ca = makeTestCa();
let dirs = 0;

function newLog(): { audit: AuditLog; cursorFile: string } {
  const dataDir = join(tmp, `d${++dirs}`);
  const audit = new AuditLog({ filePath: auditLogPath(dataDir), clock: () => new Date(), log: createLogger('audit', memorySink()) });
  // As after an unlock: lines carry a MAC, their clinical fields are sealed and opened again to forward them.
  audit.useHeadKey(Buffer.alloc(32, 1)).catch((err: unknown) => console.error('useHeadKey failed', err));
  return { audit, cursorFile: auditForwardCursorPath(dataDir) };
}

/** Seqs in rsyslog's file: lost = expected ones missing, duplicated = extra copies. */
function tally(repo: RsyslogHandle, n: number): { lost: number; duplicated: number } {
  const seen = new Map<number, number>();
  for (const r of repo.received()) seen.set(r.seq, (seen.get(r.seq) ?? 0) + 1);
  let lost = 0;
  let duplicated = 0;
  for (let s = 1; s <= n; s++) {
    const c = seen.get(s) ?? 0;
    if (c === 0) lost++;
    else duplicated += c - 1;
  }
  return { lost, duplicated };
}

const seconds = (t0: number): number => (performance.now() - t0) / 1000;
const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;

async function liveRun(): Promise<{ appendPerS: number; forwardedPerS: number; lagS: number; lost: number; duplicated: number }> {
  const repo = await startRsyslog({ tls: true, ca });
  try {
    const { audit, cursorFile } = newLog();
    const { forwarder } = testForwarder(audit, { repository: { url: repo.url, caCertificate: ca.caCertificate }, cursorFile });
    await forwarder.start();
    const t0 = performance.now();
    await appendEvents(audit, N, 'live');
    const appended = seconds(t0);
    const tAppended = performance.now();
    await waitFor(() => repo.receivedCount() >= N, `${N} at rsyslog`, 120_000, 5);
    const total = seconds(t0);
    const lagS = seconds(tAppended);
    await forwarder.close();
    return { appendPerS: N / appended, forwardedPerS: N / total, lagS, ...tally(repo, N) };
  } finally {
    await repo.stop();
  }
}

async function backlogRun(): Promise<{ perS: number; seconds: number; lost: number; duplicated: number }> {
  const repo = await startRsyslog({ tls: true, ca });
  try {
    const { audit, cursorFile } = newLog();
    await appendEvents(audit, N, 'backlog');
    const { forwarder } = testForwarder(audit, { repository: { url: repo.url, caCertificate: ca.caCertificate }, cursorFile });
    const t0 = performance.now();
    await forwarder.start();
    await waitFor(() => repo.receivedCount() >= N, `${N} at rsyslog`, 120_000, 5);
    const s = seconds(t0);
    await forwarder.close();
    return { perS: N / s, seconds: s, ...tally(repo, N) };
  } finally {
    await repo.stop();
  }
}

async function downUpRun(): Promise<{ drainS: number; backlogAtReturn: number; retries: number; lost: number; duplicated: number }> {
  const repo = await startRsyslog({ tls: true, ca });
  try {
    const { audit, cursorFile } = newLog();
    const { forwarder, records } = testForwarder(audit, { repository: { url: repo.url, caCertificate: ca.caCertificate }, cursorFile });
    await forwarder.start();
    await repo.stop({ keepData: true });
    await appendEvents(audit, N / 2, 'down');
    await waitFor(() => forwarder.status().state === 'retrying', 'retrying', 10_000);
    const backlogAtReturn = forwarder.status().backlog;
    await repo.restart();
    const t0 = performance.now();
    // The second half arrives live while the backlog drains.
    const live = appendEvents(audit, N / 2, 'after');
    await waitFor(() => forwarder.status().forwardedUpTo >= N / 2 && repo.receivedCount() >= N / 2, 'the backlog drained', 120_000, 5);
    const drainS = seconds(t0);
    await live;
    await waitFor(() => repo.receivedCount() >= N, `${N} at rsyslog`, 120_000, 5);
    await forwarder.close();
    const retries = records.filter((r) => r.level === 'warn' && r.message.includes('retrying in')).length;
    return { drainS, backlogAtReturn, retries, ...tally(repo, N) };
  } finally {
    await repo.stop();
  }
}

/** The same frames over one TLS socket, written as fast as it takes them: no log reads, no cursor, no per-message wait. */
async function rawRun(): Promise<{ perS: number; seconds: number }> {
  const repo = await startRsyslog({ tls: true, ca });
  try {
    const { audit } = newLog();
    await appendEvents(audit, N, 'raw');
    const events = await audit.readAfter(0, N);
    const frames = events.map((e) => syslogFrame(e, { hostname: 'test-workstation', source: { sourceId: 'telerad-workstation@test-workstation' } }));
    const t0 = performance.now();
    const socket = tls.connect({ host: '127.0.0.1', port: repo.port, ca: ca.caCertificate, minVersion: 'TLSv1.2' });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    for (const f of frames) {
      if (!socket.write(f)) await new Promise((r) => socket.once('drain', r));
    }
    socket.end();
    await waitFor(() => repo.receivedCount() >= N, `${N} at rsyslog (raw)`, 120_000, 5);
    const s = seconds(t0);
    socket.destroy();
    return { perS: N / s, seconds: s };
  } finally {
    await repo.stop();
  }
}

try {
  const raw = await rawRun();
  const backlog = await backlogRun();
  const live = await liveRun();
  const downUp = await downUpRun();
  console.log(`${N} audit events to rsyslog over TLS (loopback, test CA)`);
  console.log(`raw: one socket, frames written back to back (baseline)   ${raw.perS.toFixed(0).padStart(7)} events/s`);
  console.log(`forwarder, ${N} already in the log                       ${backlog.perS.toFixed(0).padStart(7)} events/s  lost ${backlog.lost} duplicated ${backlog.duplicated}`);
  console.log(`forwarder, appended live (AuditLog ${live.appendPerS.toFixed(0)}/s)            ${live.forwardedPerS.toFixed(0).padStart(7)} events/s  last one ${(live.lagS * 1000).toFixed(0)} ms after its append  lost ${live.lost} duplicated ${live.duplicated}`);
  console.log(`down for ${N / 2} (${downUp.retries} retries), back: backlog of ${downUp.backlogAtReturn} drained in ${downUp.drainS.toFixed(2)} s  lost ${downUp.lost} duplicated ${downUp.duplicated}`);
  const figures = {
    transport: 'tls',
    backlog_events_per_s: round(backlog.perS, 0),
    live_events_per_s: round(live.forwardedPerS, 0),
    live_append_events_per_s: round(live.appendPerS, 0),
    live_last_lag_ms: round(live.lagS * 1000, 0),
    down_up_backlog: downUp.backlogAtReturn,
    down_up_drain_s: round(downUp.drainS),
    lost: backlog.lost + live.lost + downUp.lost,
    duplicated: backlog.duplicated + live.duplicated + downUp.duplicated,
  };
  const baseline = { raw_socket_events_per_s: round(raw.perS, 0) };
  const ratios = {
    backlog_over_raw: round(backlog.perS / raw.perS),
    drain_s_over_raw_s_for_same_count: round(downUp.drainS / (downUp.backlogAtReturn / raw.perS)),
  };
  console.log(JSON.stringify({ bench: 'audit-forwarding', figures, baseline, ratios }));
} finally {
  rmSync(tmp, { recursive: true, force: true });
  rmSync(ca.dir, { recursive: true, force: true });
}
