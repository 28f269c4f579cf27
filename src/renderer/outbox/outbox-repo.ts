import type { OutboxInstance, OutboxJobRecord, TeleradDB } from '../cache/telerad-db';
import { isSealedRowError } from '../cache/sealing/row-sealer';
import type { SealedRowError } from '../cache/sealing/row-sealer';
import { readOpenableRows } from '../cache/sealing/openable-rows';

/**
 * The outbox's durable state in Dexie `outboxJobs` (schema v5). Every state
 * change is one transaction that re-reads the job first, so two schedulers
 * (two tabs, or a reloaded page next to a dying one) never both send a job.
 */

/** Never again on its own: the site refused the data itself; only the user's "retry now" sends it again. */
export const ONLY_BY_USER = Number.MAX_SAFE_INTEGER;

export type InstanceResult = { state: 'stored' } | { state: 'failed'; error: string };

export interface OutboxRepo {
  get(id: string): Promise<OutboxJobRecord | undefined>;
  /** Jobs whose time has come (queued, or failed and waiting), oldest due first; `skip`: ids not to read. */
  due(now: number, skip?: ReadonlySet<string>): Promise<OutboxJobRecord[]>;
  /** The earliest future attempt among waiting jobs; undefined when none waits. */
  nextDueAt(): Promise<number | undefined>;
  /** Every job, newest first, for the panel. */
  list(): Promise<OutboxJobRecord[]>;
  /**
   * Marks a due job 'sending' before its request goes out, counting the
   * attempt. Undefined when it is no longer due (sent meanwhile, claimed by
   * another scheduler, retried later by the user).
   */
  claim(id: string, now: number): Promise<OutboxJobRecord | undefined>;
  /** Records per-instance answers (and whether some outcome is still unknown) without changing the job state. */
  recordInstances(id: string, results: ReadonlyMap<string, InstanceResult>, now: number, uncertain?: boolean): Promise<OutboxJobRecord | undefined>;
  markSent(id: string, now: number): Promise<OutboxJobRecord | undefined>;
  /** The STOW answer and, when every instance is stored, 'sent' — in one transaction. */
  recordAnswer(id: string, results: ReadonlyMap<string, InstanceResult>, now: number, uncertain: boolean): Promise<OutboxJobRecord | undefined>;
  /** `countAttempt`: the failure was a request of its own (the check before a send), not the send claim() counted. */
  markFailed(id: string, f: { error: string; nextAttemptAt: number; uncertain: boolean; now: number; countAttempt?: boolean }): Promise<OutboxJobRecord | undefined>;
  /** Jobs left 'sending' by an app that died mid-request: their outcome is unknown; due now. Returns how many. */
  recoverInterrupted(now: number): Promise<number>;
  /** "Retry now": due at once (a sent or sending job is left alone). */
  makeDue(id: string, now: number): Promise<boolean>;
  /** The site answers again: its failed jobs that wait for a time (not for the user) are due at once. Returns how many. */
  makeSiteDue(siteId: string, now: number): Promise<number>;
}

const WAITING = new Set<OutboxJobRecord['state']>(['queued', 'failed']);

/**
 * A job whose stored row failed its integrity check (issue 18: a clear field such as its site edited on
 * disk, an older copy put back, a row without its sealed envelope): never sent, never changed, never
 * deleted — kept as it is on disk so it can be inspected.
 */
export interface RefusedOutboxJob {
  id: string;
  /** For the panel, in plain words. */
  reason: string;
  /** What the sealing layer found, for the log and the audit trail. */
  detail: string;
  /** Its clear fields as found on disk: not trusted (they may be what was edited), only to help find it. */
  found: { kind?: string; siteId?: string; studyInstanceUID?: string; createdAt?: number };
}

export function refusedOutboxJob(id: string, err: SealedRowError): RefusedOutboxJob {
  const f = err.found ?? {};
  const text = (v: unknown): string | undefined => (typeof v === 'string' ? v.slice(0, 200) : undefined);
  const kind = text(f.kind);
  const what = kind === 'referral' ? 'This referral' : 'This report';
  const found: RefusedOutboxJob['found'] = {};
  if (kind !== undefined) found.kind = kind;
  const siteId = text(f.siteId);
  if (siteId !== undefined) found.siteId = siteId;
  const study = text(f.studyInstanceUID);
  if (study !== undefined) found.studyInstanceUID = study;
  if (typeof f.createdAt === 'number') found.createdAt = f.createdAt;
  return { id, reason: `${what} was changed outside the app and was not sent`, detail: err.message, found };
}

export interface OutboxRepoOptions {
  /** Told of every read of a job whose row failed its integrity check; the job is left out of what the read returns. */
  onRefused?: (job: RefusedOutboxJob) => void;
}

