import type { SiteSummary } from '../../shared/ipc/contract';
import { sortStack } from '../../shared/dicom/stack-order';
import type { EnsureStudyResult } from '../cache/study-retriever';
import { StudyUnavailableError } from '../cache/study-retriever';
import type { ListedInstance } from '../cache/telerad-db';
import { isOfflineFailure } from '../dicomweb/site-error';
import type { SiteFailure } from '../dicomweb/site-error';
import { completeFromHeader, noteCachedQualities, setQuality, setSession } from './study-session-context';
import type { SessionCtx } from './study-session-context';
import { describeError } from './study-session-images';
import { fromRecords, listSeries, mergeListedWithHeaders } from './study-session-series';
import type { OpenRequest, SeriesOption, StackInstance } from './study-session-types';

/** One open of one study: what its retrieval, its listing and its resumes share. */
interface OpenRun {
  readonly ctx: SessionCtx;
  readonly req: OpenRequest;
  readonly uid: string;
  readonly mySession: number;
  readonly signal: AbortSignal;
  readonly onReady: (s: SeriesOption[]) => void;
  /** The study is shown (on the site's list, or on what the cache has): later answers only fill it in. */
  opened: boolean;
  /** The headers of the files stored before this open, by SOP instance. */
  headers: Map<string, StackInstance>;
}

/** What one retrieval ended with: the notice to show, and whether asking the site again may help. */
interface RetrieveOutcome {
  notice: string | undefined;
  retryable: boolean;
}

/** Shows `instances` (reading order per series when `ordered`); false when none is an image. */
async function showInstances(run: OpenRun, instances: StackInstance[], ordered: boolean, notice: string | undefined): Promise<boolean> {
  const { ctx } = run;
  const series = await ctx.deps.cache.getStudySeries(run.uid);
  if (run.mySession !== ctx.session) return true;
  ctx.allInstances = instances;
  ctx.bySop = new Map(instances.map((i) => [i.sopInstanceUID, i]));
  ctx.stacks.clear();
  if (ordered) {
    for (const i of instances) {
      const s = ctx.stacks.get(i.seriesInstanceUID) ?? [];
      s.push(i);
      ctx.stacks.set(i.seriesInstanceUID, s);
    }
  }
  const options = listSeries(instances, series);
  if (options.length === 0) return false;
  setSession(ctx, { phase: 'ready', series: options, message: notice });
  run.onReady(options);
  return true;
}

/** The site listed the study: it opens on that list at once, the slices filling in as they land. */
function onListed(run: OpenRun, instances: readonly ListedInstance[]): void {
  const { ctx } = run;
  if (!ctx.progressive || run.opened || run.mySession !== ctx.session) return;
  run.opened = true;
  const merged = mergeListedWithHeaders(instances, run.headers);
  // Known at once, so a slice stored before the series list is read still gets its header geometry.
  ctx.bySop = new Map(merged.map((i) => [i.sopInstanceUID, i]));
  setSession(ctx, { streaming: true });
  void ctx.deps.cache.touchStudy(run.uid).catch(() => undefined);
  void showInstances(run, merged, true, undefined).then((ok) => {
    if (!ok && run.mySession === ctx.session) setSession(ctx, { phase: 'error', message: 'The study has no images', progress: undefined, streaming: false });
  });
}

/** A site failure worth asking again about: offline, or the server's own trouble. */
function isRetryable(failure: SiteFailure): boolean {
  return isOfflineFailure(failure) || (failure.status ?? 0) >= 500;
}

function outcomeOf(run: OpenRun, result: EnsureStudyResult): RetrieveOutcome {
  if (!result.failure || result.complete) return { notice: undefined, retryable: false };
  return {
    notice: `Showing only the images in the local cache: ${run.req.site?.name ?? 'the site'} ${result.failure.message}`,
    retryable: isRetryable(result.failure),
  };
}

/** The retrieval threw; undefined when there is nothing more to do (the study was left, or shows the error). */
function failedOutcome(run: OpenRun, err: unknown): RetrieveOutcome | undefined {
  const { ctx } = run;
  if (run.mySession !== ctx.session) {
    ctx.deps.onCacheChanged?.();
    return undefined;
  }
  const message = err instanceof StudyUnavailableError ? err.message : `Could not open the study: ${describeError(err)}`;
  const retryable = err instanceof StudyUnavailableError && err.failure ? isRetryable(err.failure) : false;
  ctx.deps.log.warn(`Open ${run.uid}: ${message}`);
  if (!run.opened) {
    setSession(ctx, { phase: 'error', message, streaming: false });
    return undefined;
  }
  return { notice: message, retryable };
}

