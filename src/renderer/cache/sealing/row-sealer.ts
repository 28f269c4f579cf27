import type { VaultKeys } from '../../../shared/ipc/contract';
import { decodeRow, encodeRowDetaching } from './row-codec';

/** Which of the vault's two keys seals a table: `outbox` stays in memory while the app is locked. */
export type SealKeyName = 'data' | 'outbox';

/** The app is locked: the data key is not in memory. Nothing is lost; unlock and retry. */
export class VaultLockedError extends Error {
  constructor(what: string) {
    super(`The workstation is locked: ${what} cannot be read or written until it is unlocked`);
    this.name = 'VaultLockedError';
  }
}

/** A sealed row that does not open: changed on disk, or sealed under another vault's key. */
export class SealedRowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealedRowError';
  }
}

/** What a sealed row stores in place of its clinical fields. */
export interface SealedEnvelope {
  /** The vault key generation (VaultKeys.keyId). */
  k: string;
  /** [version][12-byte IV][AES-256-GCM ciphertext and tag] of the row's fields (large binary ones apart, v2). */
  c: ArrayBuffer;
  /** v2: each large binary field (≥ DETACH_FROM bytes) sealed on its own: AES-256-GCM ciphertext and tag. */
  b?: ArrayBuffer[];
  /** v2: their 12-byte IVs, back to back; authenticated as additional data of `c`. */
  i?: ArrayBuffer;
}

/**
 * AES-256-GCM through WebCrypto with the keys main handed over at unlock (imported non-extractable,
 * never stored). The additional data binds each ciphertext to its table and primary key, so a sealed
 * blob copied onto another row does not open.
 */
export interface RowSealer {
  readonly keyId: string;
  hasKey(name: SealKeyName): boolean;
  seal(name: SealKeyName, table: string, primaryKey: unknown, payload: unknown): Promise<SealedEnvelope>;
  open(name: SealKeyName, table: string, primaryKey: unknown, envelope: SealedEnvelope): Promise<unknown>;
  /** Locking: the data key goes; the outbox key stays so background sending goes on. */
  dropDataKey(): void;
}

/**
 * v1: one ciphertext of the whole encoded row. v2 (written now): binary fields of DETACH_FROM bytes or
 * more are encrypted each straight from the row's buffer and decrypt into their own buffer, which
 * saves the two full copies of an image v1 made on each side (encoding into one plaintext, then IV +
 * ciphertext into one buffer; on reading, slicing the field out of the plaintext). Both are read.
 */
const VERSION = 2;
const DETACH_FROM = 16 * 1024;
const IV_BYTES = 12;

function aad(version: number, table: string, primaryKey: unknown, suffix = ''): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`telerad/v${version}/${table}/${typeof primaryKey === 'string' ? primaryKey : JSON.stringify(primaryKey ?? null)}${suffix}`);
}

/** The main ciphertext's additional data: table and key, and (v2) the detached fields' IVs, so none can be swapped. */
function mainAad(version: number, table: string, primaryKey: unknown, partIvs: Uint8Array | undefined): Uint8Array<ArrayBuffer> {
  const head = aad(version, table, primaryKey);
  if (!partIvs || partIvs.byteLength === 0) return head;
  const out = new Uint8Array(head.byteLength + partIvs.byteLength);
  out.set(head);
  out.set(partIvs, head.byteLength);
  return out;
}

/** A detached field's additional data: table, key and its place in the row. */
const partAad = (table: string, primaryKey: unknown, index: number): Uint8Array<ArrayBuffer> => aad(VERSION, table, primaryKey, `#${index}`);

/** `n` random IVs back to back (getRandomValues gives at most 64 KiB a call). */
function randomIvs(cryptoImpl: Crypto, n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n * IV_BYTES);
  for (let at = 0; at < out.byteLength; at += 65536) cryptoImpl.getRandomValues(out.subarray(at, Math.min(out.byteLength, at + 65536)));
  return out;
}

