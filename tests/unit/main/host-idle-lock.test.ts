import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACTIVITY_REPORT_MS } from '../../../src/shared/ipc/contract';
import type { VaultStatus } from '../../../src/shared/ipc/contract';
import { Redactor, createLogger, memorySink } from '../../../src/shared/log';
import { createAppServices } from '../../../src/main/services/app-services';
import type { AppServices } from '../../../src/main/services/app-services';
import { FileSecretStore } from '../../../src/main/services/secrets/file-secret-store';
import { keepOnlySopInstanceUids, lockedChannelRefusal, lockedGatewayAccess } from '../../../src/main/services/vault/locked-channel-policy';
import { createPagePresence } from '../../../src/main/hosts/web/page-presence';
import { ManualTimers } from '../../support/manual-timers';
import { contractCalls, unlockServices } from '../../support/contract';

// Issue 18: main locks on its own after idleLockMinutes without reported input,
// whatever the page does (a frozen or closed page reports none). Time is the
// test's: the services get a manual clock and interval timer.

let dir: string;
let timers: ManualTimers;
let services: AppServices;
const calls = () => contractCalls((channel, payload) => services.dispatch(channel, payload));

/** Moves the manual clock on in steps, letting each check (it reads the key file) finish. */
async function pass(ms: number, step = 15_000, each?: () => Promise<void>): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    timers.advance(Math.min(step, ms - t));
    await services.idleLock.check();
    await each?.();
  }
}

describe("main's idle lock", () => {
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'telerad-idle-lock-'));
    timers = new ManualTimers({ start: Date.parse('2026-12-07T09:00:00Z') });
    const redactor = new Redactor();
    services = createAppServices({ dataDir: dir, host: 'web', version: 't', secretStore: new FileSecretStore(dir, redactor), logSink: memorySink(), redactor, timers });
    await unlockServices(services);
  });
  afterEach(async () => {
    services.idleLock.stop();
    await services.audit.close();
    await services.sites.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('host idle-locks after the idle time without activity, and says why', async () => {
    const { value } = calls();
    await value('vault.setIdleLock', { minutes: 5 });
    // The page locks itself at 5 min; main allows the reporting interval twice over on top.
    await pass(5 * 60_000);
    expect(services.vault.isUnlocked()).toBe(true);
    await pass(2 * ACTIVITY_REPORT_MS);
    expect(services.vault.isUnlocked()).toBe(false);
    expect(await value<VaultStatus>('vault.status')).toMatchObject({ state: 'locked', lockReason: 'idle', outboxKeyAvailable: true });
    const locks = await services.audit.query({ action: 'lock' }, { offset: 0, limit: 5 });
    expect(locks.events[0]).toMatchObject({ actor: 'system', reason: 'locked after the idle time without input' });
  });

  it('does not idle-lock while activity keeps coming', async () => {
    const { value } = calls();
    await value('vault.setIdleLock', { minutes: 5 });
    // Input reported every ACTIVITY_REPORT_MS (the page's throttle) for an hour.
    await pass(60 * 60_000, ACTIVITY_REPORT_MS, async () => void (await value('vault.activity')));
    expect(services.vault.isUnlocked()).toBe(true);
    // Then the user walks away.
    await pass(5 * 60_000 + 2 * ACTIVITY_REPORT_MS);
    expect(services.vault.isUnlocked()).toBe(false);
  });

  it('still idle-locks when vault.json is made garbage while unlocked (the check reads no file)', async () => {
    const { value } = calls();
    await value('vault.setIdleLock', { minutes: 5 });
    writeFileSync(join(dir, 'vault.json'), 'not json {');
    await pass(5 * 60_000 + 2 * ACTIVITY_REPORT_MS);
    expect(services.vault.isUnlocked()).toBe(false);
  });

  it('still idle-locks when vault.json is removed while unlocked', async () => {
    rmSync(join(dir, 'vault.json'));
    await pass(10 * 60_000 + 2 * ACTIVITY_REPORT_MS);
    expect(services.vault.isUnlocked()).toBe(false);
  });

  it('starts the idle time again at an unlock', async () => {
    const { value } = calls();
    await value('vault.lock', { reason: 'user' });
    await pass(60 * 60_000);
    await value('vault.unlock', { method: 'passphrase', secret: 'correct horse battery' });
    await pass(9 * 60_000);
    expect(services.vault.isUnlocked()).toBe(true);
    await pass(2 * 60_000);
    expect(services.vault.isUnlocked()).toBe(false);
  });
});