/** Nothing listed (the old path, or the site could not list and no list was kept): what the cache has; false when it has no image or the study was left. */
async function openOnCached(run: OpenRun, notice: string | undefined): Promise<boolean> {
  const { ctx } = run;
  const { cache } = ctx.deps;
  run.opened = true;
  await cache.touchStudy(run.uid).catch(() => undefined);
  const [instances, previewed] = await Promise.all([cache.getStudyInstances(run.uid), cache.previewSops(run.uid)]);
  if (run.mySession !== ctx.session) return false;
  noteCachedQualities(ctx, instances, previewed);
  if (!(await showInstances(run, sortStack(fromRecords(instances)), false, notice))) {
    setSession(ctx, { phase: 'error', message: 'The study has no images in the local cache', progress: undefined, streaming: false });
    return false;
  }
  setSession(ctx, { progress: undefined, streaming: false });
  return true;
}

/** The site failed part way: ask again while the study stays open (what landed stays viewable meanwhile). */
function scheduleResume(run: OpenRun, site: SiteSummary, attempt: number): void {
  const { ctx } = run;
  const delay = ctx.resumeDelays[Math.min(attempt, ctx.resumeDelays.length - 1)] ?? 15_000;
  ctx.deps.log.info(`Open ${run.uid}: asking ${site.id} again in ${delay} ms`);
  const tick = (): void => {
    ctx.resumeTimer = undefined;
    if (run.mySession !== ctx.session || run.signal.aborted) return;
    if (ctx.deps.isOnline && !ctx.deps.isOnline()) {
      ctx.resumeTimer = ctx.setTimer(tick, delay);
      return;
    }
    setSession(ctx, { streaming: true });
    void retrieve(run, attempt + 1);
  };
  ctx.resumeTimer = ctx.setTimer(tick, delay);
}

async function retrieve(run: OpenRun, attempt: number): Promise<void> {
  const { ctx, mySession } = run;
  let outcome: RetrieveOutcome | undefined;
  try {
    const result = await ctx.deps.retriever.ensureStudy({
      site: run.req.site,
      study: run.req.study,
      signal: run.signal,
      previews: ctx.progressive,
      onProgress: (progress) => {
        if (mySession === ctx.session) setSession(ctx, { progress });
      },
      onListed: (listing) => onListed(run, listing.instances),
      onInstanceStored: (e) => {
        if (mySession === ctx.session) completeFromHeader(ctx, e.sopInstanceUID, e);
        setQuality(ctx, e.sopInstanceUID, 'lossless', mySession);
      },
      onPreviewStored: (e) => setQuality(ctx, e.sopInstanceUID, 'preview', mySession),
    });
    outcome = outcomeOf(run, result);
  } catch (err) {
    outcome = failedOutcome(run, err);
    if (!outcome) return;
  }
  // Also when the study was left meanwhile: it went on streaming, and the worklist shows what landed.
  ctx.deps.onCacheChanged?.();
  if (mySession !== ctx.session) return;
  if (!run.opened) {
    if (!(await openOnCached(run, outcome.notice))) return;
  } else {
    setSession(ctx, { message: outcome.notice, progress: undefined, streaming: false });
  }
  if (outcome.retryable && ctx.progressive && run.req.site) scheduleResume(run, run.req.site, attempt);
}

/**
 * Opens the study: at once from the cache when it is complete there (no
 * network), else on the site's instance list as soon as it comes, else on
 * what the cache has once the retrieval ends.
 */
export async function openStudy(ctx: SessionCtx, req: OpenRequest, mySession: number, signal: AbortSignal, onReady: (s: SeriesOption[]) => void): Promise<void> {
  const { cache, retriever } = ctx.deps;
  const uid = req.study.studyInstanceUID;
  // Other instance queries of this study (the side panels') wait for the viewer's own list: it comes first.
  const firstSliceExpected = retriever.expectFirstSlice(uid);
  const [cachedStudy, records, previews] = await Promise.all([cache.getStudy(uid), cache.getStudyInstances(uid), cache.previewSops(uid)]);
  if (mySession !== ctx.session) return;
  noteCachedQualities(ctx, records, previews);
  const run: OpenRun = { ctx, req, uid, mySession, signal, onReady, opened: false, headers: new Map() };

  // Complete in the cache: opens at once, no network (the retrieval below answers from the cache).
  if (ctx.progressive && cachedStudy?.complete === true) {
    firstSliceExpected();
    await cache.touchStudy(uid).catch(() => undefined);
    if (!(await showInstances(run, sortStack(fromRecords(records)), false, undefined))) {
      setSession(ctx, { phase: 'error', message: 'The study has no images in the local cache', progress: undefined });
    }
    return;
  }
  run.headers = new Map(fromRecords(records).map((r) => [r.sopInstanceUID, r]));
  await retrieve(run, 0);
}
