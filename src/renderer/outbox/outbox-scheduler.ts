import PQueue from 'p-queue';
import type { Logger } from '../../shared/log';
import type { OutboxJobRecord, TeleradDB } from '../cache/telerad-db';
import { DEFAULT_BATCH_LIMITS, planBatches, progressAfter } from './outbox-batches';
import type { BatchLimits, SendProgress } from './outbox-batches';
import { ONLY_BY_USER, createOutboxRepo } from './outbox-repo';
import type { InstanceResult, OutboxRepo } from './outbox-repo';
import { createOutboxEnqueue } from './outbox-enqueue';
import type { EnqueueOutboxJob } from './outbox-enqueue';
import { createOutboxStore } from './outbox-store';
import type { DeliveredJob, OutboxState } from './outbox-store';
import { StowError } from './stow-client';
import type { OutboxTransport, StowInstanceFailure, StowOutcome } from './stow-client';
import { errorMessage } from '../../shared/error-message';

/** Timers, injected so unit tests run on a fake clock. */
export interface OutboxClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** navigator.onLine and its events. */
export interface OutboxNetwork {
  isOnline(): boolean;
  subscribe(listener: (online: boolean) => void): () => void;
}

export interface BackoffPolicy {
  /** Longest wait after the first failure (the jitter picks anywhere below it). */
  baseMs: number;
  /** No wait is ever longer. */
  capMs: number;
  /** After the site refused our credentials: a person has to fix them; ask again rarely. */
  authMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 5_000, capMs: 10 * 60_000, authMs: 30 * 60_000 };

/**
 * Exponential backoff with full jitter (a uniform pick in [0, min(cap,
 * base·2^(n−1))]): many clients that lost the same link at the same moment
 * come back spread out instead of all at once. `attempts` ≥ 1.
 */
export function backoffDelay(attempts: number, random: () => number, policy: Pick<BackoffPolicy, 'baseMs' | 'capMs'>): number {
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
  return Math.floor(random() * exp);
}

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
}

/** An attempt a site answered with an error, for the audit trail. */
export interface FailedAttempt {
  jobId: string;
  siteId: string;
  kind: OutboxJobRecord['kind'];
  label: string;
  studyInstanceUID: string;
  reportId?: string;
  /** What the outbox panel shows as the job's last error. */
  error: string;
  /** The instances the job carries. */
  sopInstanceUIDs: string[];
  /** The site refused for good: the job waits for the user ("Retry now") instead of retrying. */
  permanent: boolean;
  attempts: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The store-and-forward outbox: a scheduler over the durable jobs in Dexie.
 * Per site one job at a time (a p-queue each), so a slow link is not split
 * between reports and a failing site is not hammered.
 */
export function createOutbox(deps: OutboxDeps): Outbox {
  const { transport, clock, log, network } = deps;
  const policy: BackoffPolicy = { ...DEFAULT_BACKOFF, ...deps.backoff };
  const batchLimits: BatchLimits = { ...DEFAULT_BATCH_LIMITS, ...deps.batchLimits };
  const repo: OutboxRepo = createOutboxRepo(deps.db);
  const store = createOutboxStore({ repo, log, siteName: deps.siteName ?? (() => undefined), isOnline: () => network.isOnline() });

  let running = false;
  let aborter = new AbortController();
  let timer: unknown;
  let tickScheduled = false;
  let ticking: Promise<void> | undefined;
  let tickAgain = false;
  let unsubscribeNetwork: (() => void) | undefined;
  const queues = new Map<string, PQueue>();
  const queuedJobs = new Set<string>();
  /** Site unreachable: its other jobs wait until then too, instead of each finding out on its own. */
  const siteHold = new Map<string, number>();

  const queueFor = (siteId: string): PQueue => {
    let q = queues.get(siteId);
    if (!q) {
      q = new PQueue({ concurrency: 1 });
      queues.set(siteId, q);
    }
    return q;
  };

  const wake = (): void => {
    if (!running || tickScheduled) return;
    tickScheduled = true;
    clock.setTimeout(() => {
      tickScheduled = false;
      void tick();
    }, 0);
  };

  const arm = (at: number | undefined): void => {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
    if (!running || at === undefined) return;
    timer = clock.setTimeout(
      () => {
        timer = undefined;
        void tick();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, at - clock.now())),
    );
  };

  /** One pass: hand every due job to its site's queue, then sleep until the next one is due. */
  const tick = async (): Promise<void> => {
    if (ticking) {
      tickAgain = true;
      return ticking;
    }
    ticking = (async () => {
      do {
        tickAgain = false;
        await tickOnce().catch((err: unknown) => log.error('Outbox pass failed', err));
      } while (tickAgain && running);
    })().finally(() => {
      ticking = undefined;
    });
    return ticking;
  };

