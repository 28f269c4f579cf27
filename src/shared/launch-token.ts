/**
 * How the browser host's launch token travels, for both sides (main's hosts/web/launch-token.ts checks
 * it, the renderer's app/launch-token.ts sends it). Electron uses neither: its IPC needs no token.
 */

/**
 * The header that carries the launch token on every /api and /sites request. No cookie: cookies are not
 * port-scoped, so one set by the host would also go to any other server on 127.0.0.1 (issue 18).
 */
export const LAUNCH_TOKEN_HEADER = 'x-telerad-token';

/**
 * The URL fragment parameter of the link the host prints (`/#token=…`). A fragment is never sent in a
 * request, a Referer or a server log; the page reads it and replaces the history entry at once.
 */
export const LAUNCH_TOKEN_FRAGMENT = 'token';
