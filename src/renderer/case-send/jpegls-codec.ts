/**
 * The JPEG-LS encoder seam. CharLS (@cornerstonejs/codec-charls, WASM via
 * Emscripten) does the work; its embind glue calls `new Function`, which the
 * page's CSP forbids, so in the app it runs in its own worker
 * (jpegls-encoder.worker.ts, served with the decode worker's policy) and the
 * page talks to it through `createWorkerFrameCodec`. Node tests and the bench
 * use `createCharlsFrameCodec` directly.
 */

export interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned: boolean;
}

export interface JpegLsFrameCodec {
  /** One frame (little-endian samples, colour pixel-interleaved) → a lossless JPEG-LS bit stream, checked by decoding it back. */
  encodeFrame(pixels: Uint8Array, info: FrameInfo): Promise<Uint8Array>;
}

/** The part of the CharLS Emscripten module used here. */
export interface CharlsModule {
  JpegLSEncoder: new () => {
    getDecodedBuffer(info: FrameInfo): Uint8Array;
    setNearLossless(n: number): void;
    setInterleaveMode(mode: number): void;
    encode(): void;
    getEncodedBuffer(): Uint8Array;
    delete(): void;
  };
  JpegLSDecoder: new () => {
    getEncodedBuffer(length: number): Uint8Array;
    decode(): void;
    getDecodedBuffer(): Uint8Array;
    delete(): void;
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Encodes and verifies synchronously (in a worker, or in Node). Throws when the round trip is not exact. */
export function encodeFrameWithCharls(charls: CharlsModule, pixels: Uint8Array, info: FrameInfo): Uint8Array {
  const encoder = new charls.JpegLSEncoder();
  let encoded: Uint8Array;
  try {
    const input = encoder.getDecodedBuffer(info);
    if (input.byteLength !== pixels.byteLength) throw new Error(`frame holds ${pixels.byteLength} bytes, the encoder expects ${input.byteLength}`);
    input.set(pixels);
    encoder.setNearLossless(0);
    // Colour samples pixel by pixel (ILV=2, "sample"), the order Planar Configuration 0 states.
    if (info.componentCount > 1) encoder.setInterleaveMode(2);
    encoder.encode();
    encoded = encoder.getEncodedBuffer().slice();
  } finally {
    encoder.delete();
  }
  const decoder = new charls.JpegLSDecoder();
  try {
    decoder.getEncodedBuffer(encoded.byteLength).set(encoded);
    decoder.decode();
    if (!sameBytes(decoder.getDecodedBuffer(), pixels)) throw new Error('the decoded frame differs from the original');
  } finally {
    decoder.delete();
  }
  return encoded;
}

export function createCharlsFrameCodec(charls: CharlsModule): JpegLsFrameCodec {
  return { encodeFrame: async (pixels, info) => encodeFrameWithCharls(charls, pixels, info) };
}

/** Messages between the page and the encoder worker. */
export type EncoderRequest = { id: number; pixels: Uint8Array; info: FrameInfo };
export type EncoderResponse = { id: number; ok: true; encoded: Uint8Array } | { id: number; ok: false; error: string };

export interface WorkerLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent) => void): void;
  addEventListener(type: 'error', listener: (ev: ErrorEvent) => void): void;
  terminate(): void;
}

/**
 * The page side of the encoder worker: one worker, requests matched by id.
 * `startWorker` is the composition root's `() => new Worker(url)` for
 * `assets/<JPEGLS_ENCODER_WORKER_FILE>`; started on first use.
 */
export function createWorkerFrameCodec(startWorker: () => WorkerLike): JpegLsFrameCodec & { dispose(): void } {
  let worker: WorkerLike | undefined;
  let seq = 0;
  const waiting = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
  const failAll = (why: string): void => {
    for (const w of waiting.values()) w.reject(new Error(why));
    waiting.clear();
    worker?.terminate();
    worker = undefined;
  };
  const get = (): WorkerLike => {
    if (worker) return worker;
    const w = startWorker();
    w.addEventListener('message', (ev: MessageEvent) => {
      const msg = ev.data as EncoderResponse;
      const entry = waiting.get(msg.id);
      if (!entry) return;
      waiting.delete(msg.id);
      if (msg.ok) entry.resolve(msg.encoded);
      else entry.reject(new Error(msg.error));
    });
    w.addEventListener('error', (ev: ErrorEvent) => failAll(`the JPEG-LS encoder worker failed: ${ev.message || 'could not start'}`));
    worker = w;
    return w;
  };
  return {
    encodeFrame(pixels, info) {
      const id = ++seq;
      return new Promise<Uint8Array>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        // A copy: the caller's frame is a view into the file it still owns.
        const copy = pixels.slice();
        const request: EncoderRequest = { id, pixels: copy, info };
        get().postMessage(request, [copy.buffer]);
      });
    },
    dispose() {
      failAll('the JPEG-LS encoder was closed');
    },
  };
}
