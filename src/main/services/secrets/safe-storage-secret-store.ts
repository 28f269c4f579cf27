import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { SafeStorage } from 'electron';
import type { SecretProtection } from '../../../shared/ipc/contract';
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
   * with a key built into every copy of Chromium. Valid for this launch only.
   */
  allowBasicText: boolean;
  /**
   * Where the choice made in the app is kept (`{"acceptBasicText": true, …}`);
   * by default `secret-protection.json` beside the secrets file.
   */
  choiceFilePath?: string;
}

/** Shown to the user (through the error of the failed save) and logged. */
export const BASIC_TEXT_REFUSAL =
  'No keyring (GNOME Keyring, KWallet) is available, so site passwords could only be stored with a fixed key that any ' +
  'program on this computer can undo: anyone who copies the data folder can read them. They are not stored. Unlock or ' +
  'install a keyring, or accept the weak protection with "Keep site passwords with weak protection on this computer" ' +
  'in the Sites form (or start the app with --allow-basic-text-secrets).';

/**
 * A stored secret: the base64 ciphertext, or — for one encrypted with the
 * basic_text backend — the ciphertext marked as such, so withdrawing the
 * choice can find and delete exactly those.
 */
const StoredSecretSchema = z.union([z.string(), z.object({ data: z.string(), protection: z.literal('basic_text') })]);
type StoredSecret = z.infer<typeof StoredSecretSchema>;
const EncryptedFileSchema = z.record(z.string(), StoredSecretSchema);

const ChoiceFileSchema = z.object({ acceptBasicText: z.boolean(), decidedAt: z.string() });

function ciphertextOf(stored: StoredSecret): string {
  return typeof stored === 'string' ? stored : stored.data;
}

function isWeak(stored: StoredSecret): boolean {
  return typeof stored !== 'string';
}

/**
 * Secrets encrypted with the OS keychain through Electron's safeStorage
 * (Keychain, DPAPI, libsecret/kwallet), stored base64 in a 0600 JSON file.
 * Uses the async API (the sync one is deprecated in Electron 45). Refuses to
 * store when encryption is unavailable, and on Linux when the backend is
 * `basic_text` unless the user chose to accept it — in the app (kept in a
 * small JSON file, withdrawable) or by the launch flag: that backend's key is
 * public, so its ciphertext is plain text in disguise.
 */
export class SafeStorageSecretStore implements SecretStore {
  private readonly queue = new SerialQueue();
  private readonly choiceFilePath: string;
  private choice: boolean | undefined;

  constructor(
    private readonly safeStorage: SafeStorageApi,
    private readonly filePath: string,
    private readonly redactor: Redactor,
    private readonly options: SafeStorageSecretStoreOptions,
  ) {
    this.choiceFilePath = options.choiceFilePath ?? join(dirname(filePath), 'secret-protection.json');
  }

  /** Why secrets cannot be stored right now, or undefined when they can; for a notice at start-up. */
  async refusalReason(): Promise<string | undefined> {
    const protection = await this.protection();
    if (protection.kind === 'unavailable') return 'OS encryption (safeStorage) is not available; refusing to store site credentials unencrypted';
    if (!protection.canStore) return BASIC_TEXT_REFUSAL;
    return undefined;
  }

  async protection(): Promise<SecretProtection> {
    const weakSecretCount = Object.values(await this.load()).filter(isWeak).length;
    const location = this.filePath;
    if (!(await this.safeStorage.isAsyncEncryptionAvailable())) return { kind: 'unavailable', location, canStore: false, weakSecretCount };
    if (!this.usesBasicText()) return { kind: 'keyring', location, canStore: true, weakSecretCount };
    const acceptedBy = this.options.allowBasicText ? 'launch-flag' : (await this.chosen()) ? 'choice' : undefined;
    return { kind: 'basic_text', location, canStore: acceptedBy !== undefined, ...(acceptedBy ? { weakAcceptedBy: acceptedBy } : {}), weakSecretCount };
  }

  chooseWeakProtection(accept: boolean): Promise<SecretProtection> {
    return this.queue.run(async () => {
      // Accepting only means something where the weak backend is in use; withdrawing is always possible.
      if (accept && !this.usesBasicText()) {
        throw new ServiceError('BAD_REQUEST', 'Site passwords are not kept with the weak basic_text protection on this computer; there is nothing to accept');
      }
      await writePrivateJsonFile(this.choiceFilePath, { acceptBasicText: accept, decidedAt: new Date().toISOString() });
      this.choice = accept;
      if (!accept) {
        // Withdrawn: what was kept under the public key goes, or the withdrawal would protect nothing already stored.
        const all = await this.load();
        const kept = Object.fromEntries(Object.entries(all).filter(([, stored]) => !isWeak(stored)));
        if (Object.keys(kept).length !== Object.keys(all).length) await writePrivateJsonFile(this.filePath, kept);
      }
      return this.protection();
    });
  }

  async get(key: string): Promise<string | undefined> {
    const stored = (await this.load())[key];
    if (stored === undefined) return undefined;
    // Reading what is already stored stays possible: refusing it would lose nothing but the user's access.
    const { result } = await this.safeStorage.decryptStringAsync(Buffer.from(ciphertextOf(stored), 'base64'));
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
      const data = (await this.safeStorage.encryptStringAsync(value)).toString('base64');
      all[key] = this.usesBasicText() ? { data, protection: 'basic_text' } : data;
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

  private usesBasicText(): boolean {
    return this.options.platform === 'linux' && this.safeStorage.getSelectedStorageBackend() === 'basic_text';
  }

  private async chosen(): Promise<boolean> {
    if (this.choice === undefined) {
      const parsed = ChoiceFileSchema.safeParse(await readJsonFile(this.choiceFilePath).catch(() => undefined));
      // A missing or unreadable choice counts as "not accepted": the safe side, and the form asks again.
      this.choice = parsed.success && parsed.data.acceptBasicText;
    }
    return this.choice;
  }

  private async load(): Promise<Record<string, StoredSecret>> {
    const parsed = EncryptedFileSchema.safeParse((await readJsonFile(this.filePath)) ?? {});
    if (!parsed.success) throw new Error(`${this.filePath} is not a map of secret names to encrypted strings`);
    return parsed.data;
  }
}
