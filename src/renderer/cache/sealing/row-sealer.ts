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

/**
 * Why a row was refused: `tampered` (a sealed or clear field changed, or the blob moved from another
 * row), `replayed` (an older sealed copy, or one the version registry does not know), `unsealed` (no
 * envelope, or one of the formats written before clear fields were authenticated, in a store already
 * sealed), `foreign` (sealed under another vault's key), `format` (not a format this app writes).
 */
export type SealedRowReason = 'tampered' | 'replayed' | 'unsealed' | 'foreign' | 'format';

/** A sealed row that does not open: changed on disk, an old copy, no envelope, or sealed under another vault's key. */
export class SealedRowError extends Error {
  readonly reason: SealedRowReason;
  /** Set by the sealing middleware: the table, the row's key, and its clear fields as found on disk (not to be trusted: only to find the row). */
  table?: string;
  primaryKey?: unknown;
  found?: Readonly<Record<string, unknown>>;
  constructor(message: string, reason: SealedRowReason = 'tampered') {
    super(message);
    this.name = 'SealedRowError';
    this.reason = reason;
  }
}

/** Whether `err` says a stored row failed its integrity check (as opposed to the app being locked, or IndexedDB failing). */
export function isSealedRowError(err: unknown): err is SealedRowError {
  return err instanceof SealedRowError || (err instanceof Error && err.name === 'SealedRowError');
}

/**
 * v3: what a sealed row keeps beside its ciphertext that the ciphertext vouches for: every field left
 * in clear (primary key, indexed fields, the policy's clear fields) and the row's version.
 */
export interface SealBinding {
  /** The row's clear fields as stored (everything but the envelope). */
  clear: Readonly<Record<string, unknown>>;
  /** The row's version (versioned tables), increasing with every write; undefined elsewhere. */
  version?: number;
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
  /** v3: the row's version (versioned tables only); authenticated as additional data. */
  n?: number;
}

/**
 * AES-256-GCM through WebCrypto with the keys main handed over at unlock (imported non-extractable,
 * never stored). The additional data binds each ciphertext to its table and primary key, so a sealed
 * blob copied onto another row does not open.
 */
export interface RowSealer {
  readonly keyId: string;
  hasKey(name: SealKeyName): boolean;
  /** Seals `payload`; with `bound` (v3) the row's clear fields and version are authenticated too, else (v2) only table and key. */
  seal(name: SealKeyName, table: string, primaryKey: unknown, payload: unknown, bound?: SealBinding): Promise<SealedEnvelope>;
  /** Opens any format; a v3 envelope needs `bound` as read from disk (its version is the envelope's `n`). */
  open(name: SealKeyName, table: string, primaryKey: unknown, envelope: SealedEnvelope, bound?: SealBinding): Promise<unknown>;
  /** Locking: the data key goes; the outbox key stays so background sending goes on. */
  dropDataKey(): void;
}

/**
 * v1: one ciphertext of the whole encoded row. v2: binary fields of DETACH_FROM bytes or
 * more are encrypted each straight from the row's buffer and decrypt into their own buffer, which
 * saves the two full copies of an image v1 made on each side (encoding into one plaintext, then IV +
 * ciphertext into one buffer; on reading, slicing the field out of the plaintext). v3 (written now,
 * issue 18): v2's layout, with additional data that authenticates the row's clear fields, the key
 * generation and the row's version as well (see boundAad). All three are read; whether v1/v2 are still
 * accepted is the middleware's decision (only until the store is sealed).
 */
const VERSION = 3;
/** The formats that authenticate only table and key (written before issue 18). */
export const LEGACY_FORMATS: readonly number[] = [1, 2];
/** The format of a sealed envelope (first byte of `c`). */
export const envelopeFormat = (envelope: SealedEnvelope): number => new Uint8Array(envelope.c, 0, Math.min(1, envelope.c.byteLength))[0] ?? 0;
const DETACH_FROM = 16 * 1024;
const IV_BYTES = 12;

function aad(version: number, table: string, primaryKey: unknown, suffix = ''): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`telerad/v${version}/${table}/${typeof primaryKey === 'string' ? primaryKey : JSON.stringify(primaryKey ?? null)}${suffix}`);
}

/**
 * A value in one canonical form, for additional data: the same stored value always gives the same text,
 * whatever order its properties were written in. undefined properties are left out (IndexedDB keeps
 * them, JSON would drop them); objects become their [name, value] pairs sorted by name (so integer-like
 * names get no special order); Dates `{"$d": ms}`; binary values `{"$b": hex}`; numbers as JSON writes
 * them. Tagged forms are arrays/objects no plain JSON value of the row can collide with, because plain
 * objects are always pairs lists.
 */
export function canonicalValue(v: unknown): unknown {
  if (v === undefined || v === null || typeof v === 'boolean' || typeof v === 'string') return v ?? null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return { $n: v.toString() };
  if (v instanceof Date) return { $d: v.getTime() };
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const bytes = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    let hex = '';
    for (const b of bytes) hex += b.toString(16).padStart(2, '0');
    return { $b: hex };
  }
  if (Array.isArray(v)) return v.map(canonicalValue);
  if (typeof v === 'object') {
    const pairs = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => [k, canonicalValue(x)]);
    return { $o: pairs };
  }
  return String(v);
}

