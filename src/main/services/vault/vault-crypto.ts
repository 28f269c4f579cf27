import { createCipheriv, createDecipheriv, hkdf, randomBytes, scrypt } from 'node:crypto';
import type { VaultKeys } from '../../../shared/ipc/contract';

/** scrypt's cost; stored beside every wrapped secret so a later version can raise it. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * The passphrase wrap's cost: 128·N·r = 128 MiB and ≈ 0.25 s per try on the
 * 2-core build machine (Node 22, measured 2026-12-07), OWASP's scrypt
 * floor for password storage. Raised from 2^15 (issue 18): vault.json
 * copied off the machine can be attacked offline, where no rate limit
 * applies and only this cost bounds the guessing (≈ 4 guesses per second
 * per core in Node's implementation). A key file made at a lower N is
 * re-wrapped at this one at its next right passphrase (VaultService).
 */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };

/**
 * The PIN's wrap, kept at 2^15 (≈ 0.06 s): the PIN seal lives in this
 * process's memory only (never in a file that can be copied), five wrong
 * PINs forget it, and the PIN is the quick unlock, so a higher cost would
 * buy nothing against the attacks it faces and cost every unlock.
 */
export const PIN_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };

export const MASTER_BYTES = 32;
export const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HKDF_SALT = 'telerad-vault-v1';

/** Derives a 32-byte AES key from a passphrase or PIN. */
export function deriveWrappingKey(secret: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // Node refuses when 128·N·r reaches maxmem (32 MiB by default, exactly N=2^15, r=8): allow twice that
  // (256 MiB + 1 MiB at N=2^17, r=8; vault.json's schema bounds what an edited file can ask for).
  const maxmem = 2 * 128 * params.N * params.r * params.p + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(secret.normalize('NFC'), salt, 32, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** AES-256-GCM; answers iv ‖ ciphertext ‖ tag in one buffer. */
export function wrapSecret(key: Buffer, secret: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([cipher.update(secret), cipher.final()]);
  return Buffer.concat([iv, ct, cipher.getAuthTag()]);
}

/** The secret, or undefined when the key is wrong (the GCM tag does not match) or the blob is damaged. */
export function unwrapSecret(key: Buffer, blob: Buffer): Buffer | undefined {
  if (blob.length < IV_BYTES + TAG_BYTES + 1) return undefined;
  const iv = blob.subarray(0, IV_BYTES);
  const tag = blob.subarray(blob.length - TAG_BYTES);
  const ct = blob.subarray(IV_BYTES, blob.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ct), decipher.final()]);
  } catch {
    return undefined;
  }
}

function hkdfSha256(master: Buffer, info: string, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    hkdf('sha256', master, HKDF_SALT, info, length, (err, out) => (err ? reject(err) : resolve(Buffer.from(out))));
  });
}

/**
 * Main's own key for the audit chain head's MAC. Never in VaultKeys: the
 * renderer must not be able to sign a head (a page that could would let
 * whoever runs script in it hide a truncation).
 */
export function deriveAuditHeadKey(master: Buffer): Promise<Buffer> {
  return hkdfSha256(master, 'audit-head-key', 32);
}

/** The keys the renderer gets: fixed functions of the master secret, so every unlock answers the same ones. */
export async function deriveVaultKeys(master: Buffer): Promise<VaultKeys> {
  const [dataKey, outboxKey, keyId] = await Promise.all([
    hkdfSha256(master, 'data-key', 32),
    hkdfSha256(master, 'outbox-key', 32),
    // HKDF's output is a prefix-stable stream: 8 bytes are the first 8 of any longer output.
    hkdfSha256(master, 'key-id', 8),
  ]);
  return { dataKey: dataKey.toString('base64'), outboxKey: outboxKey.toString('base64'), keyId: keyId.toString('hex') };
}
