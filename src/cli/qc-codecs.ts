// Decoders for compressed pixel data in Node: the same WASM codecs the
// viewer's image loader uses (CharLS for JPEG-LS, OpenJPEG for JPEG 2000,
// libjpeg-turbo for 8-bit JPEG baseline), loaded once from node_modules, and
// RLE lossless (PackBits, PS3.5 Annex G) decoded here for grayscale images.
// Syntaxes without one (12-bit JPEG extended, JPEG lossless) are reported as
// "pixel checks skipped".
import { createRequire } from 'node:module';

export interface DecodedFrame {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  /** Little-endian samples, as the codec wrote them. */
  bytes: Uint8Array;
}

/** The embind decoder shape the three codec builds share. */
interface EmbindDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number };
  delete(): void;
}
/** The Emscripten module options the codecs take: where their C printf/fprintf lines go. */
interface EmscriptenOptions {
  print(text: string): void;
  printErr(text: string): void;
}
type CodecFactory = (options?: EmscriptenOptions) => Promise<Record<string, new () => EmbindDecoder>>;

/** Receives one line the codecs print (OpenJPEG's [INFO]/[ERROR] messages, say). */
export type CodecOutput = (line: string) => void;

const toStderr: CodecOutput = (line) => {
  process.stderr.write(`${line}\n`);
};

/** What the header says of the frame: RLE's codestream does not carry it. */
export interface FrameGeometry {
  rows: number;
  columns: number;
  bitsAllocated: number;
}

export type FrameDecoder = (encoded: Uint8Array, geometry: FrameGeometry) => DecodedFrame;
/** Transfer syntax UID → decoder. */
export type Decoders = ReadonlyMap<string, FrameDecoder>;

function wrap(Decoder: new () => EmbindDecoder): FrameDecoder {
  const decoder = new Decoder();
  return (encoded) => {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.decode();
    const info = decoder.getFrameInfo();
    // The decoded buffer lives in WASM memory and is reused by the next decode: copy it out.
    return { width: info.width, height: info.height, bitsPerSample: info.bitsPerSample, componentCount: info.componentCount, bytes: decoder.getDecodedBuffer().slice() };
  };
}

/**
 * RLE lossless, one grayscale frame: a 64-byte header (segment count, 15
 * offsets), one PackBits segment per byte of the sample, most significant byte
 * first; the output is little-endian like the WASM codecs'.
 */
export function decodeRleFrame(encoded: Uint8Array, g: FrameGeometry): DecodedFrame {
  if (encoded.length < 64) throw new Error(`RLE: ${encoded.length} bytes is shorter than the 64-byte header`);
  const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  const segments = view.getUint32(0, true);
  const bytesPer = g.bitsAllocated / 8;
  if (segments !== bytesPer) throw new Error(`RLE: ${segments} segments for ${g.bitsAllocated}-bit grayscale`);
  const n = g.rows * g.columns;
  // PackBits expands at most 64× (2 bytes → 128): a header promising more than that is lying, and must not size the allocation.
  if (n * bytesPer > encoded.length * 64) throw new Error(`RLE: ${g.rows}×${g.columns} cannot come from ${encoded.length} bytes`);
  const out = new Uint8Array(n * bytesPer);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : encoded.length;
    // Segment 0 holds the most significant bytes; little-endian output puts them last.
    let o = bytesPer - 1 - s;
    let p = start;
    let written = 0;
    while (p < end && written < n) {
      const h = (encoded[p++]! << 24) >> 24;
      if (h >= 0) {
        for (let k = 0; k <= h && written < n; k++, written++, o += bytesPer) out[o] = encoded[p++]!;
      } else if (h !== -128) {
        const v = encoded[p++]!;
        for (let k = 0; k < 1 - h && written < n; k++, written++, o += bytesPer) out[o] = v;
      }
    }
    if (written < n) throw new Error(`RLE: segment ${s + 1} holds ${written} of ${n} bytes`);
  }
  return { width: g.columns, height: g.rows, bitsPerSample: g.bitsAllocated, componentCount: 1, bytes: out };
}

/**
 * Loads the codecs; one that fails to load is left out (its syntaxes are then skipped, not fatal).
 * Their messages go to `output`, stderr unless told otherwise: Emscripten's default `print` is
 * console.log, and `qc --json` promises nothing but JSON on stdout.
 */
export async function loadDecoders(output: CodecOutput = toStderr): Promise<Decoders> {
  const require = createRequire(import.meta.url);
  const out = new Map<string, FrameDecoder>([['1.2.840.10008.1.2.5', decodeRleFrame]]);
  const load = async (pkg: string, className: string, syntaxes: string[]): Promise<void> => {
    try {
      const factory = require(pkg) as CodecFactory;
      // Both streams: OpenJPEG prints its [ERROR] lines through print (stdout), not printErr.
      const module = await factory({ print: output, printErr: output });
      const Decoder = module[className];
      if (!Decoder) return;
      const decode = wrap(Decoder);
      for (const s of syntaxes) out.set(s, decode);
    } catch {
      // Without this codec its syntaxes are reported as skipped.
    }
  };
  await load('@cornerstonejs/codec-charls/decodewasmjs', 'JpegLSDecoder', ['1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.81']);
  await load('@cornerstonejs/codec-openjpeg/decodewasmjs', 'J2KDecoder', ['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91']);
  await load('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', 'JPEGDecoder', ['1.2.840.10008.1.2.4.50']);
  return out;
}
