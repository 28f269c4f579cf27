/**
 * The Content-Security-Policy of the renderer, sent by both hosts as a
 * response header. Everything is same-origin: the renderer reaches sites
 * solely through the gateway under /sites/.
 *
 * Workers may come only from the app's own files ('self'), not from blob: or
 * data: URLs. That is deliberate: the image loader would start its decode
 * workers from an inline blob, which inherits this policy (no eval) and which
 * Chromium refuses only asynchronously, with no fallback; the viewer's
 * cornerstone-setup.ts swaps that URL for the loader's worker file
 * (DECODE_WORKER_FILE, copied next to the bundle at build time) while the
 * loader starts its workers. A worker loaded from a URL gets the policy of its own response, so
 * the worker — and only the worker — can be given the 'unsafe-eval' that the
 * Emscripten/embind glue of its WASM codecs (JPEG-LS, JPEG 2000) needs, while
 * the page itself keeps a policy with no eval at all.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** cornerstone-wado-image-loader's standalone decode worker, served from the renderer's assets folder. */
export const DECODE_WORKER_FILE = 'index.worker.bundle.min.worker.js';

/**
 * The JPEG-LS encoder worker (sending a case compressed) and its WASM, built
 * into the renderer's assets folder. Its CharLS glue needs eval like the
 * decode worker's codecs, so it gets the same policy.
 */
export const JPEGLS_ENCODER_WORKER_FILE = 'jpegls-encoder.worker.js';
export const JPEGLS_ENCODER_WASM_FILE = 'jpegls-encoder.wasm';

/** The decode worker's own policy: no network but the app, eval for the codecs' embind glue. */
export const DECODE_WORKER_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'",
  "connect-src 'self' data: blob:",
].join('; ');

/** The policy for a response of the renderer's origin, by its URL path. */
export function contentSecurityPolicyFor(pathname: string): string {
  return pathname.endsWith(`/${DECODE_WORKER_FILE}`) || pathname.endsWith(`/${JPEGLS_ENCODER_WORKER_FILE}`)
    ? DECODE_WORKER_CONTENT_SECURITY_POLICY
    : CONTENT_SECURITY_POLICY;
}
