import type { DcmjsRuntime, RawDict, RawElement } from '../lib/dicom/dcmjs-runtime';
import type { JpegLsFrameCodec } from './jpegls-codec';
import { errorMessage } from '../../shared/error-message';

/**
 * Re-encodes a case's uncompressed images as JPEG-LS lossless before sending
 * (PS3.5 A.4.3, 1.2.840.10008.1.2.4.80): a CT from a CD shrinks to ≈ 0.4×,
 * which over a 10 Mbit/s link is the difference between 2 and 5 minutes.
 * Only the Pixel Data, its VR and the transfer syntax change; every other
 * attribute is written back as read. Lossless, so Lossy Image Compression is
 * left as it was (00 stays 00). Anything this cannot do losslessly and
 * exactly is sent as it is, with the reason.
 */

export const JPEG_LS_LOSSLESS = '1.2.840.10008.1.2.4.80';

const NATIVE_LITTLE_ENDIAN: Record<string, string> = {
  '1.2.840.10008.1.2': 'Implicit VR Little Endian',
  '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
};

const KNOWN_SYNTAX: Record<string, string> = {
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS near-lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.5': 'RLE lossless',
};

export interface TranscodeDeps {
  dcmjs: DcmjsRuntime;
  codec: JpegLsFrameCodec;
}

export interface TranscodeResult {
  bytes: ArrayBuffer;
  transcoded: boolean;
  /** Why it was sent as it is. */
  reason?: string;
}

const PIXEL_DATA = '7FE00010';

function first(dict: RawDict, tag: string): unknown {
  return dict[tag]?.Value?.[0];
}

function num(dict: RawDict, tag: string): number | undefined {
  const v = first(dict, tag);
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function str(dict: RawDict, tag: string): string | undefined {
  const v = first(dict, tag);
  return typeof v === 'string' ? v.replace(/\0/g, '').trim() : undefined;
}

/** The image's geometry, or why it cannot be re-encoded here. */
export interface PixelLayout {
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  planar: boolean;
  photometric: string;
  frameBytes: number;
}

export function pixelLayoutOf(dict: RawDict): PixelLayout | string {
  const rows = num(dict, '00280010');
  const columns = num(dict, '00280011');
  const samplesPerPixel = num(dict, '00280002') ?? 1;
  const bitsAllocated = num(dict, '00280100');
  const bitsStored = num(dict, '00280101') ?? bitsAllocated;
  const signed = (num(dict, '00280103') ?? 0) === 1;
  const planar = (num(dict, '00280006') ?? 0) === 1;
  const photometric = str(dict, '00280004') ?? '';
  const frames = Math.max(1, num(dict, '00280008') ?? 1);
  if (!rows || !columns || !bitsAllocated || !bitsStored) return 'its image attributes (Rows, Columns, Bits Allocated) are missing';
  if (bitsAllocated !== 8 && bitsAllocated !== 16) return `${bitsAllocated}-bit pixels are sent as they are`;
  if (bitsStored < 2 || bitsStored > bitsAllocated) return `Bits Stored ${bitsStored} does not fit Bits Allocated ${bitsAllocated}`;
  if (signed && bitsStored < bitsAllocated) return `signed pixels with Bits Stored ${bitsStored} < Bits Allocated ${bitsAllocated} are sent as they are`;
  if (samplesPerPixel === 1) {
    if (!['MONOCHROME1', 'MONOCHROME2', 'PALETTE COLOR'].includes(photometric)) return `photometric interpretation ${photometric || '(none)'} is sent as it is`;
  } else if (samplesPerPixel === 3) {
    if (!['RGB', 'YBR_FULL'].includes(photometric)) return `photometric interpretation ${photometric} is sent as it is`;
    if (bitsAllocated !== 8) return '16-bit colour is sent as it is';
  } else {
    return `${samplesPerPixel} samples per pixel are sent as they are`;
  }
  const frameBytes = rows * columns * samplesPerPixel * (bitsAllocated / 8);
  return { rows, columns, frames, samplesPerPixel, bitsAllocated, bitsStored, signed, planar, photometric, frameBytes };
}

/** A colour-by-plane frame (R…R G…G B…B) as pixel-interleaved RGBRGB…, the order Planar Configuration 0 states. */
function interleave(planes: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    out[p * 3] = planes[p]!;
    out[p * 3 + 1] = planes[pixels + p]!;
    out[p * 3 + 2] = planes[2 * pixels + p]!;
  }
  return out;
}

