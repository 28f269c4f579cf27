import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SecretProtection } from '../../../src/shared/ipc/contract';
import { createServiceClient } from '../../../src/shared/ipc/proxy';
import type { Dispatch } from '../../../src/shared/ipc/dispatcher';
import { Redactor, createLogger, memorySink } from '../../../src/shared/log';
import { createAppServices } from '../../../src/main/services/app-services';
import type { AppServices } from '../../../src/main/services/app-services';
import { SafeStorageSecretStore } from '../../../src/main/services/secrets/safe-storage-secret-store';
import type { SafeStorageApi } from '../../../src/main/services/secrets/safe-storage-secret-store';
import { createSitesStore } from '../../../src/renderer/sites/sites-store';
import { overJson, unlockServices } from '../../support/contract';

// The Sites form's knowledge of how passwords are protected, from the
// renderer's store over the contract to main's secret store (Linux without a
// keyring; safeStorage is the narrow slice the store takes by constructor).

const noKeyring: SafeStorageApi = {
  isAsyncEncryptionAvailable: async () => true,
  getSelectedStorageBackend: () => 'basic_text',
  encryptStringAsync: async (s: string) => Buffer.from(`weak(${s})`),
  decryptStringAsync: async (b: Buffer) => ({ shouldReEncrypt: false, result: b.toString().slice(5, -1) }),
};

let dir: string;
let services: AppServices;
let dispatch: Dispatch;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-sites-protection-'));
  const redactor = new Redactor();
  const secretStore = new SafeStorageSecretStore(noKeyring, join(dir, 'secrets.enc.json'), redactor, { platform: 'linux', allowBasicText: false });
  services = createAppServices({ dataDir: dir, host: 'electron', version: 't', secretStore, logSink: memorySink(), redactor });
  dispatch = overJson(services.dispatch);
  await unlockServices(services);
});
afterEach(async () => {
  await services.sites.close();
  rmSync(dir, { recursive: true, force: true });
});

const SITE = { name: 'Hospital A', url: 'https://pacs.example.org/dicom-web', auth: { type: 'basic' as const, username: 'reader', password: 'typed-pw-1' } };

describe('sites store: how site passwords are protected', () => {
  it('shows the weak backend, refuses the password with the reason, and saves it once the user ticks the choice', async () => {
    const store = createSitesStore({ client: createServiceClient(dispatch), onSitesChanged: () => undefined, log: createLogger('t', memorySink()) });
    await store.loadSecretProtection();
    expect(store.getState().secretProtection).toMatchObject({ kind: 'basic_text', canStore: false });

    const refused = await store.add(SITE);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.errors.form).toMatch(/anyone who copies the data folder can read them/);

    await store.chooseWeakSecretProtection(true);
    expect(store.getState().secretProtection).toMatchObject({ canStore: true, weakAcceptedBy: 'choice' });
    expect(await store.add(SITE)).toMatchObject({ ok: true });
    // The count the form warns about before a withdrawal follows the save.
    expect(store.getState().secretProtection?.weakSecretCount).toBe(1);

    await store.chooseWeakSecretProtection(false);
    expect(store.getState().secretProtection).toMatchObject({ canStore: false, weakSecretCount: 0 });
    expect(store.getState().secretProtection?.weakAcceptedBy).toBeUndefined();
  });

  it('keeps the newest answer: a slow status read never undoes the choice the user just made', async () => {
    let releaseSlowRead: () => void = () => undefined;
    const slowFirstRead: Dispatch = async (channel, payload) => {
      if (channel === 'sites.secretProtection') {
        // Read before the choice, answered after it.
        const early = await dispatch(channel, payload);
        await new Promise<void>((resolve) => (releaseSlowRead = resolve));
        return early;
      }
      return dispatch(channel, payload);
    };
    const store = createSitesStore({ client: createServiceClient(slowFirstRead), onSitesChanged: () => undefined, log: createLogger('t', memorySink()) });
    const read = store.loadSecretProtection();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await store.chooseWeakSecretProtection(true);
    releaseSlowRead();
    await read;
    expect((store.getState().secretProtection as SecretProtection).canStore).toBe(true);
  });

  it('shows why a choice was refused', async () => {
    const refusing: Dispatch = async (channel, payload) =>
      channel === 'sites.chooseWeakSecretProtection' ? { ok: false, error: { code: 'INTERNAL', message: 'disk full' } } : dispatch(channel, payload);
    const store = createSitesStore({ client: createServiceClient(refusing), onSitesChanged: () => undefined, log: createLogger('t', memorySink()) });
    await store.chooseWeakSecretProtection(true);
    expect(store.getState().secretProtectionError).toMatch(/disk full/);
  });
});
