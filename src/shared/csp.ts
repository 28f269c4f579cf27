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
 *
 * 'self' also covers /sites/, where the gateway answers with what a site
 * sent (issue 18): the app never frames anything, so frames are refused
 * outright, and contentSecurityPolicyFor adds, for a known origin, a second
 * policy that keeps scripts, styles and workers to the app's own /assets/.
 * Images and fetches stay 'self': the viewer reads pixels through /sites/.
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
  "frame-src 'none'",
  "child-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The policy of every gateway answer, and of every other response that is
 * not one of the app's own files: should a browser ever treat one as a
 * document (a navigation, a frame), it is a sandboxed page of an opaque
 * origin that can load and run nothing, so a site's answer never runs as the
 * app.
 */
export const GATEWAY_ANSWER_CONTENT_SECURITY_POLICY = "sandbox; default-src 'none'";

/** The folder the renderer build puts every script, style sheet and worker in (vite.config.ts, Vite's default). */
export const RENDERER_ASSETS_PATH = '/assets/';

/** An origin as the hosts serve it: scheme, host and an optional port, nothing a policy could be smuggled in. */
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[a-z0-9.-]+(?::\d{1,5})?$/i;

/**
 * The second policy of the page, for its exact origin. A CSP source cannot
 * name a path without a host, and the browser host's port is only known at
 * run time, so this one is built per origin; the browser enforces both
 * policies, so a script must be same-origin ('self' of the first) and under
 * /assets/ (this one) — never under /sites/.
 */
function assetsOnlyPolicy(origin: string): string {
  const assets = `${origin}${RENDERER_ASSETS_PATH}`;
  return [`script-src ${assets} 'wasm-unsafe-eval'`, `style-src ${assets}`, `worker-src ${assets}`].join('; ');
}

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

/**
 * The policy for a response of the renderer's origin, by its URL path. Given
 * the origin it is served on (`url.origin`, or `telerad://app`), a page also
 * gets the policy that keeps its scripts, styles and workers to /assets/.
 */
export function contentSecurityPolicyFor(pathname: string, origin?: string): string {
  if (pathname.endsWith(`/${DECODE_WORKER_FILE}`) || pathname.endsWith(`/${JPEGLS_ENCODER_WORKER_FILE}`)) {
    return DECODE_WORKER_CONTENT_SECURITY_POLICY;
  }
  // Comma-separated policies are all enforced (CSP3 §3.1): the first as before, the second narrowing it.
  return origin !== undefined && ORIGIN.test(origin) ? `${CONTENT_SECURITY_POLICY}, ${assetsOnlyPolicy(origin)}` : CONTENT_SECURITY_POLICY;
}