export function createOutboxRepo(db: TeleradDB, options: OutboxRepoOptions = {}): OutboxRepo {
  const table = db.outboxJobs;
  /** A row that does not open is never acted on: told to onRefused, read as absent. Other errors go on. */
  const refused = (id: string, err: unknown): undefined => {
    if (!isSealedRowError(err)) throw err;
    options.onRefused?.(refusedOutboxJob(id, err));
    return undefined;
  };
  const getChecked = (id: string): Promise<OutboxJobRecord | undefined> => table.get(id).catch((err: unknown) => refused(id, err));
  /**
   * Jobs by key in one read (one transaction); only when a row fails its check, each on its own (getChecked
   * tells onRefused), so one that fails does not hide the others.
   */
  const getMany = async (ids: readonly string[]): Promise<OutboxJobRecord[]> => {
    const { rows } = await readOpenableRows<OutboxJobRecord | undefined>({
      readAll: () => table.bulkGet([...ids]),
      readKeys: async () => ids,
      readOne: (id) => getChecked(id as string),
    });
    return rows.filter((j): j is OutboxJobRecord => j !== undefined);
  };
  /** Read-modify-write of one job in one transaction; `change` returns false to leave it as it is. */
  const update = (id: string, change: (job: OutboxJobRecord) => boolean): Promise<OutboxJobRecord | undefined> =>
    db.transaction('rw', table, async () => {
      const job = await table.get(id).catch((err: unknown) => refused(id, err));
      if (!job || !change(job)) return undefined;
      await table.put(job);
      return job;
    });
  /** `change` applied to each of `ids`, one transaction each; how many changed. */
  const updateEach = async (ids: readonly string[], change: (job: OutboxJobRecord) => boolean): Promise<number> =>
    (await Promise.all(ids.map((id) => update(id, change)))).filter((j) => j !== undefined).length;

  const applyResults = (job: OutboxJobRecord, results: ReadonlyMap<string, InstanceResult>): void => {
    job.instances = job.instances.map((i): OutboxInstance => {
      const r = results.get(i.sopInstanceUID);
      if (!r || i.state === 'stored') return i;
      if (r.state === 'stored') {
        const { error: _dropped, ...rest } = i;
        return { ...rest, state: 'stored' };
      }
      return { ...i, state: 'failed', error: r.error };
    });
  };

  return {
    get: getChecked,
    async due(now, skip = new Set<string>()) {
      // Keys first (no Part 10 bytes read), then only the jobs not already in hand.
      const waiting = new Set(await table.where('state').anyOf([...WAITING]).primaryKeys());
      const dueIds = (await table.where('nextAttemptAt').belowOrEqual(now).primaryKeys()).filter((id) => waiting.has(id) && !skip.has(id));
      const rows = (await getMany(dueIds)).filter((j) => WAITING.has(j.state));
      return rows.sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.createdAt - b.createdAt);
    },
    async nextDueAt() {
      const waiting = new Set(await table.where('state').anyOf([...WAITING]).primaryKeys());
      let next: number | undefined;
      // The index walks in time order, keys only: the first waiting job is the earliest.
      await table.orderBy('nextAttemptAt').eachPrimaryKey((id, cursor) => {
        const at = cursor.key as number;
        if (next === undefined && waiting.has(id) && at < ONLY_BY_USER) next = at;
      });
      return next;
    },
    async list() {
      // One row that does not open: the others still show and the bad one is named (getChecked tells onRefused).
      const { rows } = await readOpenableRows<OutboxJobRecord | undefined>({
        readAll: () => table.toArray(),
        readKeys: () => table.toCollection().primaryKeys(),
        readOne: (id) => getChecked(id as string),
      });
      return rows.filter((j): j is OutboxJobRecord => j !== undefined).sort((a, b) => b.createdAt - a.createdAt);
    },
    claim: (id, now) =>
      update(id, (job) => {
        if (!WAITING.has(job.state) || job.nextAttemptAt > now) return false;
        job.state = 'sending';
        job.attempts += 1;
        job.updatedAt = now;
        return true;
      }),
    recordInstances: (id, results, now, uncertain) =>
      update(id, (job) => {
        applyResults(job, results);
        if (uncertain !== undefined) job.uncertain = uncertain;
        job.updatedAt = now;
        return true;
      }),
    markSent: (id, now) =>
      update(id, (job) => {
        if (job.state === 'sent') return false;
        job.state = 'sent';
        job.sentAt = now;
        job.uncertain = false;
        delete job.lastError;
        job.updatedAt = now;
        return true;
      }),
    recordAnswer: (id, results, now, uncertain) =>
      update(id, (job) => {
        applyResults(job, results);
        job.uncertain = uncertain;
        job.updatedAt = now;
        if (job.state !== 'sent' && job.instances.every((i) => i.state === 'stored')) {
          job.state = 'sent';
          job.sentAt = now;
          delete job.lastError;
        }
        return true;
      }),
    markFailed: (id, f) =>
      update(id, (job) => {
        if (job.state === 'sent') return false;
        job.state = 'failed';
        if (f.countAttempt) job.attempts += 1;
        job.lastError = f.error;
        job.nextAttemptAt = f.nextAttemptAt;
        job.uncertain = f.uncertain;
        job.updatedAt = f.now;
        return true;
      }),
    // Job by job (a row that fails its check is left as it is, and does not stop the others).
    recoverInterrupted: async (now) =>
      updateEach((await table.where('state').equals('sending').primaryKeys()) as string[], (job) => {
        if (job.state !== 'sending') return false;
        job.state = 'queued';
        job.uncertain = true;
        job.nextAttemptAt = now;
        job.lastError = 'interrupted while sending (the app stopped); checking what the site received';
        job.updatedAt = now;
        return true;
      }),
    makeSiteDue: async (siteId, now) =>
      updateEach((await table.where('state').equals('failed').primaryKeys()) as string[], (job) => {
        if (job.state !== 'failed' || job.siteId !== siteId || !(job.nextAttemptAt > now && job.nextAttemptAt < ONLY_BY_USER)) return false;
        job.nextAttemptAt = now;
        job.updatedAt = now;
        return true;
      }),
    makeDue: async (id, now) =>
      (await update(id, (job) => {
        if (!WAITING.has(job.state)) return false;
        job.nextAttemptAt = now;
        job.updatedAt = now;
        return true;
      })) !== undefined,
  };
}
