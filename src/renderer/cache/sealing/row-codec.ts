/**
 * Turns the encrypted part of a cache row into bytes and back. Ours rather than a library's because it
 * is on the pixel path: a row is JSON for its small fields plus its binary fields appended raw (an
 * instance's Part 10 file, an outbox job's payloads), so a 500 KB image costs one copy and no base64.
 * Large binary fields can instead be left out ("detached"): the sealer encrypts each straight from the
 * row's own buffer and gets it back as its own buffer, so an image costs no copy here at all.
 * Round-trips what the cache stores: JSON values, ArrayBuffers, typed arrays and Dates; `undefined`
 * inside arrays comes back as null (JSON), absent properties stay absent.
 */

const BIN = '\u0000bin';
const PART = '\u0000part';
const DATE = '\u0000date';

type TypedArrayName =
  | 'ArrayBuffer'
  | 'Uint8Array'
  | 'Int8Array'
  | 'Uint8ClampedArray'
  | 'Uint16Array'
  | 'Int16Array'
  | 'Uint32Array'
  | 'Int32Array'
  | 'Float32Array'
  | 'Float64Array'
  | 'DataView';

const VIEW_CTORS: Record<Exclude<TypedArrayName, 'ArrayBuffer'>, new (b: ArrayBuffer) => ArrayBufferView> = {
  Uint8Array,
  Int8Array,
  Uint8ClampedArray,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  DataView,
};

interface BinMarker {
  [BIN]: [offset: number, length: number];
  t: TypedArrayName;
}

interface PartMarker {
  [PART]: number;
  t: TypedArrayName;
}

/** Bytes of `value`: [u32 JSON length][JSON, UTF-8][binary fields, back to back]. */
export function encodeRow(value: unknown): Uint8Array<ArrayBuffer> {
  return encodeRowDetaching(value, Infinity).row;
}

/**
 * As encodeRow, but binary fields of `detachFrom` bytes or more are left out of `row` and handed back in
 * `detached`, in order, as views of the value's own buffers (not copies); decodeRow wants them back, as
 * ArrayBuffers holding exactly those bytes, in the same order.
 */
export function encodeRowDetaching(value: unknown, detachFrom: number): { row: Uint8Array<ArrayBuffer>; detached: Uint8Array<ArrayBuffer>[] } {
  const parts: Uint8Array[] = [];
  const detached: Uint8Array<ArrayBuffer>[] = [];
  let binBytes = 0;
  const json = JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    // The holder's own value: JSON.stringify has already applied Date#toJSON to `v`.
    const raw = this[key];
    if (raw instanceof ArrayBuffer || ArrayBuffer.isView(raw)) {
      // Rows hold plain ArrayBuffers (IndexedDB cannot store shared ones).
      const bytes = raw instanceof ArrayBuffer ? new Uint8Array(raw) : new Uint8Array(raw.buffer as ArrayBuffer, raw.byteOffset, raw.byteLength);
      const t = raw instanceof ArrayBuffer ? 'ArrayBuffer' : (raw.constructor.name as TypedArrayName);
      if (bytes.byteLength >= detachFrom) {
        const marker: PartMarker = { [PART]: detached.length, t };
        detached.push(bytes);
        return marker;
      }
      const marker: BinMarker = { [BIN]: [binBytes, bytes.byteLength], t };
      parts.push(bytes);
      binBytes += bytes.byteLength;
      return marker;
    }
    if (raw instanceof Date) return { [DATE]: raw.getTime() };
    return v;
  });
  const jsonBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(4 + jsonBytes.byteLength + binBytes);
  new DataView(out.buffer).setUint32(0, jsonBytes.byteLength, true);
  out.set(jsonBytes, 4);
  let at = 4 + jsonBytes.byteLength;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return { row: out, detached };
}

function binaryOf(buf: ArrayBuffer, t: TypedArrayName): ArrayBuffer | ArrayBufferView {
  if (t === 'ArrayBuffer') return buf;
  const Ctor = VIEW_CTORS[t as Exclude<TypedArrayName, 'ArrayBuffer'>];
  if (!Ctor) throw new Error(`sealed row: unknown binary type ${String(t)}`);
  return new Ctor(buf);
}

/** The value encodeRow / encodeRowDetaching made; `detached`: the detached fields' bytes, each its own buffer (kept, not copied). */
export function decodeRow(bytes: Uint8Array, detached: readonly ArrayBuffer[] = []): unknown {
  if (bytes.byteLength < 4) throw new Error('sealed row too short');
  const jsonLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + jsonLength > bytes.byteLength) throw new Error('sealed row: JSON runs past the end');
  const json = new TextDecoder().decode(bytes.subarray(4, 4 + jsonLength));
  const binStart = bytes.byteOffset + 4 + jsonLength;
  const binEnd = bytes.byteOffset + bytes.byteLength;
  return JSON.parse(json, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    if (Array.isArray(o[BIN])) {
      const [offset, length] = o[BIN] as [number, number];
      const from = binStart + offset;
      if (from + length > binEnd) throw new Error('sealed row: a binary field runs past the end');
      // A copy: each field gets its own buffer, as the row had before it was sealed.
      return binaryOf(bytes.buffer.slice(from, from + length) as ArrayBuffer, o.t as TypedArrayName);
    }
    if (typeof o[PART] === 'number') {
      const buf = detached[o[PART]];
      if (!buf) throw new Error(`sealed row: detached binary field ${o[PART]} is missing`);
      return binaryOf(buf, o.t as TypedArrayName);
    }
    if (typeof o[DATE] === 'number' && Object.keys(o).length === 1) return new Date(o[DATE] as number);
    return v;
  });
}
