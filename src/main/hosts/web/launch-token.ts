import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The header that carries the launch token on every /api and /sites request. No cookie: cookies are not
 * port-scoped, so one set by this host would also go to any other server on 127.0.0.1 (issue 18). The
 * page keeps the token in memory (and its tab's sessionStorage, for reloads) and adds this header itself.
 */
export const TOKEN_HEADER = 'x-telerad-token';
/**
 * The URL fragment parameter of the link the host prints (`/#token=…`). A fragment is never sent in a
 * request, a Referer or a server log; the page reads it and replaces the history entry at once.
 */
export const TOKEN_FRAGMENT = 'token';

/** 32 random bytes, hex: new on every launch, so an old URL in a browser history is worthless. */
export function createLaunchToken(): string {
  return randomBytes(32).toString('hex');
}

/** Constant-time comparison, so response timing does not reveal how much of a guess was right. */
export function tokensMatch(candidate: string | undefined, token: string): boolean {
  if (candidate === undefined) return false;
  const a = Buffer.from(candidate, 'utf8');
  const b = Buffer.from(token, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether the request carries the token in its header; a cookie of any name is ignored. */
export function requestHasToken(req: IncomingMessage, token: string): boolean {
  const header = req.headers[TOKEN_HEADER];
  return typeof header === 'string' && tokensMatch(header, token);
}