  const tickOnce = async (): Promise<void> => {
    if (!running) return;
    // Offline: nothing is tried, no attempt is counted; the 'online' event wakes us.
    if (!network.isOnline()) {
      arm(undefined);
      store.refresh();
      return;
    }
    const now = clock.now();
    for (const job of await repo.due(now, queuedJobs)) {
      if (queuedJobs.has(job.id)) continue;
      if ((siteHold.get(job.siteId) ?? 0) > now) continue;
      queuedJobs.add(job.id);
      const signal = aborter.signal;
      void queueFor(job.siteId)
        .add(() => deliver(job.id, signal))
        .catch((err: unknown) => log.error(`Outbox job ${job.id} failed unexpectedly`, err))
        .finally(() => {
          queuedJobs.delete(job.id);
          wake();
        });
    }
    const next = await repo.nextDueAt();
    const holds = [...siteHold.values()].filter((t) => t > now);
    if (next === undefined) arm(holds.length ? Math.min(...holds) : undefined);
    else if (next > now) arm(Math.min(next, ...holds));
    // Due but queued behind another job of its site (it wakes us when done), or held for its site.
    else arm(holds.length ? Math.min(...holds) : undefined);
  };

  const failedListeners = new Set<(failure: FailedAttempt) => void>();
  /** Per job, the errors already told: a site answering 503 for an hour is one event, not one per retry. */
  const failuresTold = new Map<string, Set<string>>();
  const tellFailed = (job: OutboxJobRecord): void => {
    const error = job.lastError ?? 'failed';
    const told = failuresTold.get(job.id) ?? new Set<string>();
    if (told.has(error)) return;
    told.add(error);
    failuresTold.set(job.id, told);
    const failure: FailedAttempt = {
      jobId: job.id,
      siteId: job.siteId,
      kind: job.kind,
      label: job.label,
      studyInstanceUID: job.studyInstanceUID,
      ...(job.reportId ? { reportId: job.reportId } : {}),
      error,
      sopInstanceUIDs: job.instances.map((i) => i.sopInstanceUID),
      permanent: job.nextAttemptAt === ONLY_BY_USER,
      attempts: job.attempts,
    };
    for (const l of [...failedListeners]) {
      try {
        l(failure);
      } catch (err) {
        log.error('A failed-delivery listener failed', err);
      }
    }
  };

  const fail = async (jobId: string, err: unknown, bump: boolean, wasUncertain: boolean): Promise<void> => {
    const now = clock.now();
    const job = await repo.get(jobId);
    if (!job) return;
    const attempts = bump ? job.attempts + 1 : job.attempts;
    let error: string;
    let nextAttemptAt: number;
    let uncertain = wasUncertain;
    if (err instanceof StowError) {
      error = err.message;
      uncertain = wasUncertain || err.uncertain;
      if (err.kind === 'auth') nextAttemptAt = now + policy.authMs;
      else if (err.kind === 'rejected') nextAttemptAt = ONLY_BY_USER;
      else nextAttemptAt = now + backoffDelay(Math.max(1, attempts), deps.random, policy);
      // The site is down or failing: its other jobs wait as long, instead of each finding out on its own.
      if (err.kind === 'no-answer' || err.kind === 'server') siteHold.set(job.siteId, nextAttemptAt);
    } else {
      error = `failed: ${errorMessage(err)}`;
      nextAttemptAt = now + backoffDelay(Math.max(1, attempts), deps.random, policy);
    }
    const failed = await repo.markFailed(jobId, { error, nextAttemptAt, uncertain, now, countAttempt: bump });
    if (failed) store.put(failed);
    // No answer at all (offline, site down, cut link) is not the site saying no; the job just waits.
    const siteAnswered = !(err instanceof StowError) || err.kind !== 'no-answer';
    if (failed && siteAnswered) tellFailed(failed);
    log.warn(`Outbox: ${job.label} to ${job.siteId} failed (attempt ${attempts})${uncertain ? ', outcome unknown' : ''}: ${error}`);
  };

  const announce = (sent: OutboxJobRecord): void => {
    failuresTold.delete(sent.id);
    store.put(sent);
    log.info(`Outbox: ${sent.label} delivered to ${sent.siteId} after ${sent.attempts} attempt(s)`);
    store.delivered(sent);
  };
  const markDelivered = async (jobId: string): Promise<void> => {
    const sent = await repo.markSent(jobId, clock.now());
    if (sent) announce(sent);
  };

