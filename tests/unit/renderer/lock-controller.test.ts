import { describe, expect, it } from 'vitest';
import type { ServiceClient, VaultStatus } from '../../../src/shared/ipc/contract';
import { createLogger } from '../../../src/shared/log';
import { createLockController } from '../../../src/renderer/lock/lock-controller';
import { ManualTimers } from '../../support/manual-timers';

const status: VaultStatus = { state: 'unlocked', pinSet: false, idleLockMinutes: 10, retryAfterMs: 0, outboxKeyAvailable: true, keyProtection: 'passphrase' };

function setup(vaultState: () => VaultStatus['state'] = () => 'unlocked') {
  const events: string[] = [];
  const clock = new ManualTimers();
  let activity: (() => void) | undefined;
  const vault = {
    status: async () => ({ ...status, state: vaultState() }),
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
  });
  return { lock, events, clock, touch: () => activity?.() };
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
});
