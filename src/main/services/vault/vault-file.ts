import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile, writePrivateJsonFile } from '../fs/private-json-file';

export function vaultFilePath(dataDir: string): string {
  return join(dataDir, 'vault.json');
}

const base64 = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64');

/**
 * What `vault.json` holds: the master secret wrapped (never the secret, the
 * passphrase or a derived key), the KDF parameters it was wrapped with (so a
 * later version can raise them), and the unlock bookkeeping that must
 * survive a restart. Bounds on N/r/p keep an edited file from making scrypt
 * allocate gigabytes.
 */
export const VaultFileSchema = z.object({
  format: z.literal('telerad-vault'),
  version: z.literal(1),
  keyProtection: z.enum(['passphrase', 'passphrase+safeStorage']),
  kdf: z.object({
    name: z.literal('scrypt'),
    salt: base64,
    N: z
      .number()
      .int()
      .min(2 ** 10)
      .max(2 ** 20)
      .refine((n) => (n & (n - 1)) === 0, 'must be a power of two'),
    r: z.number().int().min(1).max(32),
    p: z.number().int().min(1).max(16),
  }),
  cipher: z.literal('aes-256-gcm'),
  /** iv ‖ ciphertext ‖ tag, base64; wrapped once more by the OS keychain when keyProtection says so. */
  wrappedMaster: base64,
  /**
   * Wrong passphrases in a row and when the last one came (ms since epoch): the rate limit outlives a restart.
   * One of three copies of the count (unlock-attempts.ts): editing or restoring this file does not lower it.
   */
  failedUnlocks: z.object({ count: z.number().int().nonnegative(), lastAt: z.number().nonnegative() }),
  idleLockMinutes: z.number().int().min(1).max(240),
});
export type VaultFileContent = z.infer<typeof VaultFileSchema>;

/**
 * The vault's id, naming its wrong-passphrase count outside the data folder
 * (unlock-attempts.ts): a hash of the scrypt salt, 32 hex digits. Not a
 * field of its own, so it needs no format change, older key files have one
 * too, and it cannot be edited apart from the wrap: a file whose salt was
 * changed to get a fresh count opens with no passphrase at all. The salt
 * stays the same when the file is re-wrapped at a higher cost, so the id
 * (and the count) stays too; a new vault (setup) has a new salt and id.
 */
export function vaultId(content: Pick<VaultFileContent, 'kdf'>): string {
  return createHash('sha256').update('telerad-vault-id\0').update(Buffer.from(content.kdf.salt, 'base64')).digest('hex').slice(0, 32);
}

/** Why the file cannot be used, in words safe to show: never its content. */
export class VaultFileUnreadable extends Error {
  constructor(
    readonly filePath: string,
    readonly why: string,
  ) {
    super(`${filePath}: ${why}`);
    this.name = 'VaultFileUnreadable';
  }
}

/** Reads and writes `<dataDir>/vault.json` (owner-only, replaced atomically). */
export class VaultFile {
  constructor(readonly filePath: string) {}

  /** undefined when there is no file yet (first start); VaultFileUnreadable when it is there but unusable. */
  async read(): Promise<VaultFileContent | undefined> {
    let raw: unknown;
    try {
      raw = await readJsonFile(this.filePath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new VaultFileUnreadable(this.filePath, code ? `the system answered ${code}` : 'it is not valid JSON (truncated or edited?)');
    }
    if (raw === undefined) return undefined;
    const parsed = VaultFileSchema.safeParse(raw);
    if (!parsed.success) {
      // Field names only: the values could be anything someone put there.
      const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(top level)'))].slice(0, 5);
      throw new VaultFileUnreadable(this.filePath, `it is not a key file this version understands (${fields.join(', ')})`);
    }
    return parsed.data;
  }

  write(content: VaultFileContent): Promise<void> {
    return writePrivateJsonFile(this.filePath, content);
  }
}
