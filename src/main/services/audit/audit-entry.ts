import type { AuditEvent } from '../../../shared/ipc/contract';

/** An event before main stamps it: everything but seq, time and the chain. */
export type AuditEntry = Omit<AuditEvent, 'seq' | 'at' | 'prev' | 'hash'>;

/** What main records from what it sees itself; the actor is always "system". */
export type SystemAuditEntry = Omit<AuditEntry, 'actor' | 'source'>;
