import type { Logger } from '../../shared/log';
import type { CacheSettingRecord, StudyRecord, TeleradDB } from './telerad-db';
import { deleteCachedStudy, setStudyPinned } from './study-cache';
import { CacheFullError } from './cache-write-budget';
import type { CacheWriteBudget } from './cache-write-budget';

export { CacheFullError, isQuotaExceeded } from './cache-write-budget';
export type { CacheWriteBudget } from './cache-write-budget';

/**
 * The byte budget of the offline cache and the eviction that keeps it. The
 * budget is the user's (a setting), defaulting to a share of what the browser
 * says it would grant; the browser quota is a second, harder limit that shows
 * up only as a QuotaExceededError on a write. Both end the same way: evict by
 * the rules below, or refuse the write with a message the user can act on.
 */

const MB = 1024 * 1024;
const GB = 1024 * MB;

/** Share of the browser's quota taken by default: the rest stays for drafts, reports and other origins' growth. */
export const DEFAULT_BUDGET_SHARE = 0.5;
/** No default above this, however large the disk: a user who wants more sets it. */
export const DEFAULT_BUDGET_MAX_BYTES = 20 * GB;
/** When the browser cannot estimate its quota (old engines, some private modes). */
export const DEFAULT_BUDGET_FALLBACK_BYTES = 2 * GB;

/** How long a running count of the cached bytes is trusted before it is summed again from the studies. */
const USED_RECOUNT_MS = 5000;

/** The default budget from the browser's estimate: a share of the quota, capped; a fixed value without one. */
export function defaultBudget(quota: number | undefined): number {
  if (quota === undefined || !Number.isFinite(quota) || quota <= 0) return DEFAULT_BUDGET_FALLBACK_BYTES;
  return Math.min(DEFAULT_BUDGET_MAX_BYTES, Math.floor(quota * DEFAULT_BUDGET_SHARE));
}

/** One cached study as eviction sees it. */
export interface EvictionCandidate {
  studyInstanceUID: string;
  storedBytes: number;
  /** ms; missing counts as oldest. */
  lastAccessedAt?: number;
  /** The site holds a report for it: the case is read, its images are the least likely to be needed again. */
  reported: boolean;
  /** Pinned by the user. */
  pinned: boolean;
  /** Open in the viewer. */
  open: boolean;
  /** Has a draft or an unsent outbox item. */
  unsentWork: boolean;
}

export interface EvictionGoal {
  budget: number;
  used: number;
  /** Bytes about to be written. */
  incoming?: number;
  /** Never evicted for this write: the study being written. */
  exclude?: string;
}

/** Whether rules alone forbid evicting a study: pinned, open, or holding unsent work. */
export function isProtected(c: EvictionCandidate): boolean {
  return c.pinned || c.open || c.unsentWork;
}

/**
 * Which studies to evict, in order, to bring `used + incoming` within
 * `budget`: least recently used reported cases first, then other unpinned
 * closed cases, least recently used first. Pinned, open and unsent-work cases
 * are never chosen. Empty when already within budget. When even every
 * evictable study would not make room, returns them all: the caller decides
 * whether a partial result is worth it (see `CacheBudget.makeRoom`).
 */
export function chooseEvictions(studies: readonly EvictionCandidate[], goal: EvictionGoal): string[] {
  let excess = goal.used + (goal.incoming ?? 0) - goal.budget;
  if (excess <= 0) return [];
  const evictable = studies.filter((c) => !isProtected(c) && c.studyInstanceUID !== goal.exclude);
  const byAge = (a: EvictionCandidate, b: EvictionCandidate): number => (a.lastAccessedAt ?? 0) - (b.lastAccessedAt ?? 0);
  const ordered = [...evictable.filter((c) => c.reported).sort(byAge), ...evictable.filter((c) => !c.reported).sort(byAge)];
  const chosen: string[] = [];
  for (const c of ordered) {
    if (excess <= 0) break;
    chosen.push(c.studyInstanceUID);
    excess -= c.storedBytes;
  }
  return chosen;
}

/** The part of the browser's StorageManager used here (injected: absent in Node and some webviews). */
export interface StorageManagerLike {
  estimate?(): Promise<{ quota?: number; usage?: number }>;
  persist?(): Promise<boolean>;
  persisted?(): Promise<boolean>;
}