/** Unsigned samples above Bits Stored would be lost by an encoder working at that precision. */
function firstOverflow(frame: Uint8Array, layout: PixelLayout): number | undefined {
  if (layout.signed || layout.bitsStored === layout.bitsAllocated) return undefined;
  const max = 2 ** layout.bitsStored - 1;
  if (layout.bitsAllocated === 8) {
    for (const v of frame) if (v > max) return v;
    return undefined;
  }
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  for (let i = 0; i + 1 < frame.byteLength; i += 2) {
    const v = view.getUint16(i, true);
    if (v > max) return v;
  }
  return undefined;
}

function syntaxName(uid: string): string {
  return NATIVE_LITTLE_ENDIAN[uid] ?? KNOWN_SYNTAX[uid] ?? uid;
}

/**
 * One Part 10 file → the same instance in JPEG-LS lossless, or the file
 * unchanged with the reason (already compressed, a photo, no pixels…).
 * Every frame is decoded back by the codec and compared before it is used.
 */
export async function transcodeForSending(part10: ArrayBuffer, deps: TranscodeDeps): Promise<TranscodeResult> {
  const keep = (reason: string): TranscodeResult => ({ bytes: part10, transcoded: false, reason });
  let parsed: { meta: RawDict; dict: RawDict };
  try {
    parsed = deps.dcmjs.data.DicomMessage.readFile(part10, { ignoreErrors: false, untilTag: null, includeUntilTagValue: false });
  } catch (err) {
    return keep(`not readable as DICOM (${errorMessage(err)})`);
  }
  const { meta, dict } = parsed;
  const syntax = str(meta, '00020010') ?? '';
  const pixel = dict[PIXEL_DATA];
  if (!pixel) return keep('not an image (no Pixel Data)');
  if (!NATIVE_LITTLE_ENDIAN[syntax]) {
    return keep(syntax === JPEG_LS_LOSSLESS ? 'already JPEG-LS lossless' : `already in ${syntaxName(syntax)}`);
  }
  const layout = pixelLayoutOf(dict);
  if (typeof layout === 'string') return keep(layout);
  const raw = pixel.Value?.[0];
  if (!(raw instanceof ArrayBuffer)) return keep('its Pixel Data could not be read');
  if (raw.byteLength < layout.frameBytes * layout.frames) {
    return keep(`its Pixel Data holds ${raw.byteLength} bytes, ${layout.frameBytes * layout.frames} expected`);
  }

  const encoded: ArrayBuffer[] = [];
  for (let f = 0; f < layout.frames; f++) {
    let frame: Uint8Array = new Uint8Array(raw, f * layout.frameBytes, layout.frameBytes);
    if (layout.samplesPerPixel === 3 && layout.planar) frame = interleave(frame, layout.rows * layout.columns);
    const overflow = firstOverflow(frame, layout);
    if (overflow !== undefined) return keep(`a pixel value (${overflow}) exceeds Bits Stored ${layout.bitsStored}`);
    let out: Uint8Array;
    try {
      out = await deps.codec.encodeFrame(frame, {
        width: layout.columns,
        height: layout.rows,
        bitsPerSample: layout.bitsStored,
        componentCount: layout.samplesPerPixel,
        isSigned: layout.signed,
      });
    } catch (err) {
      return keep(`the JPEG-LS encoder failed on frame ${f + 1}: ${errorMessage(err)}`);
    }
    encoded.push(out.slice().buffer);
  }

  // dcmjs writes encapsulated Pixel Data for a compressed transfer syntax, with a Basic Offset Table; one fragment per frame.
  meta['00020010'] = { vr: 'UI', Value: [JPEG_LS_LOSSLESS] };
  const encapsulated: RawElement = { vr: 'OB', Value: encoded };
  dict[PIXEL_DATA] = encapsulated;
  if (layout.samplesPerPixel === 3) dict['00280006'] = { vr: 'US', Value: [0] };
  const DicomDict = deps.dcmjs.data.DicomDict;
  const out = new DicomDict(meta);
  out.dict = dict;
  const bytes = out.write({ fragmentMultiframe: false });
  if (bytes.byteLength >= part10.byteLength) {
    return keep(`JPEG-LS would not make it smaller (${bytes.byteLength} ≥ ${part10.byteLength} bytes)`);
  }
  return { bytes, transcoded: true };
}
