import { join } from 'node:path';
import { z } from 'zod';
import type { SecretProtection } from '../../../shared/ipc/contract';
import { ServiceError } from '../../../shared/ipc/envelope';
import type { Redactor } from '../../../shared/log';
import type { SecretStore } from './secret-store';
import { SerialQueue, readJsonFile, writePrivateJsonFile } from '../fs/private-json-file';

const SecretsFileSchema = z.record(z.string(), z.string());

/**
 * Plain-JSON secret store: `<dir>/secrets.json`, owner-only (0600, directory
 * 0700). This is the fallback for hosts without an OS keychain — the browser
 * host and headless test machines. It protects secrets from other users of
 * the machine, not from the user's own processes; the Electron host uses
 * SafeStorageSecretStore instead.
 */
export class FileSecretStore implements SecretStore {
  readonly filePath: string;
  private cache: Map<string, string> | undefined;
  private readonly queue = new SerialQueue();

  constructor(
    dir: string,
    private readonly redactor: Redactor,
  ) {
    this.filePath = join(dir, 'secrets.json');
  }

  async get(key: string): Promise<string | undefined> {
    const secrets = await this.load();
    const value = secrets.get(key);
    this.redactor.add(value);
    return value;
  }

  set(key: string, value: string): Promise<void> {
    this.redactor.add(value);
    return this.queue.run(async () => {
      const secrets = await this.load();
      secrets.set(key, value);
      await writePrivateJsonFile(this.filePath, Object.fromEntries(secrets));
    });
  }

  delete(key: string): Promise<void> {
    return this.queue.run(async () => {
      const secrets = await this.load();
      if (!secrets.delete(key)) return;
      await writePrivateJsonFile(this.filePath, Object.fromEntries(secrets));
    });
  }

  /** No keyring here at all: the file's owner-only mode is the whole protection, and the form says so. */
  async protection(): Promise<SecretProtection> {
    return { kind: 'owner-only-file', location: this.filePath, canStore: true, weakSecretCount: 0 };
  }

  chooseWeakProtection(): Promise<SecretProtection> {
    return Promise.reject(new ServiceError('BAD_REQUEST', 'This host keeps secrets in an owner-only file; there is no keyring protection to choose'));
  }

  private async load(): Promise<Map<string, string>> {
    if (this.cache) return this.cache;
    const parsed = SecretsFileSchema.safeParse((await readJsonFile(this.filePath)) ?? {});
    if (!parsed.success) throw new Error(`${this.filePath} is not a map of secret names to strings`);
    // Everything on disk is a secret from the moment it is loaded, read or not.
    for (const value of Object.values(parsed.data)) this.redactor.add(value);
    this.cache = new Map(Object.entries(parsed.data));
    return this.cache;
  }
}
