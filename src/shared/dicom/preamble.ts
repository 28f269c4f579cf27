// PS3.10 lets the 128-byte preamble hold anything, which makes a file both a
// valid DICOM object and a valid executable (PE/ELF/script polyglots,
// CVE-2019-11687). Nothing here reads the preamble, so files the app keeps or
// forwards get it zeroed: a polyglot stops being one, the DICOM is unchanged.

export const PREAMBLE_LENGTH = 128;

/** True for a Part 10 file: 128 bytes, then "DICM". */
export function hasPart10Preamble(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/**
 * The file with its preamble zeroed: the same bytes when it already is (or
 * when they are not a Part 10 file: a raw data set has no preamble), else a
 * copy — the caller's bytes are never changed.
 */
export function zeroPreamble(bytes: Uint8Array): Uint8Array {
  if (!hasPart10Preamble(bytes)) return bytes;
  let dirty = false;
  for (let i = 0; i < PREAMBLE_LENGTH && !dirty; i++) dirty = bytes[i] !== 0;
  if (!dirty) return bytes;
  const out = bytes.slice();
  out.fill(0, 0, PREAMBLE_LENGTH);
  return out;
}
