import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The cookie that carries the launch token after the first visit; HttpOnly so page scripts never see it. */
export const TOKEN_COOKIE = 'telerad_token';
/** The header a non-browser client (a test, a script) may send instead of the cookie. */
export const TOKEN_HEADER = 'x-telerad-token';
/** The query parameter of the URL the host prints; exchanged for the cookie, then removed by a redirect. */
export const TOKEN_QUERY = 'token';

/** 32 random bytes, hex: new on every launch, so an old URL in a browser history is worthless. */
export function createLaunchToken(): string {
  return randomBytes(32).toString('hex');
}

export function tokenCookie(token: string): string {
  return `${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}

/** Constant-time comparison, so response timing does not reveal how much of a guess was right. */
export function tokensMatch(candidate: string | undefined, token: string): boolean {
  if (candidate === undefined) return false;
  const a = Buffer.from(candidate, 'utf8');
  const b = Buffer.from(token, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieValue(header: string | undefined, name: string): string[] {
  if (!header) return [];
  return header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${name}=`))
    .map((part) => part.slice(name.length + 1));
}

/**
 * Whether the request carries the token in the header or the cookie. Every
 * cookie of that name is tried: cookies are not port-scoped, so a browser may
 * also hold one from another instance of the host on a different port.
 */
export function requestHasToken(req: IncomingMessage, token: string): boolean {
  const header = req.headers[TOKEN_HEADER];
  if (typeof header === 'string' && tokensMatch(header, token)) return true;
  return cookieValue(req.headers.cookie, TOKEN_COOKIE).some((value) => tokensMatch(value, token));
}
