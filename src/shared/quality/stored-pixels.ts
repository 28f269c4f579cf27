// The first frame's stored values from native (uncompressed) pixel data: one
// reading for the `npm run qc` command and the app's quality service, so both
// compute the same statistics from the same file.
import type { StoredPixels } from './pixel-stats';
import type { ImageFacts } from './types';

const EXPLICIT_BIG_ENDIAN = '1.2.840.10008.1.2.2';

/** A fresh Uint8Array with its own buffer (a Node Buffer's subarray is a view into a shared pool). */
function copyOf(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}

/** Typed stored values from little-endian sample bytes, with bits above Bits Stored cleared or sign-extended. */
export function storedValues(bytes: Uint8Array, n: number, facts: ImageFacts): StoredPixels {
  const bitsAllocated = facts.bitsAllocated!;
  const signed = facts.pixelRepresentation === 1;
  const stored = facts.bitsStored ?? bitsAllocated;
  const bytesPer = bitsAllocated / 8;
  // A view when the values can be used as they are; otherwise a copy (aligned, and free to fix sign bits in place).
  const asIs = stored >= bitsAllocated && bytes.byteOffset % bytesPer === 0;
  const raw = asIs ? bytes : copyOf(bytes.subarray(0, n * bytesPer));
  const buf = raw.buffer;
  const at = raw.byteOffset;
  let px: StoredPixels;
  if (bitsAllocated === 8) px = signed ? new Int8Array(buf, at, n) : new Uint8Array(buf, at, n);
  else if (bitsAllocated === 16) px = signed ? new Int16Array(buf, at, n) : new Uint16Array(buf, at, n);
  else px = signed ? new Int32Array(buf, at, n) : new Uint32Array(buf, at, n);
  if (stored < bitsAllocated) {
    // Bits above Bits Stored may hold overlays or garbage: keep only the stored bits, sign-extended.
    const shift = 32 - stored;
    for (let i = 0; i < n; i++) px[i] = signed ? (px[i]! << shift) >> shift : px[i]! & ((1 << stored) - 1);
  }
  return px;
}

/** Why the first frame's values cannot be looked at, before any decoding; undefined when they can. */
export function pixelReadProblem(facts: ImageFacts, hasPixelData: boolean): string | undefined {
  const { rows, columns, bitsAllocated } = facts;
  if (!hasPixelData || !rows || !columns || !bitsAllocated) return 'no pixel data';
  if ((facts.samplesPerPixel ?? 1) !== 1) return 'colour image';
  if (bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32) return `${bitsAllocated}-bit pixels`;
  return undefined;
}

/**
 * The first frame of native Pixel Data (`dataOffset`/`length` of the element
 * in `byteArray`), big endian swapped; a reason string when it is too short.
 * Call after `pixelReadProblem` said nothing and the syntax is not encapsulated.
 */
export function nativeFirstFrame(byteArray: Uint8Array, element: { dataOffset: number; length: number }, facts: ImageFacts): StoredPixels | string {
  const n = facts.rows! * facts.columns!;
  const bytesPer = facts.bitsAllocated! / 8;
  if (element.length < n * bytesPer || element.dataOffset + n * bytesPer > byteArray.length) return 'pixel data too short';
  const raw = byteArray.subarray(element.dataOffset, element.dataOffset + n * bytesPer);
  if (facts.transferSyntaxUID === EXPLICIT_BIG_ENDIAN && bytesPer > 1) {
    const swapped = copyOf(raw);
    for (let i = 0; i < swapped.length; i += bytesPer) swapped.subarray(i, i + bytesPer).reverse();
    return storedValues(swapped, n, facts);
  }
  return storedValues(raw, n, facts);
}
