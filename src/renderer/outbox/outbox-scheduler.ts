import type { Logger } from '../../shared/log';
import type { TeleradDB } from '../cache/telerad-db';
import { DEFAULT_BATCH_LIMITS } from './outbox-batches';
import type { BatchLimits } from './outbox-batches';
import { DEFAULT_BACKOFF } from './outbox-backoff';
import type { BackoffPolicy } from './outbox-backoff';
import { createJobDelivery } from './outbox-delivery';
import { createOutboxPasses } from './outbox-passes';
import { createOutboxFailures } from './outbox-failures';
import type { FailedAttempt } from './outbox-failures';
import { createOutboxRepo } from './outbox-repo';
import type { OutboxRepo, RefusedOutboxJob } from './outbox-repo';
import { createOutboxEnqueue } from './outbox-enqueue';
import type { EnqueueOutboxJob } from './outbox-enqueue';
import { createOutboxStore } from './outbox-store';
import type { DeliveredJob, OutboxState } from './outbox-store';
import type { OutboxTransport } from './stow-client';


/** navigator.onLine and its events. */
export interface OutboxNetwork {
  isOnline(): boolean;
  subscribe(listener: (online: boolean) => void): () => void;
}

export { DEFAULT_BACKOFF, backoffDelay } from './outbox-backoff';
export type { BackoffPolicy } from './outbox-backoff';

export interface OutboxDeps {
  db: TeleradDB;
  transport: OutboxTransport;
  clock: OutboxClock;
  /** [0, 1), for the jitter. */
  random: () => number;
  log: Logger;
  network: OutboxNetwork;
  /** For the panel and the delivery notice: "Hospital A". */
  siteName?: (siteId: string) => string | undefined;
  backoff?: Partial<BackoffPolicy>;
  /** How many instances / bytes go in one STOW-RS request (default ≤ 8 MiB or ≤ 10). */
  batchLimits?: Partial<BatchLimits>;
}

export interface Outbox {
  /** Recovers jobs a dead app left 'sending', then sends whatever is due. */
  start(): Promise<void>;
  /** Stops sending; a request under way is abandoned and its job stays 'sending' (recovered as uncertain at the next start). */
  stop(): void;
  /** Something changed (the network came back, a job was made due): look for due jobs now. */
  wake(): void;
  /** A producer's new delivery, in the producer's own transaction; the outbox wakes itself once it commits. */
  enqueue: EnqueueOutboxJob;
  /** The user's "retry now": the job is due at once, whatever its backoff. */
  retryNow(jobId: string): Promise<void>;
  /** Something else just reached the site (the worklist): its jobs waiting out a backoff go now. */
  siteReachable(siteId: string): Promise<void>;
  getState(): OutboxState;
  subscribe(listener: () => void): () => void;
  /** Told once per job when it becomes 'sent'. */
  onDelivered(listener: (job: DeliveredJob) => void): () => void;
  /**
   * Told when a site answered an attempt with an error or refused instances
   * (not when it could not be reached: that is store-and-forward's ordinary
   * wait). Once per job per distinct error, not once per retry.
   */
  onFailed(listener: (failure: FailedAttempt) => void): () => void;
  /**
   * Told once per job (per run) whose stored row failed its integrity check (issue 18): it is not sent,
   * shows as failed with the reason, and stays on disk as it is. The app records it in the audit trail.
   */
  onIntegrityFailure(listener: (job: RefusedOutboxJob) => void): () => void;
}

export type { FailedAttempt } from './outbox-failures';
export type { RefusedOutboxJob } from './outbox-repo';

/**
 * The store-and-forward outbox: a scheduler over the durable jobs in Dexie.
 * Per site one job at a time (a p-queue each), so a slow link is not split
 * between reports and a failing site is not hammered.
 */