function fromBase64(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function importAesKey(subtle: SubtleCrypto, b64: string): Promise<CryptoKey> {
  const raw = fromBase64(b64);
  try {
    return await subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  } finally {
    raw.fill(0);
  }
}

export interface RowSealerKeys {
  keyId: string;
  /** Absent while locked. */
  dataKey?: string;
  outboxKey: string;
}

export async function createRowSealer(keys: RowSealerKeys | VaultKeys, cryptoImpl: Crypto = globalThis.crypto): Promise<RowSealer> {
  const subtle = cryptoImpl.subtle;
  let data: CryptoKey | undefined = keys.dataKey ? await importAesKey(subtle, keys.dataKey) : undefined;
  const outbox = await importAesKey(subtle, keys.outboxKey);
  const keyFor = (name: SealKeyName, table: string): CryptoKey => {
    const k = name === 'outbox' ? outbox : data;
    if (!k) throw new VaultLockedError(`the ${table} table`);
    return k;
  };
  return {
    keyId: keys.keyId,
    hasKey: (name) => (name === 'outbox' ? true : data !== undefined),
    async seal(name, table, primaryKey, payload) {
      const key = keyFor(name, table);
      const { row, detached } = encodeRowDetaching(payload, DETACH_FROM);
      const partIvs = detached.length > 0 ? randomIvs(cryptoImpl, detached.length) : undefined;
      const iv = cryptoImpl.getRandomValues(new Uint8Array(IV_BYTES));
      // All at once: WebCrypto works off the main thread, so the fields of a row (and the rows of a batch) overlap.
      const [ct, ...parts] = await Promise.all([
        subtle.encrypt({ name: 'AES-GCM', iv, additionalData: mainAad(VERSION, table, primaryKey, partIvs) }, key, row),
        ...detached.map((bytes, n) =>
          subtle.encrypt({ name: 'AES-GCM', iv: partIvs!.subarray(n * IV_BYTES, (n + 1) * IV_BYTES), additionalData: partAad(table, primaryKey, n) }, key, bytes),
        ),
      ]);
      const out = new Uint8Array(1 + IV_BYTES + ct!.byteLength);
      out[0] = VERSION;
      out.set(iv, 1);
      out.set(new Uint8Array(ct!), 1 + IV_BYTES);
      return partIvs ? { k: keys.keyId, c: out.buffer, b: parts, i: partIvs.buffer } : { k: keys.keyId, c: out.buffer };
    },
    async open(name, table, primaryKey, envelope) {
      if (envelope.k !== keys.keyId) {
        throw new SealedRowError(`A ${table} row was sealed under another key (${envelope.k}, this vault is ${keys.keyId})`);
      }
      const key = keyFor(name, table);
      const bytes = new Uint8Array(envelope.c);
      const version = bytes[0] ?? 0;
      const parts = envelope.b ?? [];
      const partIvs = envelope.i ? new Uint8Array(envelope.i) : undefined;
      const known = version === 1 ? parts.length === 0 : version === VERSION && (partIvs?.byteLength ?? 0) === parts.length * IV_BYTES;
      if (bytes.byteLength < 1 + IV_BYTES + 16 || !known) throw new SealedRowError(`A ${table} row has an unknown sealed format`);
      let plain: ArrayBuffer;
      let detached: ArrayBuffer[];
      try {
        [plain, ...detached] = await Promise.all([
          subtle.decrypt({ name: 'AES-GCM', iv: bytes.subarray(1, 1 + IV_BYTES), additionalData: mainAad(version, table, primaryKey, partIvs) }, key, bytes.subarray(1 + IV_BYTES)),
          ...parts.map((part, n) =>
            subtle.decrypt({ name: 'AES-GCM', iv: partIvs!.subarray(n * IV_BYTES, (n + 1) * IV_BYTES), additionalData: partAad(table, primaryKey, n) }, key, part),
          ),
        ]);
      } catch {
        throw new SealedRowError(`A ${table} row (${String(primaryKey)}) failed its authentication check: changed on disk or moved from another row`);
      }
      return decodeRow(new Uint8Array(plain!), detached);
    },
    dropDataKey() {
      data = undefined;
    },
  };
}
