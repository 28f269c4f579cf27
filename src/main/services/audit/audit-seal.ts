/**
 * Sealing of the audit trail's clinical fields, and the keys for it.
 *
 * Main writes audit lines while the vault is locked and before the first
 * unlock of a run (login.failed, lock, site.auth.failed, outbox.send), when
 * no secret key is in memory. So the clinical part of a line is sealed to a
 * public key: an X25519 key pair of the audit trail, kept in
 * `audit/audit-seal-key.json` (the public key in clear, MAC'd; the private
 * key wrapped with AES-256-GCM), both under keys derived from the vault's
 * audit key (itself HKDF of the master secret, `deriveAuditHeadKey`). Only
 * main, after an unlock, can open what it sealed.
 *
 * The construction is ECIES over X25519 (as in RFC 9180's base mode, without
 * its framing): a fresh ephemeral key pair per line, X25519 with the trail's
 * public key, HKDF-SHA256 over the shared secret (salt: both public keys) to
 * an AES-256-GCM key, the line's seq and clear fields as additional data.
 * Written here with node:crypto rather than taken from a library: node:crypto
 * has every primitive but no ECIES/HPKE of its own, and the npm packages for
 * it are either small one-maintainer wrappers of these same calls or
 * pull in their own curve code; twenty lines in one module, tested, are
 * easier to trust than either.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { canonicalJson } from '../../../shared/audit/audit-chain';

const SEAL_INFO = 'telerad-audit-seal/v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const X25519_BYTES = 32;
/** Every sealed value starts so: `v1.<key id>.<base64 of ephemeral public ‖ iv ‖ ciphertext ‖ tag>`. */
const SEALED_PREFIX = 'v1.';

/* ------------------------------------------------- what is sealed -- */

/**
 * The clinical part of an event, sealed in the file: the patient, the
 * study/series/SOP instance UIDs, and the renderer's reason. The renderer
 * builds its reasons from error messages, labels and notes that can name a
 * patient or a report, so they are sealed; main's own reasons are sentences
 * it writes itself (login, lock, HTTP status, integrity findings) with no
 * clinical value in them, and stay readable before an unlock. action, seq,
 * time, actor, source, outcome and siteId stay clear: ordering, filtering
 * by action and date, and forwarding need them.
 */
export function splitClinical<T extends Record<string, unknown>>(event: T): { clear: Record<string, unknown>; clinical: Record<string, unknown> | undefined } {
  const { patient, studyInstanceUID, seriesInstanceUID, sopInstanceUIDs, ...clear } = event;
  const clinical: Record<string, unknown> = { patient, studyInstanceUID, seriesInstanceUID, sopInstanceUIDs };
  if (event.source === 'renderer' && clear.reason !== undefined) {
    clinical.reason = clear.reason;
    delete clear.reason;
  }
  for (const k of Object.keys(clinical)) if (clinical[k] === undefined) delete clinical[k];
  return { clear, clinical: Object.keys(clinical).length > 0 ? clinical : undefined };
}

/** The sealed part's additional data: the line's seq and clear fields, so neither can be changed or moved to another line. */
export function sealAad(line: Record<string, unknown>): string {
  const { prev: _p, hash: _h, mac: _m, sealed: _s, ...clear } = line;
  return `telerad-audit-line/v1\n${canonicalJson(clear)}`;
}

/* ----------------------------------------------------------- sub-keys -- */

/** The keys main derives from the vault's audit key (handed to AuditLog.useHeadKey at each unlock). */
export interface AuditKeys {
  /** HMAC-SHA256 over each line's hash: `mac`. */
  lineMac: Buffer;
  /** AES-256-GCM wrapping the trail's X25519 private key. */
  sealWrap: Buffer;
  /** HMAC-SHA256 over the seal key file's clear part (the public key). */
  sealKeyMac: Buffer;
}

/**
 * HKDF-SHA256 of the audit key under one label each, so no key does two
 * jobs. (The head record's MAC keeps using the audit key itself, as D44
 * wrote it; HKDF's extract step is HMAC keyed by the salt, not by this key,
 * so the two uses do not meet.)
 */
export function deriveAuditKeys(auditKey: Buffer): AuditKeys {
  const derive = (label: string): Buffer => Buffer.from(hkdfSync('sha256', auditKey, 'telerad-audit-keys/v1', label, 32));
  return { lineMac: derive('line-mac'), sealWrap: derive('seal-key-wrap'), sealKeyMac: derive('seal-key-mac') };
}

