import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SecretProtection } from '../../../src/shared/ipc/contract';
import type { Envelope } from '../../../src/shared/ipc/envelope';
import { Redactor, memorySink } from '../../../src/shared/log';
import { createAppServices } from '../../../src/main/services/app-services';
import { unlockServices } from '../../support/contract';
import { FileSecretStore } from '../../../src/main/services/secrets/file-secret-store';
import { SafeStorageSecretStore } from '../../../src/main/services/secrets/safe-storage-secret-store';
import type { SafeStorageApi } from '../../../src/main/services/secrets/safe-storage-secret-store';

// The user's explicit choice to keep site passwords although Linux has no
// keyring (Electron's basic_text backend), made once in the app and kept in
// main. safeStorage is the narrow slice the store takes by constructor; the
// double below encrypts reversibly so the file's content can be checked.

type Backend = ReturnType<SafeStorageApi['getSelectedStorageBackend']>;

function safeStorageDouble(backend: Backend): SafeStorageApi {
  return {
    isAsyncEncryptionAvailable: async () => true,
    getSelectedStorageBackend: () => backend,
    encryptStringAsync: async (s: string) => Buffer.from(`${backend}(${[...s].reverse().join('')})`),
    decryptStringAsync: async (b: Buffer) => {
      const text = b.toString();
      // Like the real thing: a ciphertext made under another backend's key does not decrypt.
      if (!text.startsWith(`${backend}(`)) throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
      return { shouldReEncrypt: false, result: [...text.slice(backend.length + 1, -1)].reverse().join('') };
    },
  };
}

let dir: string;
let file: string;
const choiceFile = (): string => join(dir, 'secret-protection.json');
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-secret-choice-'));
  file = join(dir, 'secrets.enc.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function noKeyring(allowBasicText = false): SafeStorageSecretStore {
  return new SafeStorageSecretStore(safeStorageDouble('basic_text'), file, new Redactor(), { platform: 'linux', allowBasicText });
}

describe('weak protection chosen in the app (Linux, no keyring)', () => {
  it('refuses site passwords until the user accepts, then keeps them, and the choice survives a restart', async () => {
    const store = noKeyring();
    expect(await store.protection()).toEqual({ kind: 'basic_text', location: file, canStore: false, weakSecretCount: 0 });
    await expect(store.set('site:a:credential', 'kept-after-choice')).rejects.toThrow(/Keep site passwords with weak protection on this computer/);
    expect(existsSync(file)).toBe(false);

    const accepted = await store.chooseWeakProtection(true);
    expect(accepted).toMatchObject({ kind: 'basic_text', canStore: true, weakAcceptedBy: 'choice' });
    expect(JSON.parse(readFileSync(choiceFile(), 'utf8'))).toMatchObject({ acceptBasicText: true });
    expect(statSync(choiceFile()).mode & 0o777).toBe(0o600);
    await store.set('site:a:credential', 'kept-after-choice');

    const afterRestart = noKeyring();
    expect(await afterRestart.refusalReason()).toBeUndefined();
    expect(await afterRestart.protection()).toMatchObject({ canStore: true, weakAcceptedBy: 'choice', weakSecretCount: 1 });
    expect(await afterRestart.get('site:a:credential')).toBe('kept-after-choice');
    // On disk it is marked as weakly kept, and never in clear.
    const onDisk = readFileSync(file, 'utf8');
    expect(onDisk).not.toContain('kept-after-choice');
    expect(JSON.parse(onDisk)['site:a:credential']).toMatchObject({ protection: 'basic_text' });
  });

  it('withdrawing deletes the passwords kept with the public key, keeps keyring-encrypted ones, and refuses new ones again', async () => {
    // Stored earlier while the keyring was unlocked.
    await new SafeStorageSecretStore(safeStorageDouble('gnome_libsecret'), file, new Redactor(), { platform: 'linux', allowBasicText: false }).set(
      'site:old:credential',
      'from-keyring-days',
    );
    const store = noKeyring();
    await store.chooseWeakProtection(true);
    await store.set('site:new:credential', 'weakly-kept-one');
    expect((await store.protection()).weakSecretCount).toBe(1);

    const withdrawn = await store.chooseWeakProtection(false);
    expect(withdrawn).toEqual({ kind: 'basic_text', location: file, canStore: false, weakSecretCount: 0 });
    expect(await store.get('site:new:credential')).toBeUndefined();
    expect(readFileSync(file, 'utf8')).not.toContain(Buffer.from('basic_text(eno-tpek-ylkaew)').toString('base64'));
    await expect(store.set('site:new:credential', 'weakly-kept-two')).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await noKeyring().refusalReason()).toMatch(/No keyring/);
    // The keyring's entry is still there for when the keyring is back.
    const keyringBack = new SafeStorageSecretStore(safeStorageDouble('gnome_libsecret'), file, new Redactor(), { platform: 'linux', allowBasicText: false });
    expect(await keyringBack.get('site:old:credential')).toBe('from-keyring-days');
  });

  it('still honours --allow-basic-text-secrets without a stored choice, and says that the flag accepted it', async () => {
    const store = noKeyring(true);
    expect(await store.protection()).toMatchObject({ kind: 'basic_text', canStore: true, weakAcceptedBy: 'launch-flag' });
    await store.set('k', 'flag-accepted');
    expect(existsSync(choiceFile())).toBe(false);
    expect(await noKeyring(false).refusalReason()).toMatch(/No keyring/);
  });

  it('treats a damaged choice file as "not accepted"', async () => {
    writeFileSync(choiceFile(), '{"acceptBasicText": "yes please"');
    expect(await noKeyring().protection()).toMatchObject({ canStore: false });
  });

  it('refuses to "accept" weak protection where a keyring encrypts, and writes no choice', async () => {
    const store = new SafeStorageSecretStore(safeStorageDouble('kwallet5'), file, new Redactor(), { platform: 'linux', allowBasicText: false });
    expect(await store.protection()).toMatchObject({ kind: 'keyring', canStore: true });
    await expect(store.chooseWeakProtection(true)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(existsSync(choiceFile())).toBe(false);
  });
});

