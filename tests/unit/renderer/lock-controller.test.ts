import { describe, expect, it } from 'vitest';
import type { ServiceClient, VaultStatus } from '../../../src/shared/ipc/contract';
import { createLogger } from '../../../src/shared/log';
import { ServiceError } from '../../../src/shared/ipc/envelope';
import { createLockController } from '../../../src/renderer/lock/lock-controller';
import { createLockedAnswers } from '../../../src/renderer/lock/locked-answers';
import { fail, ok } from '../../../src/shared/ipc/envelope';
import { createServiceClient } from '../../../src/shared/ipc/proxy';
import { ManualTimers } from '../../support/manual-timers';

const status: VaultStatus = { state: 'unlocked', pinSet: false, idleLockMinutes: 10, retryAfterMs: 0, outboxKeyAvailable: true, keyProtection: 'passphrase' };

function setup(vaultState: () => VaultStatus['state'] = () => 'unlocked', hooks: { onLockedAnswer?: (l: () => void) => () => void } = {}) {
  const events: string[] = [];
  /** When each `vault.activity` reached main (the manual clock's time). */
  const reports: number[] = [];
  const clock = new ManualTimers();
  let activity: (() => void) | undefined;
  const vault = {
    status: async () => ({ ...status, state: vaultState() }),
    activity: async () => {
      reports.push(clock.now());
      if (vaultState() !== 'unlocked') throw new ServiceError('LOCKED', 'The workstation is locked; unlock it to go on.');
      return null;
    },
    lock: async ({ reason }: { reason: string }) => void events.push(`main locked (${reason})`),
    setIdleLock: async ({ minutes }: { minutes: number }) => void events.push(`idle ${minutes}`),
    setPin: async () => null,
  } as unknown as ServiceClient['vault'];
  const lock = createLockController({
    vault,
    onActivity: (l) => {
      activity = l;
      return () => (activity = undefined);
    },
    hideScreen: () => events.push('hidden'),
    dropKey: () => events.push('key dropped'),
    reload: () => events.push('reloaded'),
    clock,
    log: createLogger('test', () => undefined),
    flushTimeoutMs: 50,
    activityReportMs: 20_000,
    ...hooks,
  });
  return { lock, events, reports, clock, touch: () => activity?.() };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe('lock controller', () => {
  it('locks after the idle time without input, and input resets the wait', async () => {
    const { lock, events, clock, touch } = setup();
    lock.start({ ...status, idleLockMinutes: 2 });
    clock.advance(90_000);
    touch();
    clock.advance(90_000);
    await settle();
    expect(events).toEqual([]);
    clock.advance(35_000);
    await settle();
    await settle();
    expect(events).toEqual(['hidden', 'main locked (idle)', 'key dropped', 'reloaded']);
  });

  it('hides the screen first, writes the typed draft with the key still there, then drops the key and reloads', async () => {
    const { lock, events } = setup();
    lock.registerFlush(async () => {
      await settle();
      events.push('draft written');
    });
    await lock.lock('user');
    expect(events).toEqual(['hidden', 'draft written', 'main locked (user)', 'key dropped', 'reloaded']);
  });

  it('does not wait forever for a draft that cannot be written', async () => {
    const { lock, events } = setup();
    lock.registerFlush(() => new Promise<void>(() => undefined));
    await lock.lock('user');
    expect(events).toEqual(['hidden', 'main locked (user)', 'key dropped', 'reloaded']);
  });

  it('follows main when main locked (an OS lock or suspend)', async () => {
    let state: VaultStatus['state'] = 'unlocked';
    const { lock, events, clock } = setup(() => state);
    lock.start(status);
    clock.advance(3000);
    await settle();
    expect(events).toEqual([]);
    state = 'locked';
    clock.advance(3000);
    await settle();
    await settle();
    expect(events).toEqual(['hidden', 'main locked (os-lock)', 'key dropped', 'reloaded']);
  });

  it('locks once however many triggers arrive together', async () => {
    const { lock, events } = setup();
    await Promise.all([lock.lock('user'), lock.lock('idle')]);
    expect(events.filter((e) => e === 'reloaded')).toHaveLength(1);
  });
  it('reports input to main at most once per activityReportMs, the first input after a quiet spell at once', async () => {
    const { lock, reports, clock, touch } = setup();
    lock.start(status);
    touch();
    clock.advance(5_000);
    touch();
    clock.advance(10_000);
    touch();
    expect(reports).toEqual([0]);
    clock.advance(6_000);
    touch();
    touch();
    expect(reports).toEqual([0, 21_000]);
  });

  it('goes to the lock screen when main answers LOCKED to reported input (main idle-locked)', async () => {
    let state: VaultStatus['state'] = 'unlocked';
    const { lock, events, touch } = setup(() => state);
    lock.start(status);
    state = 'locked';
    touch();
    await settle();
    await settle();
    expect(events).toEqual(['hidden', 'main locked (os-lock)', 'key dropped', 'reloaded']);
  });

  it('goes to the lock screen at once when any call is answered LOCKED, before its next poll', async () => {
    const answers = createLockedAnswers();
    // The app's client over a transport where main has locked: every data channel answers LOCKED.
    const client = createServiceClient(answers.watch(async (channel) => (channel === 'app.info' ? ok({ name: 'x', version: '1', host: 'web' }) : fail('LOCKED', 'The workstation is locked; unlock it to see or add to the audit trail.'))));
    const { lock, events } = setup(() => 'unlocked', { onLockedAnswer: answers.subscribe });
    lock.start(status);
    await client.app.info({});
    await settle();
    expect(events).toEqual([]);
    await expect(client.audit.query({ offset: 0, limit: 10 })).rejects.toMatchObject({ code: 'LOCKED' });
    await settle();
    await settle();
    expect(events).toEqual(['hidden', 'main locked (os-lock)', 'key dropped', 'reloaded']);
  });
});
