// The JPEG-LS encoder worker. Built on its own (vite.config.ts) into
// assets/<JPEGLS_ENCODER_WORKER_FILE>, its WASM next to it, and served with
// the decode worker's policy (src/shared/csp.ts): CharLS's embind glue calls
// `new Function`, which only this worker's policy allows — the page's never.
import charlsFactory from '@cornerstonejs/codec-charls/wasmjs';
import { JPEGLS_ENCODER_WASM_FILE } from '../../shared/csp';
import { encodeFrameWithCharls } from './jpegls-codec';
import type { CharlsModule, EncoderRequest, EncoderResponse } from './jpegls-codec';
import { errorMessage } from '../../shared/error-message';

interface WorkerScope {
  location: { href: string };
  addEventListener(type: 'message', listener: (ev: MessageEvent<EncoderRequest>) => void): void;
  postMessage(message: EncoderResponse, transfer?: Transferable[]): void;
}

const scope = self as unknown as WorkerScope;
let charls: Promise<CharlsModule> | undefined;
const ready = (): Promise<CharlsModule> =>
  (charls ??= charlsFactory({ locateFile: () => new URL(JPEGLS_ENCODER_WASM_FILE, scope.location.href).href }) as Promise<CharlsModule>);

scope.addEventListener('message', (ev) => {
  const { id, pixels, info } = ev.data;
  ready()
    .then((m) => {
      const encoded = encodeFrameWithCharls(m, pixels, info);
      scope.postMessage({ id, ok: true, encoded }, [encoded.buffer as ArrayBuffer]);
    })
    .catch((err: unknown) => scope.postMessage({ id, ok: false, error: errorMessage(err) }));
});
