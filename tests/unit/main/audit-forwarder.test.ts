import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/shared/ipc/contract';
import { createAuditForwarder } from '../../../src/main/services/audit/audit-forwarder';
import type { AuditForwarderSource, ForwarderSocket } from '../../../src/main/services/audit/audit-forwarder';
import { createLogger } from '../../../src/shared/log';
import type { LogRecord } from '../../../src/shared/log';
import { ManualTimers } from '../../support/manual-timers';

// The retry schedule and status with time under the test's control; the
// connection refuses every time (the real network paths are in
// tests/integration/main/audit-forwarding.test.ts against a real rsyslog).

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function event(seq: number): AuditEvent {
  return { seq, at: '2026-03-01T08:00:00.000Z', actor: 'system', source: 'main', action: 'lock', outcome: 'success', prev: 'p', hash: `h${seq}` };
}

const source = (n: number): AuditForwarderSource => ({
  readAfter: async (after, limit) => Array.from({ length: Math.max(0, n - after) }, (_, i) => event(after + 1 + i)).slice(0, limit),
  onAppend: () => () => undefined,
  newestSeq: async () => n,
});

class RefusingSocket extends EventEmitter {
  write(): boolean {
    return false;
  }
  end(): void {}
  destroy(): void {}
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

describe('audit forwarder retry schedule', () => {
  it('backs off exponentially from 1 s to a 60 s cap, with the next try and the plain reason in its status', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'telerad-fwd-unit-'));
    dirs.push(dir);
    const timers = new ManualTimers({ start: Date.parse('2026-03-01T08:00:00Z') });
    const records: LogRecord[] = [];
    let attempts = 0;
    const forwarder = createAuditForwarder({
      repository: { url: 'tcp://arr.example:514' },
      source: source(3),
      cursorFile: join(dir, 'forwarded.json'),
      hostname: 'ws',
      clock: () => new Date(timers.now()),
      log: createLogger('audit-forward', (r) => records.push(r)),
      timers,
      // random 1: the top of each jitter range [d/2, d], so the delays are exact.
      backoff: { random: () => 1 },
      connect: () => {
        attempts++;
        const socket = new RefusingSocket();
        setImmediate(() => socket.emit('error', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })));
        return { socket: socket as unknown as ForwarderSocket, ready: 'connect' };
      },
    });
    await forwarder.start();
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      await flush();
      const status = forwarder.status();
      expect(status).toMatchObject({ repository: 'tcp://arr.example:514', state: 'retrying', forwardedUpTo: 0, backlog: 3 });
      expect(status.lastError).toBe('connection refused by arr.example:514: the repository is not running or not listening there');
      const delay = Date.parse(status.nextRetryAt ?? '') - timers.now();
      delays.push(delay);
      timers.advance(delay);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    expect(attempts).toBe(9);
    expect(records.filter((r) => r.level === 'warn')[0]?.message).toBe(
      'connection refused by arr.example:514: the repository is not running or not listening there; retrying in 1.0 s',
    );
    await forwarder.close();
  });

  it('draws each delay from the upper half of its step, so workstations do not retry in step', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'telerad-fwd-unit-'));
    dirs.push(dir);
    const timers = new ManualTimers({ start: 0 });
    const forwarder = createAuditForwarder({
      repository: { url: 'tcp://arr.example:514' },
      source: source(1),
      cursorFile: join(dir, 'forwarded.json'),
      hostname: 'ws',
      clock: () => new Date(timers.now()),
      log: createLogger('audit-forward', () => undefined),
      timers,
      backoff: { random: () => 0 },
      connect: () => {
        const socket = new RefusingSocket();
        setImmediate(() => socket.emit('error', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })));
        return { socket: socket as unknown as ForwarderSocket, ready: 'connect' };
      },
    });
    await forwarder.start();
    await flush();
    expect(Date.parse(forwarder.status().nextRetryAt ?? '')).toBe(500);
    await forwarder.close();
  });
});
