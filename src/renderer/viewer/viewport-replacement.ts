import { beginDecode, endDecode, imageIdOf, syncViewportState } from './viewport-context';
import type { ViewportCtx } from './viewport-context';
import { paint } from './viewport-loading';

/**
 * A slice of the open study got better bytes: the one on screen is replaced
 * in place (preview → lossless), the read-ahead refreshed.
 */
export function watchSliceChanges(ctx: ViewportCtx): void {
  ctx.deps.session.onSliceChange((sop, quality) => {
    const at = ctx.indexOfSop.get(sop);
    if (at === undefined || ctx.stack.length === 0) return;
    if (quality !== 'missing') ctx.preloader?.invalidate(at);
    const { state } = ctx;
    const here = ctx.stack[state.index];
    if (!ctx.element || here?.inst.sopInstanceUID !== sop || quality === 'missing') return;
    if (state.quality === 'lossless' || (state.quality === 'preview' && quality === 'preview')) return;
    if (state.phase === 'error') return;
    paint(ctx, state.index, 0);
  });
}

/**
 * Enables Cornerstone on `el` and shows the current slice there: a viewport
 * shown again (the layout grew back) repaints its lossless slice with the
 * stored view. The returned function disables it and keeps its zoom and pan.
 */
export function attachElement(ctx: ViewportCtx, el: HTMLElement): () => void {
  const { cs } = ctx;
  ctx.element = el;
  cs.enable(el);
  const { state } = ctx;
  const kept = state.displayedIndex >= 0 && state.quality === 'lossless' ? { ...state } : undefined;
  if (ctx.stack.length > 0) {
    if (kept) {
      ctx.newStack = false;
      const rev = ++ctx.display;
      const myStack = ctx.stackRev;
      beginDecode(ctx);
      void imageIdOf(ctx, ctx.stack[kept.displayedIndex]!)
        .then((id) => cs.loadAndCacheImage(id))
        .then((image) => {
          if (rev !== ctx.display || myStack !== ctx.stackRev || el !== ctx.element) return;
          cs.displayImage(el, image);
          const vp = cs.getViewport(el);
          if (vp) {
            vp.voi = { ...vp.voi, ...(kept.voi ?? {}) };
            vp.rotation = kept.rotation;
            vp.hflip = kept.hflip;
            vp.vflip = kept.vflip;
            vp.invert = kept.invert;
            if (ctx.keptView) {
              vp.scale = ctx.keptView.scale;
              vp.translation = { ...ctx.keptView.translation };
            }
            cs.setViewport(el, vp);
          }
          syncViewportState(ctx);
        })
        .catch((err: unknown) => ctx.deps.log.warn(`Viewport ${ctx.deps.slot + 1}: repaint failed`, err))
        .finally(() => endDecode(ctx));
    } else {
      ctx.newStack = true;
      paint(ctx, ctx.state.index, 0);
    }
  }
  return () => {
    if (ctx.element !== el) return;
    ctx.display++;
    // Hidden by a smaller layout: its zoom and pan come back with it (same slot, same size).
    const vp = ctx.state.displayedIndex >= 0 ? cs.getViewport(el) : undefined;
    ctx.keptView = vp ? { scale: vp.scale, translation: { x: vp.translation.x, y: vp.translation.y } } : undefined;
    ctx.element = undefined;
    cs.disable(el);
  };
}
