import type { StoredAnyEvent } from '../cache/study-retriever';
import { CacheIntegrityError } from '../cache/study-cache';
import { sortStack } from '../../shared/dicom/stack-order';
import { INITIAL_SESSION, clearStudy, completeFromHeader, createSessionCtx, setQuality, setSession } from './study-session-context';
import { describeError, imageIdFor, previewImageIdFor, refetchDropped } from './study-session-images';
import { openStudy } from './study-session-open';
import type { SessionDeps, StudySession } from './study-session-types';

export { describeError, integrityNote } from './study-session-images';
export type {
  OpenRequest,
  SeriesOption,
  SessionDeps,
  SessionPhase,
  SessionSourceDeps,
  SessionState,
  SliceQuality,
  StackInstance,
  StudySession,
} from './study-session-types';

/**
 * One open study: retrieval into the cache, its series, and the cached files
 * registered with the image loader. A `session` counter (one per open) makes
 * a retrieval that finishes after the study was closed change nothing.
 * Pixels come only from the cache, each file hash-checked as it is read; a
 * dropped file is fetched again (exactly that one: the retriever skips what
 * is stored) when the network allows. A study not complete in the cache
 * opens on its instance list and every slice is painted the moment its bytes
 * (or first its preview) are stored; a site that fails mid-stream is asked
 * again, with growing pauses, for as long as the study stays open.
 *
 * The concerns live in their own modules, sharing one explicit state object
 * (`SessionCtx`, with the counter): opening and retrieval with its resumes
 * (study-session-open), cached reads and integrity drops
 * (study-session-images), the series list and slice merging
 * (study-session-series).
 */
export function createStudySession(deps: SessionDeps): StudySession {
  const { retriever, imaging, log } = deps;
  const ctx = createSessionCtx(deps);

  // Instances stored by any retrieval of the open study (a resume from the transfers panel, prefetch).
  retriever.onStored((e: StoredAnyEvent) => {
    if (!ctx.currentReq || e.studyInstanceUID !== ctx.currentReq.study.studyInstanceUID) return;
    if (e.kind === 'lossless') completeFromHeader(ctx, e.sopInstanceUID, e.header);
    setQuality(ctx, e.sopInstanceUID, e.kind, ctx.session);
  });

  return {
    getState: () => ctx.state,
    subscribe: ctx.listeners.subscribe,
    open(req, onReady) {
      const mySession = ++ctx.session;
      const abort = new AbortController();
      clearStudy(ctx);
      ctx.currentReq = req;
      ctx.dropped.clear();
      ctx.refetching = false;
      ctx.state = INITIAL_SESSION;
      setSession(ctx, {});
      void openStudy(ctx, req, mySession, abort.signal, onReady).catch((err: unknown) => {
        if (mySession !== ctx.session) return;
        log.error('Opening the study failed', err);
        setSession(ctx, { phase: 'error', message: `Could not open the study: ${describeError(err)}` });
      });
      return () => {
        if (mySession !== ctx.session) return;
        ctx.session++;
        if (ctx.resumeTimer !== undefined) ctx.clearTimer(ctx.resumeTimer);
        ctx.resumeTimer = undefined;
        // Leaving a study does not throw its transfer away: it goes on behind the next one opened.
        retriever.setForegroundStudy(req.study.studyInstanceUID, false);
        if (!ctx.progressive) abort.abort();
        ctx.currentReq = undefined;
        clearStudy(ctx);
        imaging.releaseAll();
      };
    },
    stackOf(seriesUid) {
      let s = ctx.stacks.get(seriesUid);
      if (!s) {
        s = sortStack(ctx.allInstances.filter((i) => i.seriesInstanceUID === seriesUid));
        if (s.length > 0) ctx.stacks.set(seriesUid, s);
      }
      return s;
    },
    quality: (sop) => ctx.quality.get(sop) ?? 'missing',
    onSliceChange(listener) {
      ctx.sliceListeners.add(listener);
      return () => ctx.sliceListeners.delete(listener);
    },
    imageIdFor: (inst) => imageIdFor(ctx, inst),
    previewImageIdFor: (inst) => previewImageIdFor(ctx, inst),
    isIntegrityDrop: (err, sop) => err instanceof CacheIntegrityError || ctx.dropped.has(sop),
    focus(sop, direction) {
      const req = ctx.currentReq;
      if (req) retriever.focus(req.study.studyInstanceUID, sop, direction);
    },
    refetchDropped() {
      if (ctx.currentReq && ctx.dropped.size > 0) refetchDropped(ctx, ctx.session);
    },
    request: () => ctx.currentReq,
  };
}