describe('the browser host (no keyring at all)', () => {
  it('says its secrets are an owner-only file, and offers no choice to make', async () => {
    const store = new FileSecretStore(dir, new Redactor());
    expect(await store.protection()).toEqual({ kind: 'owner-only-file', location: join(dir, 'secrets.json'), canStore: true, weakSecretCount: 0 });
    await expect(store.chooseWeakProtection()).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('over the contract, as the Sites form drives it', () => {
  it('refuses to add a site with a password until the choice is made, then adds it', async () => {
    const redactor = new Redactor();
    const secretStore = new SafeStorageSecretStore(safeStorageDouble('basic_text'), file, redactor, { platform: 'linux', allowBasicText: false });
    const services = createAppServices({ dataDir: dir, host: 'electron', version: 't', secretStore, logSink: memorySink(), redactor });
    const call = async <T>(channel: string, payload: unknown): Promise<Envelope<T>> =>
      JSON.parse(JSON.stringify(await services.dispatch(channel, payload))) as Envelope<T>;
    const siteWithPassword = { name: 'Hospital A', url: 'https://pacs.example.org/dicom-web', auth: { type: 'basic', username: 'reader', password: 'typed-in-form' } };
    try {
      await unlockServices(services);
      const refused = await call('sites.add', siteWithPassword);
      expect(refused).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
      expect(!refused.ok && refused.error.message).toMatch(/anyone who copies the data folder can read them/);
      expect(await call('sites.list', {})).toEqual({ ok: true, value: [] });

      const status = await call<SecretProtection>('sites.secretProtection', {});
      expect(status).toMatchObject({ ok: true, value: { kind: 'basic_text', canStore: false } });
      expect(await call('sites.chooseWeakSecretProtection', { accept: true })).toMatchObject({ ok: true, value: { canStore: true, weakAcceptedBy: 'choice' } });
      expect(await call('sites.add', siteWithPassword)).toMatchObject({ ok: true, value: { name: 'Hospital A' } });
      expect(await call('sites.secretProtection', {})).toMatchObject({ ok: true, value: { weakSecretCount: 1 } });
    } finally {
      await services.sites.close();
    }
  });
});
