import { z } from 'zod';
import type { SafeStorage } from 'electron';
import { ServiceError } from '../../../shared/ipc/envelope';
import type { Redactor } from '../../../shared/log';
import type { SecretStore } from './secret-store';
import { SerialQueue, readJsonFile, writePrivateJsonFile } from '../fs/private-json-file';

/** The part of Electron's safeStorage this store uses; tests pass a narrow double. */
export type SafeStorageApi = Pick<
  SafeStorage,
  'isAsyncEncryptionAvailable' | 'encryptStringAsync' | 'decryptStringAsync' | 'getSelectedStorageBackend'
>;

export interface SafeStorageSecretStoreOptions {
  /** `process.platform`; the keyring question only exists on Linux. */
  platform: NodeJS.Platform;
  /**
   * The user's explicit choice (`--allow-basic-text-secrets`) to keep site
   * passwords although Linux has no keyring and Electron would encrypt them
   * with a key built into every copy of Chromium.
   */
  allowBasicText: boolean;
}

/** Shown to the user (through the error of the failed save) and logged. */
export const BASIC_TEXT_REFUSAL =
  'No keyring (GNOME Keyring, KWallet) is available, so site passwords could only be stored with a fixed key that any ' +
  'program on this computer can undo. They are not stored. Unlock or install a keyring, or start the app with ' +
  '--allow-basic-text-secrets to accept the weak protection.';

const EncryptedFileSchema = z.record(z.string(), z.string());

/**
 * Secrets encrypted with the OS keychain through Electron's safeStorage
 * (Keychain, DPAPI, libsecret/kwallet), stored base64 in a 0600 JSON file.
 * Uses the async API (the sync one is deprecated in Electron 45). Refuses to
 * store when encryption is unavailable, and on Linux when the backend is
 * `basic_text` unless the user chose to accept it: that backend's key is
 * public, so its ciphertext is plain text in disguise.
 */
export class SafeStorageSecretStore implements SecretStore {
  private readonly queue = new SerialQueue();

  constructor(
    private readonly safeStorage: SafeStorageApi,
    private readonly filePath: string,
    private readonly redactor: Redactor,
    private readonly options: SafeStorageSecretStoreOptions,
  ) {}

  /** Why secrets cannot be stored right now, or undefined when they can; for a notice at start-up. */
  async refusalReason(): Promise<string | undefined> {
    if (!(await this.safeStorage.isAsyncEncryptionAvailable())) {
      return 'OS encryption (safeStorage) is not available; refusing to store site credentials unencrypted';
    }
    if (this.options.platform === 'linux' && !this.options.allowBasicText && this.safeStorage.getSelectedStorageBackend() === 'basic_text') {
      return BASIC_TEXT_REFUSAL;
    }
    return undefined;
  }

  async get(key: string): Promise<string | undefined> {
    const encrypted = (await this.load())[key];
    if (encrypted === undefined) return undefined;
    // Reading what is already stored stays possible: refusing it would lose nothing but the user's access.
    const { result } = await this.safeStorage.decryptStringAsync(Buffer.from(encrypted, 'base64'));
    this.redactor.add(result);
    return result;
  }

  set(key: string, value: string): Promise<void> {
    this.redactor.add(value);
    return this.queue.run(async () => {
      const refusal = await this.refusalReason();
      // A ServiceError so the message reaches the user's form unchanged, not as an internal error.
      if (refusal) throw new ServiceError('CONFLICT', refusal);
      const all = await this.load();
      all[key] = (await this.safeStorage.encryptStringAsync(value)).toString('base64');
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

  private async load(): Promise<Record<string, string>> {
    const parsed = EncryptedFileSchema.safeParse((await readJsonFile(this.filePath)) ?? {});
    if (!parsed.success) throw new Error(`${this.filePath} is not a map of secret names to encrypted strings`);
    return parsed.data;
  }
}
