import type { Transaction } from 'dexie';
import type { OutboxInstance, OutboxJobRecord, QualityOverride } from '../cache/telerad-db';

/**
 * How a producer (signing a report, sending a referral case, a note on a case
 * thread) puts a delivery into the outbox: inside its own Dexie transaction,
 * so the report, the case or the note and the job that carries it are written
 * together or not at all. The outbox owns `outboxJobs`: this is the only way
 * a job is created, and no module outside `outbox/` writes the table.
 */

/** The table a producer names in its transaction's scope (a name, so the producer never holds the table). */
export const OUTBOX_TABLE = 'outboxJobs';

/** What a producer says about a delivery; the outbox fills in its state. */
export interface NewOutboxJob {
  id: string;
  siteId: string;
  studyInstanceUID: string;
  kind: OutboxJobRecord['kind'];
  reportId?: string;
  label: string;
  /** In sending order (attachments before the note that points at them). */
  instances: ReadonlyArray<Pick<OutboxInstance, 'sopInstanceUID' | 'sopClassUID' | 'seriesInstanceUID' | 'bytes'>>;
  qualityOverride?: QualityOverride;
  /** Epoch ms: written, and due, at once. */
  createdAt: number;
}

/**
 * Adds the job in `tx` (which must have `OUTBOX_TABLE` in its scope, read-write).
 * The scheduler is woken once `tx` commits: a transaction that aborts leaves
 * no job and wakes nothing. Offline, the job simply waits; the scheduler's
 * 'online' wake sends it.
 */
export type EnqueueOutboxJob = (tx: Transaction, job: NewOutboxJob) => Promise<OutboxJobRecord>;

/** `wake`: the scheduler's "look for due jobs now" (late-bound by the composition root). */
export function createOutboxEnqueue(wake: () => void): EnqueueOutboxJob {
  return async (tx, job) => {
    const record: OutboxJobRecord = {
      id: job.id,
      siteId: job.siteId,
      studyInstanceUID: job.studyInstanceUID,
      kind: job.kind,
      ...(job.reportId ? { reportId: job.reportId } : {}),
      label: job.label,
      instances: job.instances.map((i) => ({ sopInstanceUID: i.sopInstanceUID, sopClassUID: i.sopClassUID, seriesInstanceUID: i.seriesInstanceUID, bytes: i.bytes, state: 'pending' })),
      state: 'queued',
      attempts: 0,
      nextAttemptAt: job.createdAt,
      uncertain: false,
      createdAt: job.createdAt,
      updatedAt: job.createdAt,
      ...(job.qualityOverride ? { qualityOverride: job.qualityOverride } : {}),
    };
    await tx.table<OutboxJobRecord, string>(OUTBOX_TABLE).add(record);
    tx.on('complete', () => wake());
    return record;
  };
}
