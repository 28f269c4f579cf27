import type { SafeStorage } from 'electron';
import type { VaultOuterWrap } from './vault-service';

export type SafeStorageWrapApi = Pick<
  SafeStorage,
  'isAsyncEncryptionAvailable' | 'encryptStringAsync' | 'decryptStringAsync' | 'getSelectedStorageBackend'
>;

/**
 * safeStorage as the vault's outer wrap, or undefined when it would add
 * nothing: no OS encryption at all, or Linux's `basic_text` backend, whose
 * key is built into every copy of Chromium. safeStorage takes strings, so
 * the wrapped master travels as base64. Uses the async API (the sync one is
 * deprecated).
 */
export async function safeStorageOuterWrap(safeStorage: SafeStorageWrapApi, platform: NodeJS.Platform): Promise<VaultOuterWrap | undefined> {
  if (!(await safeStorage.isAsyncEncryptionAvailable())) return undefined;
  if (platform === 'linux' && safeStorage.getSelectedStorageBackend() === 'basic_text') return undefined;
  return {
    encrypt: (plain) => safeStorage.encryptStringAsync(plain.toString('base64')),
    decrypt: async (wrapped) => Buffer.from((await safeStorage.decryptStringAsync(wrapped)).result, 'base64'),
  };
}
