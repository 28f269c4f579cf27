// Deflated Explicit VR Little Endian (1.2.840.10008.1.2.1.99): the data set
// after the meta header is raw deflate. A few kilobytes can inflate to
// gigabytes, so the data set is inflated in small steps and refused once it
// passes a limit, before the memory is spent.
import { Inflate } from 'fflate';

/** Larger than any single image a referral carries (a 4k×4k×16-bit frame × 64 is 2 GiB: those come compressed). */
export const MAX_INFLATED_DATASET_BYTES = 512 * 1024 * 1024;
const STEP = 4096;

/**
 * dicom-parser's `options.inflater`: the meta header as it is, then the
 * inflated data set. Throws an Error naming the limit when the data set
 * inflates past `maxBytes`, or when the deflate stream is corrupt.
 */
export function boundedInflater(maxBytes: number = MAX_INFLATED_DATASET_BYTES): (byteArray: Uint8Array, position: number) => Uint8Array {
  return (byteArray, position) => {
    const chunks: Uint8Array[] = [];
    let total = position;
    const inflate = new Inflate((chunk) => {
      total += chunk.length;
      if (total > maxBytes) throw new Error(`deflated data set inflates past ${Math.round(maxBytes / 1048576)} MB: refused`);
      chunks.push(chunk);
    });
    for (let p = position; p < byteArray.length; p += STEP) {
      const end = Math.min(byteArray.length, p + STEP);
      inflate.push(byteArray.subarray(p, end), end === byteArray.length);
    }
    if (byteArray.length <= position) inflate.push(new Uint8Array(0), true);
    const out = new Uint8Array(total);
    out.set(byteArray.subarray(0, position));
    let o = position;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  };
}
