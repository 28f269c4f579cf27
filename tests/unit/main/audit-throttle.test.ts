import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/shared/ipc/contract';
import { createLogger, memorySink } from '../../../src/shared/log';
import { AuditLog } from '../../../src/main/services/audit/audit-log';
import { ManualTimers } from '../../support/manual-timers';

let dir: string;
let timers: ManualTimers;
let log: AuditLog;

const NO_TOKEN = 'request without a valid launch token';
const WRONG_URL_TOKEN = 'wrong launch token in the URL';
const refuse = (reason: string): void => log.recordSystemThrottled({ action: 'login.failed', outcome: 'failure', reason });
const written = async (): Promise<AuditEvent[]> => log.readMatching({ action: 'login.failed' });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-audit-throttle-'));
  timers = new ManualTimers({ start: Date.parse('2026-03-01T08:00:00Z') });
  log = new AuditLog({
    filePath: join(dir, 'audit', 'audit.jsonl'),
    clock: () => new Date(timers.now()),
    log: createLogger('audit', memorySink()),
    throttle: { timers },
  });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('failed launch-token lines are rate-limited', () => {
  it('writes the first refusal at once and one line with the count of the next 37 after 10 s', async () => {
    for (let i = 0; i < 38; i++) {
      refuse(NO_TOKEN);
      timers.advance(200);
    }
    expect((await written()).map((e) => e.reason)).toEqual([NO_TOKEN]);
    timers.advance(10_000);
    const lines = await written();
    expect(lines.map((e) => e.reason)).toEqual([NO_TOKEN, `${NO_TOKEN} (37 more in the last 10 s)`]);
    expect(lines[1]).toMatchObject({ actor: 'system', source: 'main', outcome: 'failure' });
    // The summary is written when the first line's window ends, not later.
    expect(Date.parse(lines[1]!.at) - Date.parse(lines[0]!.at)).toBe(10_000);
  });

  it('gives a scan that goes on one line per 10 s, each with its own count', async () => {
    // 5 refusals a second for 30 s.
    for (let i = 0; i < 150; i++) {
      refuse(NO_TOKEN);
      timers.advance(200);
    }
    timers.advance(10_000);
    const reasons = (await written()).map((e) => e.reason);
    expect(reasons.length).toBeLessThanOrEqual(5);
    const counted = reasons.map((r) => Number(/\((\d+) more in the last 10 s\)$/.exec(r ?? '')?.[1] ?? 0));
    // Every refusal is accounted for: the lines plus the repeats they count.
    expect(reasons.filter((r) => r === NO_TOKEN).length + counted.reduce((a, b) => a + b, 0)).toBe(150);
  });

  it('limits each reason on its own', async () => {
    refuse(NO_TOKEN);
    refuse(WRONG_URL_TOKEN);
    refuse(NO_TOKEN);
    expect((await written()).map((e) => e.reason)).toEqual([NO_TOKEN, WRONG_URL_TOKEN]);
  });

  it('writes a single refusal once, and again in full after a quiet 10 s', async () => {
    refuse(NO_TOKEN);
    timers.advance(10_000);
    refuse(NO_TOKEN);
    timers.advance(60_000);
    expect((await written()).map((e) => e.reason)).toEqual([NO_TOKEN, NO_TOKEN]);
  });

  it('writes the pending count when the host closes rather than losing it', async () => {
    refuse(NO_TOKEN);
    refuse(NO_TOKEN);
    refuse(NO_TOKEN);
    await log.close();
    expect((await written()).map((e) => e.reason)).toEqual([NO_TOKEN, `${NO_TOKEN} (2 more in the last 10 s)`]);
  });
});