export function createOutbox(deps: OutboxDeps): Outbox {
  const { transport, clock, log, network } = deps;
  const policy: BackoffPolicy = { ...DEFAULT_BACKOFF, ...deps.backoff };
  const batchLimits: BatchLimits = { ...DEFAULT_BATCH_LIMITS, ...deps.batchLimits };
  /** Jobs refused this run: never sent again in it, shown as failed; each told once. */
  const refused = new Map<string, RefusedOutboxJob>();
  const integrityListeners = new Set<(job: RefusedOutboxJob) => void>();
  const onRefused = (job: RefusedOutboxJob): void => {
    if (refused.has(job.id)) return;
    refused.set(job.id, job);
    log.error(`Outbox: job ${job.id} was changed outside the app and is not sent (kept as it is for inspection): ${job.detail}`);
    for (const l of [...integrityListeners]) {
      try {
        l(job);
      } catch (err) {
        log.error('An integrity listener failed', err);
      }
    }
    // Called only from reads made after `store` exists.
    store.refresh();
  };
  const checkedRepo = createOutboxRepo(deps.db, { onRefused });
  // A job refused once in this run stays refused, even if a later read of it opens.
  const notRefused = <T extends { id: string } | undefined>(job: T): T | undefined => (job && refused.has(job.id) ? undefined : job);
  const repo: OutboxRepo = {
    ...checkedRepo,
    get: async (id) => notRefused(await checkedRepo.get(id)),
    due: async (now, skip) => (await checkedRepo.due(now, skip)).filter((j) => !refused.has(j.id)),
    list: async () => (await checkedRepo.list()).filter((j) => !refused.has(j.id)),
    claim: async (id, now) => (refused.has(id) ? undefined : checkedRepo.claim(id, now)),
  };
  const store = createOutboxStore({ repo, log, siteName: deps.siteName ?? (() => undefined), isOnline: () => network.isOnline(), refused: () => [...refused.values()] });

  /** Site unreachable: its other jobs wait until then too, instead of each finding out on its own. */
  const siteHold = new Map<string, number>();
  let unsubscribeNetwork: (() => void) | undefined;
  const failures = createOutboxFailures({ repo, store, now: () => clock.now(), random: deps.random, policy, log, siteHold });
  const deliver = createJobDelivery({ repo, store, transport, failures, now: () => clock.now(), isOnline: () => network.isOnline(), log, batchLimits, siteHold });
  const passes = createOutboxPasses({ repo, store, clock, log, isOnline: () => network.isOnline(), siteHold, deliver });
  const wake = passes.wake;

  return {
    async start() {
      if (!passes.begin()) return;
      const recovered = await repo.recoverInterrupted(clock.now());
      if (recovered) log.warn(`Outbox: ${recovered} job(s) were being sent when the app stopped; checking with their sites before sending again`);
      unsubscribeNetwork = network.subscribe((online) => {
        if (online) siteHold.clear();
        store.refresh();
        wake();
      });
      store.refresh();
      wake();
    },
    stop() {
      passes.end();
      unsubscribeNetwork?.();
      unsubscribeNetwork = undefined;
    },
    wake() {
      store.refresh();
      wake();
    },
    enqueue: createOutboxEnqueue(() => {
      store.refresh();
      wake();
    }),
    async retryNow(jobId) {
      const job = await repo.get(jobId);
      if (job) siteHold.delete(job.siteId);
      if (await repo.makeDue(jobId, clock.now())) log.info(`Outbox: retry now requested for ${job?.label ?? jobId}`);
      store.refresh();
      wake();
    },
    async siteReachable(siteId) {
      if (!passes.running()) return;
      siteHold.delete(siteId);
      const n = await repo.makeSiteDue(siteId, clock.now());
      if (n) {
        log.info(`Outbox: ${siteId} answers again; ${n} waiting job(s) go now`);
        store.refresh();
        wake();
      }
    },
    getState: () => store.getState(),
    subscribe: (l) => store.subscribe(l),
    onDelivered: (l) => store.onDelivered(l),
    onFailed: (l) => failures.onFailed(l),
    onIntegrityFailure(l) {
      integrityListeners.add(l);
      return () => {
        integrityListeners.delete(l);
      };
    },
  };
}

export { describeSopClass } from './outbox-failures';
import type { OutboxClock } from './outbox-clock';
export type { OutboxClock } from './outbox-clock';