describe('the locked-channel policy', () => {
  const locked = { isUnlocked: () => false, holdsOutboxKey: () => true };
  const neverUnlocked = { isUnlocked: () => false, holdsOutboxKey: () => false };
  const unlocked = { isUnlocked: () => true, holdsOutboxKey: () => true };

  it('answers the lock screen, the log and the outbox delivery record while locked, nothing else', () => {
    for (const channel of ['vault.status', 'vault.setup', 'vault.unlock', 'vault.outboxKey', 'vault.lock', 'app.info', 'log.write', 'audit.status']) {
      expect(lockedChannelRefusal(channel, {}, neverUnlocked)).toBeUndefined();
    }
    for (const channel of ['audit.query', 'audit.exportDicom', 'sites.list', 'sites.add', 'sites.update', 'sites.remove', 'sites.test', 'sites.secretProtection', 'vault.activity', 'no.such']) {
      expect(lockedChannelRefusal(channel, {}, locked)).toMatch(/^The workstation is locked; unlock it to /);
    }
    expect(lockedChannelRefusal('audit.record', { action: 'outbox.send' }, locked)).toBeUndefined();
    expect(lockedChannelRefusal('audit.record', { action: 'outbox.send' }, neverUnlocked)).toBeDefined();
    // The background outbox's refusal of a job changed on disk is recorded while locked too.
    expect(lockedChannelRefusal('audit.record', { action: 'integrity.failed' }, locked)).toBeUndefined();
    expect(lockedChannelRefusal('audit.record', { action: 'integrity.failed' }, neverUnlocked)).toBeDefined();
    expect(lockedChannelRefusal('audit.record', { action: 'study.view' }, locked)).toBeDefined();
    expect(lockedChannelRefusal('audit.query', {}, unlocked)).toBeUndefined();
  });

  it("lets only the outbox's STOW-RS and its instance check through the gateway while locked, once the outbox key is held", () => {
    const access = (method: string, rest: string | undefined, query = '', state = locked): string => lockedGatewayAccess(method, rest, new URLSearchParams(query), state).kind;
    expect(access('POST', '/studies')).toBe('open');
    expect(access('POST', '/studies/1.2.3')).toBe('open');
    expect(access('POST', '/studies', '', neverUnlocked)).toBe('refused');
    expect(access('GET', '/studies')).toBe('refused');
    expect(access('GET', '/studies', 'PatientName=*')).toBe('refused');
    expect(access('GET', '/studies/1.2.3/series/4.5/instances/6.7/rendered')).toBe('refused');
    expect(access('GET', '/studies/1.2.3/metadata')).toBe('refused');
    expect(access('POST', undefined)).toBe('refused');
    expect(access('GET', '/studies/1.2.3/instances', 'SOPInstanceUID=1.2.3.4,1.2.3.5&includefield=00080018')).toBe('sop-uids-only');
    expect(access('GET', '/studies/1.2.3/instances', 'SOPInstanceUID=1.2.3.4', neverUnlocked)).toBe('refused');
    expect(access('GET', '/studies/1.2.3/instances', 'SOPInstanceUID=*')).toBe('refused');
    expect(access('GET', '/studies/1.2.3/instances', 'SOPInstanceUID=1.2.3.4&PatientName=*')).toBe('refused');
    expect(access('GET', '/studies/1.2.3/instances')).toBe('refused');
    expect(access('GET', '/studies', '', unlocked)).toBe('open');
  });

  it('cuts the instance check answered while locked down to the SOP Instance UIDs', async () => {
    const site = [{ '00100010': { vr: 'PN', Value: [{ Alphabetic: 'LOCKED^PATIENT' }] }, '00080018': { vr: 'UI', Value: ['1.2.3.4'] }, '0020000D': { vr: 'UI', Value: ['1.2.3'] } }];
    const cut = await keepOnlySopInstanceUids(new Response(JSON.stringify(site), { status: 200, headers: { 'content-type': 'application/dicom+json' } }), ['1.2.3.4']);
    expect(cut.status).toBe(200);
    expect(await cut.json()).toEqual([{ '00080018': { vr: 'UI', Value: ['1.2.3.4'] } }]);
    const failed = await keepOnlySopInstanceUids(new Response('LOCKED^PATIENT not found', { status: 404 }), ['1.2.3.4']);
    expect(failed.status).toBe(404);
    expect(await failed.text()).toBe('');
  });

  it('lets only the SOP Instance UIDs asked about through when the site ignores the filter', async () => {
    const uid = (value: string) => ({ '00080018': { vr: 'UI', Value: [value] }, '00100010': { vr: 'PN', Value: [{ Alphabetic: 'OTHER^PATIENT' }] } });
    const site = [uid('1.2.3.4'), uid('9.9.9.1'), uid('1.2.3.5'), uid('9.9.9.2'), uid('1.2.3.4')];
    const access = lockedGatewayAccess('GET', '/studies/1.2.3/instances', new URLSearchParams('SOPInstanceUID=1.2.3.4,1.2.3.5,1.2.3.6&includefield=00080018'), locked);
    expect(access).toEqual({ kind: 'sop-uids-only', askedUids: ['1.2.3.4', '1.2.3.5', '1.2.3.6'] });
    if (access.kind !== 'sop-uids-only') throw new Error('expected the instance check');
    const cut = await keepOnlySopInstanceUids(new Response(JSON.stringify(site), { status: 200 }), access.askedUids);
    expect(cut.status).toBe(200);
    expect(await cut.json()).toEqual([{ '00080018': { vr: 'UI', Value: ['1.2.3.4'] } }, { '00080018': { vr: 'UI', Value: ['1.2.3.5'] } }]);
  });

  it('refuses an instance-check answer over 1 MiB without reading it all, by content-length or as it streams', async () => {
    let pulled = 0;
    const endless = () =>
      new ReadableStream<Uint8Array>({
        pull(controller) {
          pulled += 1;
          controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
        },
      });
    const declared = await keepOnlySopInstanceUids(new Response(endless(), { status: 200, headers: { 'content-length': String(2 * 1024 * 1024) } }), ['1.2.3.4']);
    expect(declared.status).toBe(502);
    const streamed = await keepOnlySopInstanceUids(new Response(endless(), { status: 200 }), ['1.2.3.4']);
    expect(streamed.status).toBe(502);
    // 1 MiB in 64 KiB chunks, one over, and what the stream queued ahead: not the endless rest.
    expect(pulled).toBeLessThan(40);
  });
});

describe('page presence (browser host)', () => {
  it('locks with no-page once no call came for goneAfterMs, not while calls keep coming, and only an unlocked vault', async () => {
    const clock = new ManualTimers();
    const locks: string[] = [];
    let unlocked = true;
    const presence = createPagePresence({
      vault: { isUnlocked: () => unlocked, lock: async (reason) => void (locks.push(reason), (unlocked = false)) },
      timers: clock,
      log: createLogger('t', memorySink()),
      goneAfterMs: 90_000,
    });
    try {
      for (let i = 0; i < 100; i++) {
        clock.advance(3000);
        presence.seen();
      }
      await presence.check();
      expect(locks).toEqual([]);
      clock.advance(89_000);
      await presence.check();
      expect(locks).toEqual([]);
      clock.advance(1000);
      await presence.check();
      expect(locks).toEqual(['no-page']);
      clock.advance(600_000);
      await presence.check();
      expect(locks).toEqual(['no-page']);
    } finally {
      presence.stop();
    }
  });
});
