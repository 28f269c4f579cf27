import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VaultKeysSchema } from '../../../src/shared/ipc/contract';
import type { VaultKeys, VaultStatus } from '../../../src/shared/ipc/contract';
import type { AppServices } from '../../../src/main/services/app-services';
import { contractCalls, startWebServices } from '../../support/contract';

// The vault the way the renderer drives it: every request through the dispatcher, at the product's scrypt cost
// (N=2^17: ≈ 0.25 s per setup or unlock here, several times that on a loaded 2-core machine, hence the timeout).
const FULL_COST_TIMEOUT_MS = 30_000;

const RIGHT = ['correct', 'horse', 'battery', 'staple'].join(' ');
let dir: string;
let services: AppServices;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-vault-contract-'));
  services = startWebServices(dir);
});
afterEach(async () => {
  await services.audit.readMatching({});
  rmSync(dir, { recursive: true, force: true });
});

const { call } = contractCalls((channel, payload) => services.dispatch(channel, payload));

describe('vault over the contract', () => {
  it('sets up, locks through the host hook, serves only the outbox key while locked, and unlocks after a restart', async () => {
    expect(await call<VaultStatus>('vault.status')).toMatchObject({ ok: true, value: { state: 'new', keyProtection: 'passphrase', idleLockMinutes: 10 } });
    const setup = await call<VaultKeys>('vault.setup', { passphrase: RIGHT });
    if (!setup.ok) throw new Error(setup.error.message);
    VaultKeysSchema.parse(setup.value);

    await services.lock('os-lock');
    expect(await call('vault.keys')).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(await call('vault.outboxKey')).toEqual({ ok: true, value: { outboxKey: setup.value.outboxKey, keyId: setup.value.keyId } });
    expect((await services.audit.readMatching({ action: 'lock' })).map((e) => e.reason)).toEqual([
      'locked because the operating system locked the screen',
    ]);

    services = startWebServices(dir);
    expect(await call<VaultStatus>('vault.status')).toMatchObject({ ok: true, value: { state: 'locked', outboxKeyAvailable: false } });
    expect(await call('vault.unlock', { method: 'passphrase', secret: RIGHT })).toEqual({ ok: true, value: setup.value });
    expect(await call('vault.lock', { reason: 'user' })).toEqual({ ok: true, value: null });
    expect(await call('vault.keys')).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
  }, FULL_COST_TIMEOUT_MS);

  it('refuses a short passphrase and a malformed PIN with the reason, before the vault sees them', async () => {
    const short = await call('vault.setup', { passphrase: 'qzx-short' });
    expect(short).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(JSON.stringify(short)).toMatch(/at least 10 characters/);
    expect(JSON.stringify(short)).not.toContain('qzx-short');
    expect(await call('vault.setPin', { pin: '12ab', passphrase: RIGHT })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await call<VaultStatus>('vault.status')).toMatchObject({ ok: true, value: { state: 'new' } });
  });
});
