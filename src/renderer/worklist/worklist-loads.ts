import type { SiteSummary } from '../../shared/ipc/contract';
import type { SiteStatus, WorklistDeps, WorklistState } from './worklist-types';

// The worklist's two kinds of answer, each under its own revision: a site's studies (one
// revision per site, so sites never wait for or overwrite each other) and the cache's.
// An answer whose revision is no longer the latest is dropped.

/** What the loads use of the store. */
export interface WorklistLoadContext {
  deps: WorklistDeps;
  state(): WorklistState;
  set(next: WorklistState): void;
  /** Asks for the referral of what is listed now (after rows landed). */
  requestReferrals(): void;
  siteRevision: Map<string, number>;
  revisions: { cache: number };
}

function updateSite(ctx: WorklistLoadContext, siteId: string, patch: Partial<SiteStatus>): void {
  const state = ctx.state();
  ctx.set({ ...state, sites: state.sites.map((s) => (s.site.id === siteId ? { ...s, ...patch } : s)) });
}

function replaceSite(ctx: WorklistLoadContext, status: SiteStatus): void {
  const state = ctx.state();
  ctx.set({ ...state, sites: state.sites.map((s) => (s.site.id === status.site.id ? status : s)) });
}

/** Re-reads the cache: its studies, the exact sizes of the complete ones, the stored share of the others. */
export async function loadCached(ctx: WorklistLoadContext): Promise<void> {
  const { deps } = ctx;
  const rev = ++ctx.revisions.cache;
  try {
    const cached = await deps.listCachedStudies();
    const complete = cached.filter((c) => c.complete).map((c) => c.studyInstanceUID);
    let cachedBytes: ReadonlyMap<string, number> = ctx.state().cachedBytes;
    if (deps.cachedStudyBytes) {
      try {
        cachedBytes = await deps.cachedStudyBytes(complete);
      } catch (err) {
        deps.log.warn('Reading cached study sizes failed', err);
      }
    }
    let storedCounts = ctx.state().storedCounts;
    if (deps.storedInstanceCounts) {
      try {
        storedCounts = await deps.storedInstanceCounts(cached.filter((c) => !c.complete).map((c) => c.studyInstanceUID));
      } catch (err) {
        deps.log.warn('Reading cached instance counts failed', err);
      }
    }
    if (rev !== ctx.revisions.cache) return;
    ctx.set({ ...ctx.state(), cached, cachedBytes, ...(storedCounts ? { storedCounts } : {}) });
    ctx.requestReferrals();
  } catch (err) {
    deps.log.error('Reading cached studies failed', err);
  }
}

/** Asks one site for its studies; on error its rows are emptied (stale rows would claim studies it may no longer have). */
export async function querySite(ctx: WorklistLoadContext, site: SiteSummary): Promise<void> {
  const { deps } = ctx;
  const rev = (ctx.siteRevision.get(site.id) ?? 0) + 1;
  ctx.siteRevision.set(site.id, rev);
  const current = (): boolean => ctx.siteRevision.get(site.id) === rev;
  updateSite(ctx, site.id, { state: 'loading' });
  try {
    const { rows, cappedAt } = await deps.queryStudies(site);
    if (!current()) return;
    replaceSite(ctx, { site, state: 'ok' as const, rows, ...(cappedAt !== undefined ? { cappedAt } : {}) });
    ctx.requestReferrals();
  } catch (err) {
    if (!current()) return;
    const failure = deps.classifyError(err);
    deps.log.warn(`Worklist query at ${site.id} failed: ${failure.message}`);
    replaceSite(ctx, { site, state: 'error' as const, message: failure.message, rows: [] });
  }
}