export interface CacheBudgetDeps {
  db: TeleradDB;
  log: Logger;
  /** navigator.storage, when there is one. */
  storage?: StorageManagerLike;
  /** Whether the study is open in the viewer (the viewer knows). */
  isOpen: (studyInstanceUID: string) => boolean;
  /**
   * Whether the study has a draft report or an unsent outbox item. No such
   * tables exist yet: main.tsx passes `() => false` until the reporting and
   * outbox features plug in here.
   */
  hasUnsentWork: (studyInstanceUID: string) => boolean | Promise<boolean>;
  /**
   * Whether a write into this study may evict others to make room; default
   * yes. main.tsx allows it only for studies open in the viewer: background
   * prefetch then fills the budget and stops there, instead of evicting one
   * prefetched case to store the next and fetching it again later.
   */
  mayEvictFor?: (studyInstanceUID: string) => boolean;
  /** Told after studies were evicted (the worklist's offline badges, the storage panel). */
  onEvicted?: (studyInstanceUIDs: readonly string[]) => void;
}

export interface BrowserStorageInfo {
  quota?: number;
  usage?: number;
  /** Whether the browser granted persistent storage; undefined when it cannot say. */
  persisted?: boolean;
}

/**
 * Writes one cache or prefetch setting (the budget here, the prefetch
 * bandwidth cap from the prefetch settings). This module owns `cacheSettings`.
 */
export async function putCacheSetting(db: TeleradDB, setting: CacheSettingRecord): Promise<void> {
  await db.cacheSettings.put(setting);
}

/**
 * The budget, its setting and eviction, over the Dexie tables. Evictions are
 * serialized (one at a time), so parallel writes of a retrieval do not each
 * evict a study for the same shortfall.
 */
export class CacheBudget implements CacheWriteBudget {
  private lock: Promise<unknown> = Promise.resolve();
  private persisted: boolean | undefined;
  private defaultBytes: number | undefined;
  /**
   * Bytes cached as last counted plus what was admitted since, so a 300-instance
   * retrieval does not sum every study's size before each write. Re-counted
   * when it would say "over budget", when older than USED_RECOUNT_MS (writes
   * from another tab, an integrity drop), and after every eviction.
   */
  private usedEstimate: { bytes: number; countedAt: number } | undefined;

  constructor(private readonly deps: CacheBudgetDeps) {}

  /**
   * Asks the browser once for persistent storage (so it does not clear the
   * cache under pressure) and logs the answer. Never throws.
   */
  async start(): Promise<boolean | undefined> {
    const { storage, log } = this.deps;
    try {
      if (storage?.persisted && (await storage.persisted())) {
        this.persisted = true;
      } else if (storage?.persist) {
        this.persisted = await storage.persist();
      }
    } catch (err) {
      log.warn('navigator.storage.persist() failed', err);
    }
    if (this.persisted === undefined) log.info('Persistent storage: not available in this browser');
    else log.info(`Persistent storage ${this.persisted ? 'granted' : 'refused: the browser may clear the cache under storage pressure'}`);
    return this.persisted;
  }

  async browserInfo(): Promise<BrowserStorageInfo> {
    let estimate: { quota?: number; usage?: number } = {};
    try {
      estimate = (await this.deps.storage?.estimate?.()) ?? {};
    } catch (err) {
      this.deps.log.warn('navigator.storage.estimate() failed', err);
    }
    return {
      ...(estimate.quota !== undefined ? { quota: estimate.quota } : {}),
      ...(estimate.usage !== undefined ? { usage: estimate.usage } : {}),
      ...(this.persisted !== undefined ? { persisted: this.persisted } : {}),
    };
  }

  /** The user's budget, else the default from the browser's estimate. */
  async getBudget(): Promise<number> {
    const set = await this.deps.db.cacheSettings.get('budgetBytes');
    if (set && Number.isFinite(set.value) && set.value > 0) return set.value;
    if (this.defaultBytes === undefined) this.defaultBytes = defaultBudget((await this.browserInfo()).quota);
    return this.defaultBytes;
  }

  /** Whether the budget is the user's own rather than the default. */
  async isBudgetSet(): Promise<boolean> {
    return (await this.deps.db.cacheSettings.get('budgetBytes')) !== undefined;
  }

  /** Sets the budget and evicts down to it now (rules as always). Returns the studies evicted. */
  async setBudget(bytes: number): Promise<string[]> {
    if (!Number.isFinite(bytes) || bytes <= 0) throw new Error('The budget must be a positive number of bytes');
    await putCacheSetting(this.deps.db, { key: 'budgetBytes', value: Math.floor(bytes) });
    return this.serial(async () => {
      const budget = await this.getBudget();
      const candidates = await this.candidates();
      const chosen = chooseEvictions(candidates, { budget, used: sumBytes(candidates) });
      await this.evictMany(chosen, 'over the new budget');
      return chosen;
    });
  }

  /** Bytes of every cached study. */
  async usedBytes(): Promise<number> {
    let used = 0;
    await this.deps.db.studies.each((s) => (used += s.storedBytes ?? 0));
    return used;
  }

