import type { AuditEvent } from '../../../shared/ipc/contract';

/** An event before main stamps it: everything but seq, time and the chain. */
export type AuditEntry = Omit<AuditEvent, 'seq' | 'at' | 'prev' | 'hash'>;

/** What main records from what it sees itself; the actor is always "system". */
export type SystemAuditEntry = Omit<AuditEntry, 'actor' | 'source'>;

/**
 * A line as main's readers hand it out: its sealed clinical fields opened.
 * `sealedState` says when they could not be: `waiting-for-unlock` before the
 * first unlock of the run (the private key is not in memory yet), and
 * `cannot-open` when it is but the sealed part is sealed to another key or
 * does not open (changed outside the app); the clinical fields are then absent.
 */
export type AuditReadEvent = AuditEvent & { sealedState?: 'waiting-for-unlock' | 'cannot-open' };
