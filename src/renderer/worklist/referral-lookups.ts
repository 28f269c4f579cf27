import PQueue from 'p-queue';
import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { ReferralRecord } from '../cache/telerad-db';

/** Reads a study's referral summary (implemented by referral/referral-reader.ts `createReferralLookup`). */
export type LookupReferral = (site: SiteSummary, studyUID: string) => Promise<ReferralRecord | undefined>;

/** What the worklist knows of one study's referral. */
export interface ReferralEntry {
  state: 'pending' | 'done' | 'error';
  record?: ReferralRecord;
  /**
   * The instance count the answer was read at. A report or referral added at
   * the site changes the study's instance count: that is when the cached
   * answer is stale and the study is read again.
   */
  version: string;
}

export interface ReferralLookupsDeps {
  lookup: LookupReferral;
  /** Lookups in flight at most, across all sites. */
  concurrency: number;
  /** Receives answers in batches (one state update per batch, not one per study). */
  onResults: (results: ReadonlyMap<string, ReferralEntry>) => void;
  log: Logger;
  /**
   * How long answers are gathered before one batch is handed over; default
   * 250 ms. Each batch re-derives the whole list (10,000 rows: tens of ms),
   * so answers trickling in one by one must not each cost a re-render.
   */
  batchMs?: number;
}

export interface ReferralLookups {
  /**
   * Asks for the studies whose answer is missing, failed, or read at another
   * version; returns the entries that are now pending (for the caller to
   * show), keyed by `referralKey`.
   */
  request(items: readonly { site: SiteSummary; studyUID: string; version: string }[], known: ReadonlyMap<string, ReferralEntry>): Map<string, ReferralEntry>;
  /** Waits for every lookup asked so far and the last batch (tests, shutdown). */
  idle(): Promise<void>;
}

export const referralKey = (siteId: string, studyUID: string): string => `${siteId}|${studyUID}`;

/**
 * Referral lookups for the worklist: bounded in concurrency (p-queue),
 * cached by study, never awaited by a refresh. Each study has one current
 * version; a lookup answering for an older version than the one last asked
 * for is dropped, so a slow read of a study as it was cannot overwrite the
 * answer for the study as it is now.
 */
export function createReferralLookups(deps: ReferralLookupsDeps): ReferralLookups {
  const queue = new PQueue({ concurrency: deps.concurrency });
  const wanted = new Map<string, string>();
  let batch = new Map<string, ReferralEntry>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let flushed: Promise<void> = Promise.resolve();
  let resolveFlushed: (() => void) | undefined;

  const flush = (): void => {
    timer = undefined;
    const out = batch;
    batch = new Map();
    if (out.size > 0) deps.onResults(out);
    resolveFlushed?.();
    resolveFlushed = undefined;
  };
  const deliver = (key: string, entry: ReferralEntry): void => {
    if (wanted.get(key) !== entry.version) return;
    batch.set(key, entry);
    if (timer === undefined) {
      flushed = new Promise((r) => (resolveFlushed = r));
      timer = setTimeout(flush, deps.batchMs ?? 250);
    }
  };

  return {
    request(items, known) {
      const pending = new Map<string, ReferralEntry>();
      for (const { site, studyUID, version } of items) {
        const key = referralKey(site.id, studyUID);
        const have = known.get(key);
        if (wanted.get(key) === version && have?.state !== 'error') continue;
        if (have && have.version === version && have.state === 'done') {
          wanted.set(key, version);
          continue;
        }
        wanted.set(key, version);
        // A previous answer stays on show while the new one is read: no blink to "pending" on every refresh.
        if (have?.state !== 'done') pending.set(key, { state: 'pending', version });
        void queue.add(async () => {
          // Asked again at a newer version while this one waited in the queue: skip the read.
          if (wanted.get(key) !== version) return;
          try {
            const record = await deps.lookup(site, studyUID);
            deliver(key, { state: 'done', version, ...(record ? { record } : {}) });
          } catch (err) {
            deps.log.warn(`Referral lookup for ${studyUID} at ${site.id} failed`, err);
            deliver(key, { state: 'error', version });
          }
        });
      }
      return pending;
    },
    async idle() {
      await queue.onIdle();
      await flushed;
    },
  };
}
