// A small PNG decoder for photos and screenshots a referrer attaches: 8-bit
// greyscale, RGB, RGBA, grey+alpha and palette images, not interlaced. Why
// our own: the browser could decode with createImageBitmap + OffscreenCanvas,
// but that path does not exist in node, where the import is tested, and the
// canvas path may colour-manage the pixels. fflate (already used for zips)
// inflates the IDAT stream; the rest is PNG's five scanline filters.
import { unzlibSync } from 'fflate';

export interface DecodedRgb {
  width: number;
  height: number;
  /** RGB, 8 bits per sample, interleaved (PlanarConfiguration 0). */
  rgb: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export class UnsupportedImageError extends Error {}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

export function isPng(bytes: Uint8Array): boolean {
  return SIGNATURE.every((v, i) => bytes[i] === v);
}

/** Decodes a PNG to RGB; transparency is composited over white (a screenshot's or a scanned form's background). */
export function decodePng(bytes: Uint8Array): DecodedRgb {
  if (!isPng(bytes)) throw new UnsupportedImageError('not a PNG file');
  let offset = 8;
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let colorType = -1;
  let interlace = 0;
  let palette: Uint8Array | undefined;
  let paletteAlpha: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  while (offset + 8 <= bytes.length) {
    const length = u32(bytes, offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    if (data.length < length) throw new UnsupportedImageError(`truncated PNG: chunk ${type} declares ${length} bytes, ${data.length} present`);
    if (type === 'IHDR') {
      width = u32(data, 0);
      height = u32(data, 4);
      bitDepth = data[8]!;
      colorType = data[9]!;
      interlace = data[12]!;
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') paletteAlpha = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    offset += 12 + length;
  }
  const channels = CHANNELS[colorType];
  if (!channels || !width || !height) throw new UnsupportedImageError('PNG without a valid header');
  if (bitDepth !== 8) throw new UnsupportedImageError(`PNG with ${bitDepth}-bit samples: only 8-bit PNGs can be attached`);
  if (interlace !== 0) throw new UnsupportedImageError('interlaced PNG: save it without interlacing to attach it');
  if (colorType === 3 && !palette) throw new UnsupportedImageError('palette PNG without a palette');

  const joined = new Uint8Array(idat.reduce((n, c) => n + c.length, 0));
  let p = 0;
  for (const c of idat) {
    joined.set(c, p);
    p += c.length;
  }
  const raw = unzlibSync(joined);
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw new UnsupportedImageError('truncated PNG: image data shorter than its size');

  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = y * stride;
    const prev = out - stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[out + x - channels]! : 0;
      const b = y > 0 ? pixels[prev + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[prev + x - channels]! : 0;
      let v = line[x]!;
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) v += paeth(a, b, c);
      else if (filter !== 0) throw new UnsupportedImageError(`PNG scanline filter ${filter} is not defined`);
      pixels[out + x] = v & 0xff;
    }
  }

  const rgb = new Uint8Array(width * height * 3);
  const over = (value: number, alpha: number): number => Math.round((value * alpha + 255 * (255 - alpha)) / 255);
  for (let i = 0; i < width * height; i++) {
    let r: number;
    let g: number;
    let b: number;
    let alpha = 255;
    const s = i * channels;
    if (colorType === 0 || colorType === 4) {
      r = g = b = pixels[s]!;
      if (colorType === 4) alpha = pixels[s + 1]!;
    } else if (colorType === 3) {
      const index = pixels[s]!;
      r = palette![index * 3] ?? 0;
      g = palette![index * 3 + 1] ?? 0;
      b = palette![index * 3 + 2] ?? 0;
      alpha = paletteAlpha?.[index] ?? 255;
    } else {
      r = pixels[s]!;
      g = pixels[s + 1]!;
      b = pixels[s + 2]!;
      if (colorType === 6) alpha = pixels[s + 3]!;
    }
    rgb[i * 3] = over(r, alpha);
    rgb[i * 3 + 1] = over(g, alpha);
    rgb[i * 3 + 2] = over(b, alpha);
  }
  return { width, height, rgb };
}
