/**
 * The one Content-Security-Policy of the renderer, sent by both hosts as a
 * response header. 'wasm-unsafe-eval' is needed by the image loader's WASM
 * codecs (JPEG-LS, JPEG 2000); workers are loaded from the app's own origin
 * or from blob: URLs the loader makes. Everything else is same-origin only:
 * the renderer reaches sites solely through the gateway under /sites/.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