  /** One job, start to end: check an unknown outcome, claim, STOW what is not stored, record the answer. */
  const deliver = async (jobId: string, signal: AbortSignal): Promise<void> => {
    if (signal.aborted || !network.isOnline()) return;
    let job = await repo.get(jobId);
    const now = clock.now();
    if (!job || (job.state !== 'queued' && job.state !== 'failed') || job.nextAttemptAt > now) return;
    if ((siteHold.get(job.siteId) ?? 0) > now) return;

    if (job.uncertain) {
      // A request went out earlier and no complete answer came back: ask before sending, so nothing is stored twice.
      const unknown = job.instances.filter((i) => i.state !== 'stored').map((i) => i.sopInstanceUID);
      let found: Set<string>;
      try {
        found = await transport.findStored(job.siteId, job.studyInstanceUID, unknown, signal);
      } catch (err) {
        if (signal.aborted) return;
        await fail(jobId, err instanceof StowError ? new StowError(err.kind, `could not check what the site already has: ${err.message}`, false, err.status) : err, true, true);
        return;
      }
      const results = new Map<string, InstanceResult>([...found].map((uid) => [uid, { state: 'stored' }]));
      if (found.size) log.info(`Outbox: ${job.label}: the site already had ${found.size} of ${unknown.length} instance(s); not sending those again`);
      job = await repo.recordInstances(jobId, results, clock.now(), false);
      if (!job) return;
      store.put(job);
    }

    const pending = job.instances.filter((i) => i.state !== 'stored');
    if (pending.length === 0) {
      await markDelivered(jobId);
      return;
    }
    // Durable before the request: if the app dies now, the next start knows the outcome is unknown.
    const claimed = await repo.claim(jobId, clock.now());
    if (!claimed) return;
    store.put(claimed);

    // In batches, each answer recorded before the next request: a cut link or a restart loses at most the batch in flight.
    const failures: StowInstanceFailure[] = [];
    let unaccounted = 0;
    let after: OutboxJobRecord = claimed;
    let progress: SendProgress = { startedAt: clock.now(), bytesSentThisRun: 0, bytesRemaining: pending.reduce((n, i) => n + i.bytes.byteLength, 0) };
    store.setProgress(jobId, progress);
    try {
      for (const batch of planBatches(pending, batchLimits)) {
        if (signal.aborted) return;
        if (!network.isOnline()) {
          // Gone offline between batches: nothing is in flight, so nothing is uncertain; the 'online' event resumes it.
          const paused = await repo.markFailed(jobId, { error: 'the network went away; the rest is sent when it returns', nextAttemptAt: clock.now(), uncertain: after.uncertain, now: clock.now() });
          if (paused) store.put(paused);
          return;
        }
        let outcome: StowOutcome;
        try {
          outcome = await transport.stow(job.siteId, batch, signal);
        } catch (err) {
          // Stopped (page unloading): leave it 'sending'; the next start treats it as an unknown outcome.
          if (signal.aborted) return;
          await fail(jobId, err, false, after.uncertain);
          return;
        }
        const results = new Map<string, InstanceResult>();
        for (const uid of outcome.stored) results.set(uid, { state: 'stored' });
        for (const f of outcome.failed) results.set(f.sopInstanceUID, { state: 'failed', error: f.message });
        failures.push(...outcome.failed);
        unaccounted += outcome.unaccounted.length;
        const recorded = await repo.recordAnswer(jobId, results, clock.now(), unaccounted > 0);
        if (!recorded) return;
        after = recorded;
        progress = progressAfter(
          progress,
          batch.reduce((n, i) => n + i.bytes.byteLength, 0),
          clock.now(),
        );
        store.put(after);
        store.setProgress(jobId, progress);
      }
    } finally {
      store.setProgress(jobId, undefined);
    }
    if (after.state === 'sent') {
      announce(after);
      return;
    }
    const uncertain = unaccounted > 0;
    const retryable = uncertain || failures.some((f) => f.retryable);
    const parts = [
      ...failures.map((f) => {
        const inst = after.instances.find((i) => i.sopInstanceUID === f.sopInstanceUID);
        return `${describeSopClass(inst?.sopClassUID)} ${f.message}`;
      }),
      ...(uncertain ? [`the site did not say what became of ${unaccounted} instance(s)`] : []),
    ];
    const stored = after.instances.filter((i) => i.state === 'stored').length;
    const error = `${stored} of ${after.instances.length} stored; ${parts.join('; ')}${retryable ? '' : ' — will not be retried automatically'}`;
    const at = clock.now();
    const failed = await repo.markFailed(jobId, {
      error,
      nextAttemptAt: retryable ? at + backoffDelay(after.attempts, deps.random, policy) : ONLY_BY_USER,
      uncertain,
      now: at,
    });
    if (failed) store.put(failed);
    if (failed && failures.length > 0) tellFailed(failed);
    log.warn(`Outbox: ${after.label} partly refused by ${after.siteId}: ${error}`);
  };

  return {
    async start() {
      if (running) return;
      running = true;
      aborter = new AbortController();
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
      running = false;
      aborter.abort(new Error('outbox stopped'));
      arm(undefined);
      unsubscribeNetwork?.();
      unsubscribeNetwork = undefined;
      for (const q of queues.values()) q.clear();
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
      if (!running) return;
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
    onFailed(listener) {
      failedListeners.add(listener);
      return () => {
        failedListeners.delete(listener);
      };
    },
  };
}

/** "SR" / "PDF" for the reasons shown; the class UID otherwise. */
export function describeSopClass(uid: string | undefined): string {
  switch (uid) {
    case '1.2.840.10008.5.1.4.1.1.104.1':
      return 'the PDF:';
    case '1.2.840.10008.5.1.4.1.1.88.11':
    case '1.2.840.10008.5.1.4.1.1.88.22':
    case '1.2.840.10008.5.1.4.1.1.88.33':
      return 'the SR:';
    default:
      return uid ? `instance of class ${uid}:` : 'an instance:';
  }
}
