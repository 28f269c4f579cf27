// The vault's audit keys for `npm run audit:verify --passphrase-file`, from
// <data dir>/vault.json and the passphrase, read only (the file is never
// written, the attempt counter not touched).
//
// src/cli imports only src/shared (eslint layering), and the vault's crypto
// lives in src/main/services/vault/vault-crypto.ts and the audit sub-keys in
// src/main/services/audit/audit-seal.ts; so the few steps are repeated here
// with node:crypto: scrypt with the file's own parameters, AES-256-GCM
// unwrapping of the master, HKDF-SHA256 to the audit key and its line-MAC
// key. tests/unit/main/audit-verify-key.test.ts pins every step to main's
// functions on a vault main itself created, so the two cannot drift apart.
import { createDecipheriv, createHmac, hkdfSync, scryptSync } from 'node:crypto';
import { readFileSync } from 'node:fs';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface AuditVerifyKeys {
  /** The audit key itself: the head record's MAC key. */
  headKey: Buffer;
  /** HMAC key over each line's hash. */
  lineMac: Buffer;
}

/** Thrown with a sentence for the terminal (never the passphrase or a key). */
export class AuditKeyError extends Error {}

interface VaultFileFields {
  keyProtection?: unknown;
  kdf?: { name?: unknown; salt?: unknown; N?: unknown; r?: unknown; p?: unknown };
  wrappedMaster?: unknown;
}

/** Reads vault.json and derives the audit keys; AuditKeyError when the file cannot be used or the passphrase is wrong. */
export function auditKeysFromVault(vaultFile: string, passphrase: string): AuditVerifyKeys {
  let raw: VaultFileFields;
  try {
    raw = JSON.parse(readFileSync(vaultFile, 'utf8')) as VaultFileFields;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AuditKeyError(`cannot read ${vaultFile}${code ? ` (${code})` : ': not JSON'}`);
  }
  if (raw.keyProtection === 'passphrase+safeStorage') {
    throw new AuditKeyError(`${vaultFile} is wrapped once more by the OS keychain (Electron safeStorage), which only the app can open: the MACs are checked by the app at unlock (Audit panel)`);
  }
  const kdf = raw.kdf;
  const int = (v: unknown, min: number, max: number): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined);
  const N = int(kdf?.N, 2 ** 10, 2 ** 22);
  const r = int(kdf?.r, 1, 32);
  const p = int(kdf?.p, 1, 16);
  if (raw.keyProtection !== 'passphrase' || kdf?.name !== 'scrypt' || typeof kdf.salt !== 'string' || !N || !r || !p || typeof raw.wrappedMaster !== 'string') {
    throw new AuditKeyError(`${vaultFile} is not a vault key file this tool understands`);
  }
  const maxmem = 2 * 128 * N * r * p + 1024 * 1024;
  const wrapping = scryptSync(passphrase.normalize('NFC'), Buffer.from(kdf.salt, 'base64'), 32, { N, r, p, maxmem });
  const blob = Buffer.from(raw.wrappedMaster, 'base64');
  let master: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', wrapping, blob.subarray(0, IV_BYTES));
    decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
    master = Buffer.concat([decipher.update(blob.subarray(IV_BYTES, blob.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new AuditKeyError('wrong passphrase (or a damaged vault.json): MACs not checked');
  }
  const headKey = Buffer.from(hkdfSync('sha256', master, 'telerad-vault-v1', 'audit-head-key', 32));
  master.fill(0);
  const lineMac = Buffer.from(hkdfSync('sha256', headKey, 'telerad-audit-keys/v1', 'line-mac', 32));
  return { headKey, lineMac };
}

export function lineMacHex(keys: AuditVerifyKeys, hash: string): string {
  return createHmac('sha256', keys.lineMac).update(`telerad-audit-line/v1\n${hash}`, 'utf8').digest('hex');
}

export function headMacHex(keys: AuditVerifyKeys, macInput: string): string {
  return createHmac('sha256', keys.headKey).update(macInput, 'utf8').digest('hex');
}
