// What a JPEG photo must say before it can be carried as DICOM JPEG Baseline
// (1.2.840.10008.1.2.4.50) without re-encoding: baseline DCT, 8-bit, its size
// and components. And a copy without the metadata segments: a phone's EXIF
// holds GPS position, date, camera serial number — attributes Annex E removes
// from DICOM — so it must not ride along inside the pixel data.
import { UnsupportedImageError } from './png-decode';

export interface JpegInfo {
  width: number;
  height: number;
  components: 1 | 3;
  /** True when chroma is subsampled horizontally (4:2:2 / 4:2:0): DICOM calls that YBR_FULL_422. */
  chromaSubsampled: boolean;
}

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

const SOF_NAMES: Record<number, string> = { 0xc1: 'extended sequential', 0xc2: 'progressive', 0xc3: 'lossless', 0xc9: 'arithmetic', 0xca: 'progressive arithmetic' };

/** Walks the marker segments up to the start of scan. */
function* segments(bytes: Uint8Array): Generator<{ marker: number; start: number; end: number }> {
  let o = 2;
  while (o + 4 <= bytes.length) {
    if (bytes[o] !== 0xff) throw new UnsupportedImageError('damaged JPEG: marker expected');
    const marker = bytes[o + 1]!;
    if (marker === 0xff) {
      o++; // fill byte
      continue;
    }
    const length = (bytes[o + 2]! << 8) | bytes[o + 3]!;
    const end = o + 2 + length;
    if (end > bytes.length) throw new UnsupportedImageError('truncated JPEG');
    yield { marker, start: o, end };
    if (marker === 0xda) return; // start of scan: entropy-coded data follows
    o = end;
  }
}

export function jpegInfo(bytes: Uint8Array): JpegInfo {
  if (!isJpeg(bytes)) throw new UnsupportedImageError('not a JPEG file');
  for (const { marker, start } of segments(bytes)) {
    if (marker === 0xc0) {
      const precision = bytes[start + 4]!;
      const height = (bytes[start + 5]! << 8) | bytes[start + 6]!;
      const width = (bytes[start + 7]! << 8) | bytes[start + 8]!;
      const components = bytes[start + 9]!;
      if (precision !== 8) throw new UnsupportedImageError(`JPEG with ${precision}-bit samples is not baseline`);
      if (components !== 1 && components !== 3) throw new UnsupportedImageError(`JPEG with ${components} components (CMYK?) cannot be attached`);
      const lumaSampling = bytes[start + 11]!;
      return { width, height, components, chromaSubsampled: components === 3 && lumaSampling >> 4 > 1 };
    }
    if (SOF_NAMES[marker]) {
      throw new UnsupportedImageError(`${SOF_NAMES[marker]} JPEG: only baseline JPEG can be attached as is; re-save the photo as a standard JPEG or PNG`);
    }
  }
  throw new UnsupportedImageError('JPEG without a frame header');
}

/** The JPEG without APP1–APP13, APP15 (EXIF, XMP, ICC, maker data) and COM segments; the image data is unchanged. */
export function stripJpegMetadata(bytes: Uint8Array): Uint8Array {
  const keep: Uint8Array[] = [bytes.subarray(0, 2)];
  let scanStart = bytes.length;
  for (const { marker, start, end } of segments(bytes)) {
    if (marker === 0xda) {
      scanStart = start;
      break;
    }
    const isApp = marker >= 0xe0 && marker <= 0xef;
    // APP0 (JFIF) and APP14 (Adobe: tells the decoder the colour transform) are needed to read the image.
    if ((isApp && marker !== 0xe0 && marker !== 0xee) || marker === 0xfe) continue;
    keep.push(bytes.subarray(start, end));
  }
  keep.push(bytes.subarray(scanStart));
  const out = new Uint8Array(keep.reduce((n, k) => n + k.length, 0));
  let o = 0;
  for (const k of keep) {
    out.set(k, o);
    o += k.length;
  }
  return out;
}
