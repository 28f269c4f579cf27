import type { Logger } from '../../shared/log';
import type { OutboxJobRecord } from '../cache/telerad-db';
import { StowError } from '../dicomweb/stow-answer';
import type { StowInstanceFailure, StowOutcome } from '../dicomweb/stow-answer';
import { planBatches, progressAfter } from './outbox-batches';
import type { BatchLimits, SendProgress } from './outbox-batches';
import type { OutboxFailures } from './outbox-failures';
import type { InstanceResult, OutboxRepo } from './outbox-repo';
import type { OutboxStore } from './outbox-store';
import type { OutboxTransport } from './stow-client';

export interface JobDeliveryDeps {
  repo: OutboxRepo;
  store: Pick<OutboxStore, 'put' | 'setProgress' | 'delivered'>;
  transport: OutboxTransport;
  failures: OutboxFailures;
  now: () => number;
  isOnline: () => boolean;
  log: Logger;
  batchLimits: BatchLimits;
  /** Per site, until when its jobs wait; a held site's job is not started. */
  siteHold: ReadonlyMap<string, number>;
}

/** How a run of batches ended: the job as last recorded, with what the site refused and left unaccounted. */
interface BatchRun {
  after: OutboxJobRecord;
  refused: StowInstanceFailure[];
  unaccounted: number;
}

/**
 * Delivers one job, start to end: check an unknown outcome, claim, STOW what
 * is not stored in batches, record each answer. Every step is recorded in
 * Dexie before the next request, so a cut link or a restart loses at most the
 * batch in flight and nothing is ever stored twice.
 */
export function createJobDelivery(deps: JobDeliveryDeps): (jobId: string, signal: AbortSignal) => Promise<void> {
  const { repo, store, transport, failures, log } = deps;

  const announce = (sent: OutboxJobRecord): void => {
    failures.forget(sent.id);
    store.put(sent);
    log.info(`Outbox: ${sent.label} delivered to ${sent.siteId} after ${sent.attempts} attempt(s)`);
    store.delivered(sent);
  };

  /** A request went out earlier and no complete answer came back: ask before sending, so nothing is stored twice. */
  const settleUnknownOutcome = async (job: OutboxJobRecord, signal: AbortSignal): Promise<OutboxJobRecord | undefined> => {
    const unknown = job.instances.filter((i) => i.state !== 'stored').map((i) => i.sopInstanceUID);
    let found: Set<string>;
    try {
      found = await transport.findStored(job.siteId, job.studyInstanceUID, unknown, signal);
    } catch (err) {
      if (signal.aborted) return undefined;
      const why = err instanceof StowError ? new StowError(err.kind, `could not check what the site already has: ${err.message}`, false, err.status) : err;
      await failures.fail(job.id, why, true, true);
      return undefined;
    }
    const results = new Map<string, InstanceResult>([...found].map((uid) => [uid, { state: 'stored' }]));
    if (found.size) log.info(`Outbox: ${job.label}: the site already had ${found.size} of ${unknown.length} instance(s); not sending those again`);
    const recorded = await repo.recordInstances(job.id, results, deps.now(), false);
    if (recorded) store.put(recorded);
    return recorded;
  };

  /** Records one batch's per-instance answer; undefined when the job is gone. */
  const recordBatch = async (run: BatchRun, outcome: StowOutcome): Promise<OutboxJobRecord | undefined> => {
    const results = new Map<string, InstanceResult>();
    for (const uid of outcome.stored) results.set(uid, { state: 'stored' });
    for (const f of outcome.failed) results.set(f.sopInstanceUID, { state: 'failed', error: f.message });
    run.refused.push(...outcome.failed);
    run.unaccounted += outcome.unaccounted.length;
    return repo.recordAnswer(run.after.id, results, deps.now(), run.unaccounted > 0);
  };

  /** STOW of `pending` in batches; undefined when the run stopped early (aborted, offline, failed, job gone). */
  const sendBatches = async (claimed: OutboxJobRecord, pending: OutboxJobRecord['instances'], signal: AbortSignal): Promise<BatchRun | undefined> => {
    const run: BatchRun = { after: claimed, refused: [], unaccounted: 0 };
    let progress: SendProgress = { startedAt: deps.now(), bytesSentThisRun: 0, bytesRemaining: pending.reduce((n, i) => n + i.bytes.byteLength, 0) };
    store.setProgress(claimed.id, progress);
    try {
      for (const batch of planBatches(pending, deps.batchLimits)) {
        if (signal.aborted) return undefined;
        if (!deps.isOnline()) {
          // Gone offline between batches: nothing is in flight, so nothing is uncertain; the 'online' event resumes it.
          const paused = await repo.markFailed(claimed.id, { error: 'the network went away; the rest is sent when it returns', nextAttemptAt: deps.now(), uncertain: run.after.uncertain, now: deps.now() });
          if (paused) store.put(paused);
          return undefined;
        }
        let outcome: StowOutcome;
        try {
          outcome = await transport.stow(claimed.siteId, batch, signal);
        } catch (err) {
          // Stopped (page unloading): leave it 'sending'; the next start treats it as an unknown outcome.
          if (signal.aborted) return undefined;
          await failures.fail(claimed.id, err, false, run.after.uncertain);
          return undefined;
        }
        const recorded = await recordBatch(run, outcome);
        if (!recorded) return undefined;
        run.after = recorded;
        progress = progressAfter(
          progress,
          batch.reduce((n, i) => n + i.bytes.byteLength, 0),
          deps.now(),
        );
        store.put(run.after);
        store.setProgress(claimed.id, progress);
      }
    } finally {
      store.setProgress(claimed.id, undefined);
    }
    return run;
  };

  return async (jobId, signal) => {
    if (signal.aborted || !deps.isOnline()) return;
    let job = await repo.get(jobId);
    const now = deps.now();
    if (!job || (job.state !== 'queued' && job.state !== 'failed') || job.nextAttemptAt > now) return;
    if ((deps.siteHold.get(job.siteId) ?? 0) > now) return;
    if (job.uncertain) {
      job = await settleUnknownOutcome(job, signal);
      if (!job) return;
    }
    const pending = job.instances.filter((i) => i.state !== 'stored');
    if (pending.length === 0) {
      const sent = await repo.markSent(jobId, deps.now());
      if (sent) announce(sent);
      return;
    }
    // Durable before the request: if the app dies now, the next start knows the outcome is unknown.
    const claimed = await repo.claim(jobId, deps.now());
    if (!claimed) return;
    store.put(claimed);
    const run = await sendBatches(claimed, pending, signal);
    if (!run) return;
    if (run.after.state === 'sent') announce(run.after);
    else await failures.partlyRefused(run.after, run.refused, run.unaccounted);
  };
}
