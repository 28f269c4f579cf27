import type { OutboxJobRecord, TeleradDB } from '../cache/telerad-db';
import { readOpenableRows } from '../cache/sealing/openable-rows';

/**
 * The outbox's read API for modules outside `outbox/` (reports, case thread,
 * referral cases): they learn what a job carries and how far its delivery got
 * through these functions only, and never name the table. The database is an
 * argument, so a Dexie live query that calls one of these observes the table.
 */

/** One job, bytes included (a signed report's PDF, a note's SR before delivery); undefined once cleared. */
export function findOutboxJob(db: TeleradDB, id: string): Promise<OutboxJobRecord | undefined> {
  return db.outboxJobs.get(id);
}

/** Jobs by id, in the order asked; undefined for a job no longer there. */
export function findOutboxJobs(db: TeleradDB, ids: readonly string[]): Promise<(OutboxJobRecord | undefined)[]> {
  return db.outboxJobs.bulkGet([...ids]);
}

/** What a job is for and how far its delivery got, without its bytes. */
export type OutboxJobDelivery = Pick<OutboxJobRecord, 'kind' | 'siteId' | 'studyInstanceUID' | 'state'>;

/** Every job's delivery state (metadata only: the bytes of every queued job need not be kept). */
export async function outboxJobDeliveries(db: TeleradDB): Promise<OutboxJobDelivery[]> {
  // A job that fails its integrity check says nothing about deliveries (the outbox panel shows it).
  // Read row by row (each), keeping the metadata only: the bytes of every queued job need not be held at once.
  const delivery = (j: OutboxJobRecord): OutboxJobDelivery => ({ kind: j.kind, siteId: j.siteId, studyInstanceUID: j.studyInstanceUID, state: j.state });
  const { rows } = await readOpenableRows({
    readAll: async () => {
      const jobs: OutboxJobDelivery[] = [];
      await db.outboxJobs.each((j) => void jobs.push(delivery(j)));
      return jobs;
    },
    readKeys: () => db.outboxJobs.toCollection().primaryKeys(),
    readOne: async (key) => {
      const j = await db.outboxJobs.get(key as string);
      return j && delivery(j);
    },
  });
  return rows;
}

/** A job without its instances' bytes. */
export type OutboxJobMeta = Omit<OutboxJobRecord, 'instances'>;

/** The jobs of one study, bytes left out. */
export async function studyOutboxJobs(db: TeleradDB, studyInstanceUID: string): Promise<OutboxJobMeta[]> {
  const jobs: OutboxJobMeta[] = [];
  await db.outboxJobs
    .where('studyInstanceUID')
    .equals(studyInstanceUID)
    .each(({ instances: _bytes, ...meta }) => void jobs.push(meta));
  return jobs;
}

/** Whether a job of the study is not yet sent (stops at the first one). */
export async function studyHasUnsentOutboxJob(db: TeleradDB, studyInstanceUID: string): Promise<boolean> {
  let unsent = false;
  await db.outboxJobs
    .where('studyInstanceUID')
    .equals(studyInstanceUID)
    .until(() => unsent)
    .each((j) => void (unsent ||= j.state !== 'sent'));
  return unsent;
}
