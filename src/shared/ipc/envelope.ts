/**
 * Every answer that crosses a process boundary is an envelope, never a thrown
 * exception: a transport (IPC, HTTP) cannot carry an Error faithfully, and the
 * caller must always be able to tell "the service said no" from "it crashed".
 * Shape borrowed from Signal Desktop's SQL channel.
 */
export type ErrorCode =
  | 'BAD_REQUEST'
  | 'UNKNOWN_CHANNEL'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNAUTHORIZED'
  /** The workstation is locked: the host answers only the vault and the outbox until it is unlocked (issue 18). */
  | 'LOCKED'
  | 'SITE_AUTH_FAILED'
  | 'SITE_UNREACHABLE'
  | 'SITE_TIMEOUT'
  | 'SITE_ERROR'
  | 'INTERNAL';

export interface ServiceErrorInfo {
  code: ErrorCode;
  message: string;
}

export type Envelope<T> = { ok: true; value: T } | { ok: false; error: ServiceErrorInfo };

/** An error a service throws on purpose; its code and message reach the caller unchanged. */
export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

export function ok<T>(value: T): Envelope<T> {
  return { ok: true, value };
}

export function fail(code: ErrorCode, message: string): Envelope<never> {
  return { ok: false, error: { code, message } };
}

export function isEnvelope(x: unknown): x is Envelope<unknown> {
  if (typeof x !== 'object' || x === null || !('ok' in x)) return false;
  const e = x as { ok: unknown; error?: unknown };
  if (e.ok === true) return 'value' in x;
  return e.ok === false && typeof e.error === 'object' && e.error !== null;
}
