import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redactor } from '../../../src/shared/log';
import { FileSecretStore } from '../../../src/main/services/secrets/file-secret-store';
import { SafeStorageSecretStore } from '../../../src/main/services/secrets/safe-storage-secret-store';
import type { SafeStorageApi } from '../../../src/main/services/secrets/safe-storage-secret-store';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-secrets-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('FileSecretStore', () => {
  it('creates secrets.json readable by the owner only (0600) in a 0700 directory', async () => {
    const dataDir = join(dir, 'data');
    const store = new FileSecretStore(dataDir, new Redactor());
    await store.set('site:a:credential', 'correct-horse');
    expect(mode(join(dataDir, 'secrets.json'))).toBe(0o600);
    expect(mode(dataDir)).toBe(0o700);
  });

  it('reads back, replaces and deletes secrets, across instances', async () => {
    const first = new FileSecretStore(dir, new Redactor());
    await first.set('k', 'value-one');
    await first.set('k', 'value-two');
    await first.set('other', 'value-three');
    const second = new FileSecretStore(dir, new Redactor());
    expect(await second.get('k')).toBe('value-two');
    await second.delete('k');
    expect(await new FileSecretStore(dir, new Redactor()).get('k')).toBeUndefined();
    expect(await new FileSecretStore(dir, new Redactor()).get('other')).toBe('value-three');
  });

  it('registers every secret it writes or loads with the redactor', async () => {
    await new FileSecretStore(dir, new Redactor()).set('k', 'stored-earlier');
    const redactor = new Redactor();
    const store = new FileSecretStore(dir, redactor);
    await store.set('j', 'written-now');
    expect(redactor.redact('a stored-earlier b written-now c')).toBe('a *** b *** c');
  });
});

type Backend = ReturnType<SafeStorageApi['getSelectedStorageBackend']>;

function fakeSafeStorage(available: boolean, backend: Backend = 'gnome_libsecret'): SafeStorageApi {
  // Reversible and visibly not plain text: enough to check what reaches the disk.
  return {
    isAsyncEncryptionAvailable: async () => available,
    getSelectedStorageBackend: () => backend,
    encryptStringAsync: async (s: string) => Buffer.from(`enc(${[...s].reverse().join('')})`),
    decryptStringAsync: async (b: Buffer) => ({ shouldReEncrypt: false, result: [...b.toString().slice(4, -1)].reverse().join('') }),
  };
}

const linux = { platform: 'linux', allowBasicText: false } as const;

describe('SafeStorageSecretStore', () => {
  it('stores only the encrypted form, base64, in a 0600 file', async () => {
    const file = join(dir, 'secrets.enc.json');
    const store = new SafeStorageSecretStore(fakeSafeStorage(true), file, new Redactor(), linux);
    await store.set('site:a:credential', 'correct-horse');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('correct-horse');
    expect(JSON.parse(text)['site:a:credential']).toBe(Buffer.from('enc(esroh-tcerroc)').toString('base64'));
    expect(mode(file)).toBe(0o600);
    expect(await new SafeStorageSecretStore(fakeSafeStorage(true), file, new Redactor(), linux).get('site:a:credential')).toBe('correct-horse');
  });

  it('refuses to store a secret when OS encryption is unavailable', async () => {
    const store = new SafeStorageSecretStore(fakeSafeStorage(false), join(dir, 's.json'), new Redactor(), linux);
    await expect(store.set('k', 'plain-secret')).rejects.toThrow(/not available/);
  });

  it('on Linux without a keyring (basic_text) refuses to store a site password and tells the user why and what to do', async () => {
    const file = join(dir, 's.json');
    const store = new SafeStorageSecretStore(fakeSafeStorage(true, 'basic_text'), file, new Redactor(), linux);
    expect(await store.refusalReason()).toMatch(/No keyring.*--allow-basic-text-secrets/s);
    const refused = store.set('site:a:credential', 'weakly-kept');
    await expect(refused).rejects.toThrow(/No keyring/);
    await expect(refused).rejects.toMatchObject({ name: 'ServiceError', code: 'CONFLICT' });
    expect(existsSync(file)).toBe(false);
  });

  it('on Linux without a keyring stores the password once the user chose --allow-basic-text-secrets', async () => {
    const file = join(dir, 's.json');
    const store = new SafeStorageSecretStore(fakeSafeStorage(true, 'basic_text'), file, new Redactor(), { platform: 'linux', allowBasicText: true });
    expect(await store.refusalReason()).toBeUndefined();
    await store.set('site:a:credential', 'chosen-weak');
    expect(await store.get('site:a:credential')).toBe('chosen-weak');
  });

  it('ignores the Linux backend name on other platforms, where safeStorage uses Keychain or DPAPI', async () => {
    const store = new SafeStorageSecretStore(fakeSafeStorage(true, 'basic_text'), join(dir, 's.json'), new Redactor(), { platform: 'win32', allowBasicText: false });
    await store.set('k', 'dpapi-kept');
    expect(await store.get('k')).toBe('dpapi-kept');
  });

  it('registers decrypted secrets with the redactor', async () => {
    const file = join(dir, 's.json');
    await new SafeStorageSecretStore(fakeSafeStorage(true), file, new Redactor(), linux).set('k', 'decrypted-one');
    const redactor = new Redactor();
    await new SafeStorageSecretStore(fakeSafeStorage(true), file, redactor, linux).get('k');
    expect(redactor.redact('x decrypted-one')).toBe('x ***');
  });
});
