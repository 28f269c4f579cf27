import PQueue from 'p-queue';
import type { Logger } from '../../shared/log';
import type { OutboxRepo } from './outbox-repo';
import type { OutboxClock } from './outbox-clock';
import type { OutboxStore } from './outbox-store';

const MAX_TIMER_MS = 2 ** 31 - 1;

export interface OutboxPassDeps {
  repo: OutboxRepo;
  store: Pick<OutboxStore, 'refresh'>;
  clock: OutboxClock;
  log: Logger;
  isOnline: () => boolean;
  /** Per site, until when its jobs wait; a pass skips them and wakes when the first hold ends. */
  siteHold: ReadonlyMap<string, number>;
  /** Delivers one job; `signal` fires when the outbox stops. */
  deliver: (jobId: string, signal: AbortSignal) => Promise<void>;
}

export interface OutboxPasses {
  /** Starts passing; false when already running. */
  begin(): boolean;
  /** Stops: the request under way is abandoned, nothing else starts, the queues are emptied. */
  end(): void;
  running(): boolean;
  /** A pass soon (coalesced: many wakes in one turn make one pass). */
  wake(): void;
}

/**
 * The outbox's timing: passes that hand each due job to its site's queue
 * (one job at a time per site, so a slow link is not split and a failing
 * site is not hammered), then sleep until the next job or site hold is due.
 * Only one pass runs at a time; a wake during a pass makes one more.
 */
export function createOutboxPasses(deps: OutboxPassDeps): OutboxPasses {
  const { repo, store, clock, log, siteHold, deliver } = deps;
  let running = false;
  let aborter = new AbortController();
  let timer: unknown;
  let tickScheduled = false;
  let ticking: Promise<void> | undefined;
  let tickAgain = false;
  const queues = new Map<string, PQueue>();
  const queuedJobs = new Set<string>();

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
    if (!deps.isOnline()) {
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

  return {
    begin() {
      if (running) return false;
      running = true;
      aborter = new AbortController();
      return true;
    },
    end() {
      running = false;
      aborter.abort(new Error('outbox stopped'));
      arm(undefined);
      for (const q of queues.values()) q.clear();
    },
    running: () => running,
    wake,
  };
}