  /** Every cached study with what eviction needs to know about it. */
  async candidates(): Promise<EvictionCandidate[]> {
    const { db } = this.deps;
    const studies = await db.studies.toArray();
    const reports = await db.referrals.bulkGet(studies.map((s) => s.studyInstanceUID));
    return Promise.all(
      studies.map(async (s: StudyRecord, i): Promise<EvictionCandidate> => ({
        studyInstanceUID: s.studyInstanceUID,
        storedBytes: s.storedBytes ?? 0,
        ...(s.lastAccessedAt !== undefined ? { lastAccessedAt: s.lastAccessedAt } : {}),
        reported: reports[i]?.hasReport ?? false,
        pinned: s.pinned ?? false,
        open: this.deps.isOpen(s.studyInstanceUID),
        unsentWork: await this.deps.hasUnsentWork(s.studyInstanceUID),
      })),
    );
  }

  beforeWrite(studyInstanceUID: string, bytes: number): Promise<void> {
    return this.serial(async () => {
      const budget = await this.getBudget();
      const est = this.usedEstimate;
      if (est && Date.now() - est.countedAt < USED_RECOUNT_MS && est.bytes + bytes <= budget) {
        est.bytes += bytes;
        return;
      }
      const used = await this.usedBytes();
      if (used + bytes <= budget) {
        this.usedEstimate = { bytes: used + bytes, countedAt: Date.now() };
        return;
      }
      this.usedEstimate = undefined;
      await this.makeRoom({ budget, used, incoming: bytes, exclude: studyInstanceUID }, 'over budget');
    });
  }

  afterQuotaExceeded(studyInstanceUID: string, bytes: number): Promise<void> {
    return this.serial(async () => {
      const used = await this.usedBytes();
      this.deps.log.warn(`The browser refused a write of ${bytes} bytes for lack of space (${used} bytes cached); evicting`);
      // The browser's limit is below ours: make room for the write under what is stored now.
      await this.makeRoom({ budget: used, used, incoming: bytes, exclude: studyInstanceUID }, 'browser quota reached');
    });
  }

  async fullError(): Promise<CacheFullError> {
    return new CacheFullError(await this.usedBytes(), await this.getBudget());
  }

  /** Pins or unpins a study (a pinned study is never evicted). */
  async setPinned(studyInstanceUID: string, pinned: boolean): Promise<void> {
    await setStudyPinned(this.deps.db, studyInstanceUID, pinned);
  }

  /** Evicts one study on the user's say-so (pins do not stop the user; an open study does). */
  async evict(studyInstanceUID: string): Promise<boolean> {
    return this.serial(async () => {
      if (this.deps.isOpen(studyInstanceUID)) return false;
      await this.evictMany([studyInstanceUID], 'by the user');
      return true;
    });
  }

  /** "Clear all": evicts every study not open in the viewer, pinned ones included. Returns those evicted. */
  async clearAll(): Promise<string[]> {
    return this.serial(async () => {
      const uids = (await this.deps.db.studies.toCollection().primaryKeys()).filter((uid) => !this.deps.isOpen(uid));
      await this.evictMany(uids, 'clear all');
      return uids;
    });
  }

  /**
   * Deletes a study's instances, their bytes, its previews and instance list, its series and its record in
   * one transaction: an interrupted eviction leaves the study whole, never a
   * "complete" record over missing instances.
   */
  async evictStudy(studyInstanceUID: string): Promise<void> {
    await deleteCachedStudy(this.deps.db, studyInstanceUID);
  }

  private async makeRoom(goal: Required<EvictionGoal>, why: string): Promise<void> {
    if (this.deps.mayEvictFor && !this.deps.mayEvictFor(goal.exclude)) throw new CacheFullError(goal.used, await this.getBudget());
    const candidates = await this.candidates();
    const chosen = chooseEvictions(candidates, goal);
    const freed = candidates.filter((c) => chosen.includes(c.studyInstanceUID)).reduce((n, c) => n + c.storedBytes, 0);
    // Evicting cases that would not make room anyway only loses them: refuse the write instead.
    if (goal.used + goal.incoming - freed > goal.budget) throw new CacheFullError(goal.used, await this.getBudget());
    await this.evictMany(chosen, why);
  }

  private async evictMany(uids: readonly string[], why: string): Promise<void> {
    if (uids.length === 0) return;
    this.usedEstimate = undefined;
    for (const uid of uids) await this.evictStudy(uid);
    this.deps.log.info(`Evicted ${uids.length} cached case(s) (${why}): ${uids.join(', ')}`);
    this.deps.onEvicted?.(uids);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lock.then(fn, fn);
    this.lock = next.catch(() => undefined);
    return next;
  }
}

function sumBytes(candidates: readonly EvictionCandidate[]): number {
  return candidates.reduce((n, c) => n + c.storedBytes, 0);
}
