import { z } from 'zod';
import type { SafeStorage } from 'electron';
import type { Redactor } from '../../../shared/log';
import type { SecretStore } from './secret-store';
import { SerialQueue, readJsonFile, writePrivateJsonFile } from '../fs/private-json-file';

/** The part of Electron's safeStorage this store uses; tests pass a fake. */
export type SafeStorageApi = Pick<SafeStorage, 'isEncryptionAvailable' | 'encryptString' | 'decryptString'>;

const EncryptedFileSchema = z.record(z.string(), z.string());

/**
 * Secrets encrypted with the OS keychain through Electron's safeStorage
 * (Keychain, DPAPI, libsecret/kwallet), stored base64 in a 0600 JSON file.
 * When encryption is unavailable (Linux without a keyring falls back to a
 * hard-coded key), it refuses to store rather than pretend: the caller
 * decides whether to fall back to FileSecretStore and say so.
 */
export class SafeStorageSecretStore implements SecretStore {
  private readonly queue = new SerialQueue();

  constructor(
    private readonly safeStorage: SafeStorageApi,
    private readonly filePath: string,
    private readonly redactor: Redactor,
  ) {}

  async get(key: string): Promise<string | undefined> {
    const encrypted = (await this.load())[key];
    if (encrypted === undefined) return undefined;
    this.assertAvailable();
    const value = this.safeStorage.decryptString(Buffer.from(encrypted, 'base64'));
    this.redactor.add(value);
    return value;
  }

  set(key: string, value: string): Promise<void> {
    this.redactor.add(value);
    return this.queue.run(async () => {
      this.assertAvailable();
      const all = await this.load();
      all[key] = this.safeStorage.encryptString(value).toString('base64');
      await writePrivateJsonFile(this.filePath, all);
    });
  }

  delete(key: string): Promise<void> {
    return this.queue.run(async () => {
      const all = await this.load();
      if (!Object.hasOwn(all, key)) return;
      delete all[key];
      await writePrivateJsonFile(this.filePath, all);
    });
  }

  private assertAvailable(): void {
    if (!this.safeStorage.isEncryptionAvailable()) {
      throw new Error('OS encryption (safeStorage) is not available; refusing to store site credentials unencrypted');
    }
  }

  private async load(): Promise<Record<string, string>> {
    const parsed = EncryptedFileSchema.safeParse((await readJsonFile(this.filePath)) ?? {});
    if (!parsed.success) throw new Error(`${this.filePath} is not a map of secret names to encrypted strings`);
    return parsed.data;
  }
}
