import { CacheIntegrityError } from '../cache/study-cache';
import { setQuality, setSession } from './study-session-context';
import type { SessionCtx } from './study-session-context';
import type { StackInstance } from './study-session-types';

/** What the viewer says when cached images failed their hash check and were dropped. */
export function integrityNote(dropped: number, refetching: boolean): string {
  const what = dropped === 1 ? '1 image failed its integrity check and was removed' : `${dropped} images failed their integrity check and were removed`;
  const it = dropped === 1 ? 'it is' : 'they are';
  const will = dropped === 1 ? 'it will' : 'they will';
  return refetching ? `${what}; ${it} being fetched again from the site` : `${what}; ${will} be fetched again when the site is reachable`;
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  // The image loader rejects with plain objects ({error, ...}) as often as with Errors.
  if (typeof err === 'object' && err !== null) {
    const inner = (err as { error?: unknown; message?: unknown }).error ?? (err as { message?: unknown }).message;
    if (inner instanceof Error) return inner.message;
    if (typeof inner === 'string') return inner;
    try {
      return JSON.stringify(err).slice(0, 200);
    } catch {
      return 'unknown error';
    }
  }
  return String(err);
}

/** Fetches the study again (the retriever skips what is stored, so exactly the dropped files), when the network allows. */
export function refetchDropped(ctx: SessionCtx, mySession: number): void {
  const { deps } = ctx;
  const req = ctx.currentReq;
  if (ctx.refetching || !req?.site || (deps.isOnline && !deps.isOnline())) return;
  ctx.refetching = true;
  void deps.retriever
    .ensureStudy({ site: req.site, study: req.study })
    .then((result) => {
      if (mySession !== ctx.session) return;
      deps.onCacheChanged?.();
      if (result.complete) {
        ctx.dropped.clear();
        setSession(ctx, { message: undefined, reloads: ctx.state.reloads + 1 });
      }
    })
    .catch((err: unknown) => deps.log.warn('Re-fetch of instances dropped by the integrity check failed', err))
    .finally(() => {
      ctx.refetching = false;
      if (mySession === ctx.session && ctx.dropped.size > 0) setSession(ctx, { message: integrityNote(ctx.dropped.size, false) });
    });
}

function onIntegrityDrop(ctx: SessionCtx, sopInstanceUID: string, mySession: number): void {
  ctx.dropped.add(sopInstanceUID);
  ctx.deps.log.warn(`Instance ${sopInstanceUID} failed its integrity check and was removed from the cache`);
  setQuality(ctx, sopInstanceUID, 'missing', mySession);
  ctx.deps.onCacheChanged?.();
  refetchDropped(ctx, mySession);
  setSession(ctx, { message: integrityNote(ctx.dropped.size, ctx.refetching) });
}

/** Reads the cached file (hash-checked) and registers it with the loader, once per open. */
export function imageIdFor(ctx: SessionCtx, inst: StackInstance): Promise<string> {
  let p = ctx.imageIds.get(inst.sopInstanceUID);
  if (!p) {
    p = ctx.deps.cache.readInstanceBytes(inst.sopInstanceUID).then((bytes) => {
      if (!bytes) throw new Error(`Instance ${inst.sopInstanceUID} is no longer in the cache`);
      return ctx.deps.imaging.addFile(new Blob([bytes], { type: 'application/dicom' }));
    });
    const mySession = ctx.session;
    // A failed read is not remembered: the next attempt reads again.
    p.catch((err: unknown) => {
      ctx.imageIds.delete(inst.sopInstanceUID);
      // Also when a neighbour read ahead of time is the corrupt one.
      if (err instanceof CacheIntegrityError && mySession === ctx.session) onIntegrityDrop(ctx, inst.sopInstanceUID, mySession);
    });
    ctx.imageIds.set(inst.sopInstanceUID, p);
  }
  return p;
}

/** Reads the cached preview and registers it with the preview loader; undefined when there is none (any more). */
export function previewImageIdFor(ctx: SessionCtx, inst: StackInstance): Promise<string | undefined> {
  let p = ctx.previewIds.get(inst.sopInstanceUID);
  if (!p) {
    const mySession = ctx.session;
    const { imaging } = ctx.deps;
    p = ctx.deps.cache.readPreview(inst.sopInstanceUID).then((preview) => {
      if (!preview) {
        // Gone (its lossless file arrived, or it failed its check and was deleted).
        if (ctx.quality.get(inst.sopInstanceUID) === 'preview') setQuality(ctx, inst.sopInstanceUID, 'missing', mySession);
        return undefined;
      }
      if (!imaging.addPreview) return undefined;
      return imaging.addPreview(preview.bytes, { ...(inst.columns ? { columns: inst.columns } : {}), ...(inst.rows ? { rows: inst.rows } : {}) });
    });
    p.then(
      (id) => id === undefined && ctx.previewIds.delete(inst.sopInstanceUID),
      () => ctx.previewIds.delete(inst.sopInstanceUID),
    );
    ctx.previewIds.set(inst.sopInstanceUID, p);
  }
  return p;
}