/** The `mac` a line carries: HMAC-SHA256(line MAC key, the line's hash), hex. */
export function auditLineMac(lineMacKey: Buffer, hash: string): string {
  return createHmac('sha256', lineMacKey).update(`telerad-audit-line/v1\n${hash}`, 'utf8').digest('hex');
}

export function hexEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/* ----------------------------------------------------------- key pair -- */

/** The trail's key pair in memory: the private half only after an unlock. */
export interface AuditSealKey {
  /** First 16 hex digits of SHA-256 of the raw public key: names the key in each sealed value. */
  kid: string;
  publicKey: KeyObject;
  /** Raw 32 bytes, base64url (JWK `x`). */
  publicRaw: string;
  privateKey?: KeyObject;
}

export function sealKeyId(publicRaw: string): string {
  return createHash('sha256').update(Buffer.from(publicRaw, 'base64url')).digest('hex').slice(0, 16);
}

export function generateAuditSealKey(): Required<AuditSealKey> {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const publicRaw = rawPublic(publicKey);
  return { kid: sealKeyId(publicRaw), publicKey, publicRaw, privateKey };
}

export function publicSealKey(publicRaw: string): AuditSealKey {
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: publicRaw }, format: 'jwk' });
  return { kid: sealKeyId(publicRaw), publicKey, publicRaw };
}

function rawPublic(key: KeyObject): string {
  const x = key.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new Error('not an X25519 public key');
  return x;
}

/* ------------------------------------------------------- the key file -- */

export const AUDIT_SEAL_KEY_FILE = 'audit-seal-key.json';

/**
 * `audit/audit-seal-key.json`. `mac` and `wrappedPrivate` are written at the
 * first unlock (or setup); a file without them was written before it, by a
 * run whose private key existed only in memory.
 */
export interface AuditSealKeyFile {
  v: 1;
  alg: 'X25519-HKDF-SHA256-AES-256-GCM';
  kid: string;
  /** Raw public key, base64url. */
  publicKey: string;
  /** The first seq written after the key existed with its MAC: from there on the head record is always signed. */
  signedFrom?: number;
  /** HMAC-SHA256(seal key MAC key, kid ‖ publicKey ‖ signedFrom), hex. */
  mac?: string;
  /** The PKCS#8 private key, AES-256-GCM under the wrap key: iv ‖ ciphertext ‖ tag, base64. */
  wrappedPrivate?: string;
}

function keyFileMacInput(file: Pick<AuditSealKeyFile, 'kid' | 'publicKey' | 'signedFrom'>): string {
  return `telerad-audit-seal-key/v1\n${file.kid}\n${file.publicKey}\n${file.signedFrom ?? ''}`;
}

export function parseSealKeyFile(text: string): AuditSealKeyFile | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'it is not JSON';
  }
  const f = parsed as Partial<AuditSealKeyFile>;
  if (typeof parsed !== 'object' || parsed === null || f.v !== 1 || typeof f.publicKey !== 'string' || typeof f.kid !== 'string') return 'it has no public key';
  if (f.kid !== sealKeyId(f.publicKey)) return 'its key id does not match its public key';
  try {
    publicSealKey(f.publicKey);
  } catch {
    return 'its public key is not an X25519 key';
  }
  return f as AuditSealKeyFile;
}

/** The file's content for a key pair: with the MAC and the wrapped private key when the audit keys are known. */
export function sealKeyFileContent(key: AuditSealKey, keys: AuditKeys | undefined, signedFrom: number | undefined): AuditSealKeyFile {
  const base: AuditSealKeyFile = { v: 1, alg: 'X25519-HKDF-SHA256-AES-256-GCM', kid: key.kid, publicKey: key.publicRaw };
  if (!keys || !key.privateKey) return base;
  const clear = { ...base, ...(signedFrom !== undefined ? { signedFrom } : {}) };
  const pkcs8 = key.privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    ...clear,
    mac: createHmac('sha256', keys.sealKeyMac).update(keyFileMacInput(clear), 'utf8').digest('hex'),
    wrappedPrivate: gcmSeal(keys.sealWrap, pkcs8, Buffer.from(`telerad-audit-seal-key/v1\n${key.kid}`, 'utf8')).toString('base64'),
  };
}

export type OpenedKeyFile =
  | { ok: true; key: Required<AuditSealKey>; signedFrom: number | undefined }
  | { ok: false; problem: string; pending?: true };

