import type { PrefetchDeps } from './prefetch-types';
import type { PrefetchClock } from './token-bucket';

export interface OfflineSitesDeps {
  clock: PrefetchClock;
  /** How often unreachable sites are probed. */
  intervalMs: number;
  /** Probing runs only while the scheduler does. */
  started: () => boolean;
  /** A round of probes is over: the state may have changed... */
  publish: () => void;
  /** ...and cases of the sites that answered may run. */
  pump: () => void;
}

export interface OfflineSites {
  has(siteId: string): boolean;
  add(siteId: string): void;
  clear(): void;
  readonly size: number;
  list(): string[];
  /** Probes the sites again after the interval, unless a round is already due. */
  ensureProbing(): void;
  /** Cancels the round that is due. */
  stop(): void;
}

/**
 * The sites prefetch found unreachable, and their probing: a site's cases wait (not
 * counted as failed) until one cheap request answers, so a lost link costs one QIDO
 * per site per interval rather than a retrieval per case.
 */
export function createOfflineSites(scheduler: Pick<PrefetchDeps, 'site' | 'probe' | 'log'>, deps: OfflineSitesDeps): OfflineSites {
  const { clock } = deps;
  const { log } = scheduler;
  const sites = new Set<string>();
  let probeTimer: unknown;

  function ensureProbing(): void {
    if (probeTimer !== undefined || !deps.started()) return;
    probeTimer = clock.setTimeout(() => void probeRound(), deps.intervalMs);
  }

  async function probeRound(): Promise<void> {
    probeTimer = undefined;
    if (!deps.started()) return;
    const ids = new Set(sites);
    // Sites with waiting cases that are not configured any more are not probed: nothing to reach.
    await Promise.all(
      [...ids].map(async (id) => {
        const site = scheduler.site(id);
        if (!site) return;
        const probeAbort = new AbortController();
        const timer = clock.setTimeout(() => probeAbort.abort(new Error('probe timed out')), 10_000);
        try {
          await scheduler.probe(site, probeAbort.signal);
          sites.delete(id);
          log.info(`Prefetch: ${id} answers again; resuming`);
        } catch {
          // Still unreachable: probed again next round.
        } finally {
          clock.clearTimeout(timer);
        }
      }),
    );
    deps.publish();
    if (sites.size > 0) ensureProbing();
    deps.pump();
  }

  return {
    has: (siteId) => sites.has(siteId),
    add: (siteId) => void sites.add(siteId),
    clear: () => sites.clear(),
    get size() {
      return sites.size;
    },
    list: () => [...sites],
    ensureProbing,
    stop() {
      if (probeTimer !== undefined) clock.clearTimeout(probeTimer);
      probeTimer = undefined;
    },
  };
}
