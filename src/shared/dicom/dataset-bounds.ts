// What dicom-parser does not check: an element whose declared length runs
// past the end of the file is kept when parsing ends there (implicit VR, the
// last element), and reading it later throws from deep inside the reader
// ("readFixedString: attempt to read past end of buffer"). Sequences nested
// thousands deep parse, but make later readers (dcmjs, recursive SR readers)
// take seconds to minutes. Both are found here once, right after parsing.

/** Deeper than any real object (an SR content tree is a dozen levels); deep enough to refuse nesting attacks. */
export const MAX_SEQUENCE_DEPTH = 64;

interface ElementLike {
  tag: string;
  dataOffset: number;
  length: number;
  items?: { dataSet?: DataSetLike }[];
  fragments?: { position: number; length: number }[];
}
interface DataSetLike {
  elements: Record<string, ElementLike>;
}

export type BoundsProblem =
  | { kind: 'overrun'; tag: string; length: number; present: number; message: string }
  | { kind: 'too-deep'; depth: number; message: string };

/**
 * The first element or fragment running past `byteLength`, or nesting deeper
 * than `maxDepth` (as parsed, and — given the bytes — as undefined-length
 * items open in them); undefined when the data set is sound.
 */
export function dataSetBoundsProblem(ds: DataSetLike, byteLength: number, maxDepth: number = MAX_SEQUENCE_DEPTH, bytes?: Uint8Array): BoundsProblem | undefined {
  if (bytes) {
    const depth = undefinedLengthItemDepth(bytes);
    if (depth > maxDepth) return { kind: 'too-deep', depth, message: `sequences nested more than ${maxDepth} levels deep` };
  }
  const stack: { ds: DataSetLike; depth: number }[] = [{ ds, depth: 0 }];
  while (stack.length) {
    const { ds: current, depth } = stack.pop()!;
    for (const [tag, el] of Object.entries(current.elements)) {
      const overrun = (offset: number, length: number): BoundsProblem | undefined =>
        length > 0 && offset + length > byteLength
          ? { kind: 'overrun', tag, length, present: Math.max(0, byteLength - offset), message: `(${tag.slice(1, 5).toUpperCase()},${tag.slice(5).toUpperCase()}) declares ${length} bytes, ${Math.max(0, byteLength - offset)} present: runs past end of file` }
          : undefined;
      const own = overrun(el.dataOffset, el.length);
      if (own) return own;
      for (const f of el.fragments ?? []) {
        const frag = overrun(f.position, f.length);
        if (frag) return frag;
      }
      if (el.items?.length) {
        if (depth + 1 > maxDepth) return { kind: 'too-deep', depth: depth + 1, message: `sequences nested more than ${maxDepth} levels deep` };
        for (const item of el.items) if (item.dataSet) stack.push({ ds: item.dataSet, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/**
 * The deepest nesting of undefined-length items, read straight from the
 * bytes: each (FFFE,E000) with length 0xFFFFFFFF opens one, each Item
 * Delimitation (FFFE,E00D) closes one. Parsers disagree on malformed nesting
 * (dicom-parser may skip what dcmjs then descends into, taking seconds), so
 * this bound does not depend on either. Both byte orders.
 */
export function undefinedLengthItemDepth(bytes: Uint8Array): number {
  let depth = 0;
  let max = 0;
  for (let i = 0, n = bytes.length - 8; i <= n; i++) {
    const b0 = bytes[i]!;
    if (b0 === 0xfe && bytes[i + 1] === 0xff) {
      // Little endian: FE FF 00 E0 (item) / FE FF 0D E0 (item delimitation).
      if (bytes[i + 3] !== 0xe0) continue;
      const el = bytes[i + 2];
      if (el === 0x00 && bytes[i + 4] === 0xff && bytes[i + 5] === 0xff && bytes[i + 6] === 0xff && bytes[i + 7] === 0xff) max = Math.max(max, ++depth);
      else if (el === 0x0d && depth > 0) depth--;
    } else if (b0 === 0xff && bytes[i + 1] === 0xfe && bytes[i + 2] === 0xe0) {
      // Big endian: FF FE E0 00 / FF FE E0 0D.
      const el = bytes[i + 3];
      if (el === 0x00 && bytes[i + 4] === 0xff && bytes[i + 5] === 0xff && bytes[i + 6] === 0xff && bytes[i + 7] === 0xff) max = Math.max(max, ++depth);
      else if (el === 0x0d && depth > 0) depth--;
    }
  }
  return max;
}