/**
 * v3 additional data, one canonical encoding (issue 18): the UTF-8 of the JSON array
 *   ["telerad/v3", <table>, <keyId>, canon(<primary key>), <version or null>, canon(<clear fields>), <part>]
 * where <clear fields> is every property the row keeps beside its envelope (primary key, indexed fields,
 * the policy's clear fields; absent and undefined are the same), canon() is canonicalValue, and <part>
 * is null for the main ciphertext, the index of a detached field otherwise. The main ciphertext's data
 * is followed by the detached fields' IVs (as in v2). JSON arrays of JSON strings cannot be read two
 * ways, so no choice of table, key or field value can make two different rows give the same data: an
 * edit on disk of any clear field (an outbox job's siteId, state, nextAttemptAt, ...), of the key id or of the
 * version makes the row fail to open.
 */
export function boundAad(table: string, keyId: string, primaryKey: unknown, bound: SealBinding, part: number | null): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(
    JSON.stringify(['telerad/v3', table, keyId, canonicalValue(primaryKey), bound.version ?? null, canonicalValue(bound.clear), part]),
  );
}

/** The main ciphertext's additional data: table and key (v3: clear fields, key id, version), and (v2+) the detached fields' IVs, so none can be swapped. */
function mainAad(version: number, table: string, primaryKey: unknown, partIvs: Uint8Array | undefined, v3?: { keyId: string; bound: SealBinding }): Uint8Array<ArrayBuffer> {
  const head = v3 ? boundAad(table, v3.keyId, primaryKey, v3.bound, null) : aad(version, table, primaryKey);
  if (!partIvs || partIvs.byteLength === 0) return head;
  const out = new Uint8Array(head.byteLength + partIvs.byteLength);
  out.set(head);
  out.set(partIvs, head.byteLength);
  return out;
}

/** A detached field's additional data: table, key and its place in the row (v3: the whole binding too). */
const partAad = (version: number, table: string, primaryKey: unknown, index: number, v3?: { keyId: string; bound: SealBinding }): Uint8Array<ArrayBuffer> =>
  v3 ? boundAad(table, v3.keyId, primaryKey, v3.bound, index) : aad(2, table, primaryKey, `#${index}`);

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
    async seal(name, table, primaryKey, payload, bound) {
      const key = keyFor(name, table);
      const format = bound ? VERSION : 2;
      const v3 = bound ? { keyId: keys.keyId, bound } : undefined;
      const { row, detached } = encodeRowDetaching(payload, DETACH_FROM);
      const partIvs = detached.length > 0 ? randomIvs(cryptoImpl, detached.length) : undefined;
      const iv = cryptoImpl.getRandomValues(new Uint8Array(IV_BYTES));
      // All at once: WebCrypto works off the main thread, so the fields of a row (and the rows of a batch) overlap.
      const [ct, ...parts] = await Promise.all([
        subtle.encrypt({ name: 'AES-GCM', iv, additionalData: mainAad(format, table, primaryKey, partIvs, v3) }, key, row),
        ...detached.map((bytes, n) =>
          subtle.encrypt({ name: 'AES-GCM', iv: partIvs!.subarray(n * IV_BYTES, (n + 1) * IV_BYTES), additionalData: partAad(format, table, primaryKey, n, v3) }, key, bytes),
        ),
      ]);
      const out = new Uint8Array(1 + IV_BYTES + ct!.byteLength);
      out[0] = format;
      out.set(iv, 1);
      out.set(new Uint8Array(ct!), 1 + IV_BYTES);
      const envelope: SealedEnvelope = partIvs ? { k: keys.keyId, c: out.buffer, b: parts, i: partIvs.buffer } : { k: keys.keyId, c: out.buffer };
      if (bound?.version !== undefined) envelope.n = bound.version;
      return envelope;
    },
    async open(name, table, primaryKey, envelope, bound) {
      if (envelope.k !== keys.keyId) {
        throw new SealedRowError(`A ${table} row was sealed under another key (${envelope.k}, this vault is ${keys.keyId})`, 'foreign');
      }
      const key = keyFor(name, table);
      if (!(envelope.c instanceof ArrayBuffer)) throw new SealedRowError(`A ${table} row has an unknown sealed format`, 'format');
      const bytes = new Uint8Array(envelope.c);
      const version = bytes[0] ?? 0;
      const parts = envelope.b ?? [];
      const partIvs = envelope.i ? new Uint8Array(envelope.i) : undefined;
      const known = version === 1 ? parts.length === 0 : (version === 2 || version === VERSION) && (partIvs?.byteLength ?? 0) === parts.length * IV_BYTES;
      if (bytes.byteLength < 1 + IV_BYTES + 16 || !known) throw new SealedRowError(`A ${table} row has an unknown sealed format`, 'format');
      if (version === VERSION && !bound) throw new SealedRowError(`A ${table} row (v3) was opened without its clear fields`, 'format');
      const v3 = version === VERSION && bound ? { keyId: keys.keyId, bound: { clear: bound.clear, ...(envelope.n !== undefined ? { version: envelope.n } : {}) } } : undefined;
      let plain: ArrayBuffer;
      let detached: ArrayBuffer[];
      try {
        [plain, ...detached] = await Promise.all([
          subtle.decrypt({ name: 'AES-GCM', iv: bytes.subarray(1, 1 + IV_BYTES), additionalData: mainAad(version, table, primaryKey, partIvs, v3) }, key, bytes.subarray(1 + IV_BYTES)),
          ...parts.map((part, n) =>
            subtle.decrypt({ name: 'AES-GCM', iv: partIvs!.subarray(n * IV_BYTES, (n + 1) * IV_BYTES), additionalData: partAad(version, table, primaryKey, n, v3) }, key, part),
          ),
        ]);
      } catch {
        throw new SealedRowError(`A ${table} row (${String(primaryKey)}) failed its authentication check: changed on disk or moved from another row`, 'tampered');
      }
      return decodeRow(new Uint8Array(plain!), detached);
    },
    dropDataKey() {
      data = undefined;
    },
  };
}
