import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LAUNCH_TOKEN_HEADER } from '../../../shared/launch-token';

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

/** Why a request is refused, as the audit trail records it (never the value that was tried). */
export const LAUNCH_REFUSAL = {
  absent: 'request without the launch token',
  wrong: 'wrong launch token',
} as const;

/**
 * Undefined when the request carries the launch token in its header; otherwise why not. A cookie of any
 * name is ignored (see LAUNCH_TOKEN_HEADER).
 */
export function launchRefusal(req: IncomingMessage, expected: string): string | undefined {
  const sent = req.headers[LAUNCH_TOKEN_HEADER];
  if (typeof sent !== 'string') return LAUNCH_REFUSAL.absent;
  return tokensMatch(sent, expected) ? undefined : LAUNCH_REFUSAL.wrong;
}