/** Checks the file's MAC and opens its private key with the audit keys; says what is wrong in plain words. */
export function openSealKeyFile(file: AuditSealKeyFile, keys: AuditKeys): OpenedKeyFile {
  if (file.mac === undefined || file.wrappedPrivate === undefined) {
    return { ok: false, pending: true, problem: `${AUDIT_SEAL_KEY_FILE} holds no wrapped private key (it was written before an unlock): lines sealed to it cannot be opened` };
  }
  const macGood = hexEqual(createHmac('sha256', keys.sealKeyMac).update(keyFileMacInput(file), 'utf8').digest('hex'), file.mac);
  const pkcs8 = gcmOpen(keys.sealWrap, Buffer.from(file.wrappedPrivate, 'base64'), Buffer.from(`telerad-audit-seal-key/v1\n${file.kid}`, 'utf8'));
  if (!pkcs8) return { ok: false, problem: `${AUDIT_SEAL_KEY_FILE} cannot be opened with this workstation's key: it was replaced or damaged outside the app` };
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  const publicRaw = rawPublic(publicKey);
  if (!macGood || publicRaw !== file.publicKey) {
    return { ok: false, problem: `the public key in ${AUDIT_SEAL_KEY_FILE} fails its check with this workstation's key: it was changed outside the app, and lines sealed to it meanwhile cannot be opened` };
  }
  return { ok: true, key: { kid: file.kid, publicKey, publicRaw, privateKey }, signedFrom: file.signedFrom };
}

/* ------------------------------------------------------------ sealing -- */

/** Seals `plain` (UTF-8 JSON of the clinical fields) to the trail's public key; `aad` binds it to the line's clear fields. */
export function sealAuditFields(key: AuditSealKey, plain: string, aad: string): string {
  const eph = generateKeyPairSync('x25519');
  const ephRaw = Buffer.from(rawPublic(eph.publicKey), 'base64url');
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: key.publicKey });
  const aes = messageKey(shared, ephRaw, Buffer.from(key.publicRaw, 'base64url'));
  const box = gcmSeal(aes, Buffer.from(plain, 'utf8'), Buffer.from(aad, 'utf8'));
  return `${SEALED_PREFIX}${key.kid}.${Buffer.concat([ephRaw, box]).toString('base64')}`;
}

/** The kid a sealed value names, or undefined when it is not one. */
export function sealedKeyId(sealed: string): string | undefined {
  if (!sealed.startsWith(SEALED_PREFIX)) return undefined;
  const kid = sealed.slice(SEALED_PREFIX.length).split('.', 1)[0];
  return kid && /^[0-9a-f]{16}$/.test(kid) ? kid : undefined;
}

/** The plain text, or undefined when the key is another one, or the value or its clear fields were changed. */
export function openAuditFields(key: Required<AuditSealKey>, sealed: string, aad: string): string | undefined {
  if (sealedKeyId(sealed) !== key.kid) return undefined;
  const bytes = Buffer.from(sealed.slice(SEALED_PREFIX.length + key.kid.length + 1), 'base64');
  if (bytes.length < X25519_BYTES + IV_BYTES + TAG_BYTES) return undefined;
  const ephRaw = bytes.subarray(0, X25519_BYTES);
  let shared: Buffer;
  try {
    const ephPublic = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: ephRaw.toString('base64url') }, format: 'jwk' });
    shared = diffieHellman({ privateKey: key.privateKey, publicKey: ephPublic });
  } catch {
    return undefined;
  }
  const aes = messageKey(shared, ephRaw, Buffer.from(key.publicRaw, 'base64url'));
  return gcmOpen(aes, bytes.subarray(X25519_BYTES), Buffer.from(aad, 'utf8'))?.toString('utf8');
}

function messageKey(shared: Buffer, ephRaw: Buffer, recipientRaw: Buffer): Buffer {
  // An all-zero shared secret means a low-order point was given as a public key: nothing secret in it.
  if (shared.every((b) => b === 0)) throw new Error('X25519 gave an all-zero secret');
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephRaw, recipientRaw]), SEAL_INFO, 32));
}

function gcmSeal(key: Buffer, plain: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, ct, cipher.getAuthTag()]);
}

function gcmOpen(key: Buffer, box: Buffer, aad: Buffer): Buffer | undefined {
  if (box.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, box.subarray(0, IV_BYTES));
    decipher.setAAD(aad);
    decipher.setAuthTag(box.subarray(box.length - TAG_BYTES));
    return Buffer.concat([decipher.update(box.subarray(IV_BYTES, box.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}
