import { setState, syncViewportState } from './viewport-context';
import type { CsViewport, ViewportCtx } from './viewport-context';
import type { ViewportStore } from './viewport-types';

type DisplayControls = Pick<
  ViewportStore,
  'adjustVoi' | 'applyPreset' | 'zoomBy' | 'panBy' | 'rotateBy' | 'flipHorizontal' | 'flipVertical' | 'toggleInvert' | 'reset' | 'resize'
>;

/** Changes Cornerstone's viewport of the painted slice, then mirrors it into the state. */
function withViewport(ctx: ViewportCtx, change: (vp: CsViewport) => void): void {
  const { element, cs } = ctx;
  if (!element || ctx.state.displayedIndex < 0) return;
  const vp = cs.getViewport(element);
  if (!vp) return;
  change(vp);
  cs.setViewport(element, vp);
  syncViewportState(ctx);
}

/** Windowing, zoom, pan, turns and flips of one viewport. */
export function displayControls(ctx: ViewportCtx): DisplayControls {
  return {
    adjustVoi(dx, dy) {
      // A preview is the site's rendering in 8 bits: there is no window to change on it.
      if (ctx.state.quality === 'preview') return;
      withViewport(ctx, (vp) => {
        vp.voi.windowWidth = Math.max(1, vp.voi.windowWidth + dx * 2);
        vp.voi.windowCenter = vp.voi.windowCenter + dy * 2;
      });
    },
    applyPreset(name) {
      const preset = ctx.state.presets.find((p) => p.name === name);
      if (!preset) return;
      if (ctx.state.quality === 'preview') {
        // Kept for the lossless image that replaces the preview.
        ctx.losslessVoi = { windowWidth: preset.windowWidth, windowCenter: preset.windowCenter };
        setState(ctx, { voi: { ...ctx.losslessVoi } });
        return;
      }
      withViewport(ctx, (vp) => {
        vp.voi.windowWidth = preset.windowWidth;
        vp.voi.windowCenter = preset.windowCenter;
      });
    },
    zoomBy(factor) {
      withViewport(ctx, (vp) => {
        vp.scale = Math.max(0.05, Math.min(40, vp.scale * factor));
      });
    },
    panBy(dx, dy) {
      withViewport(ctx, (vp) => {
        // Cornerstone applies the translation after its zoom but before rotation and flips, in screen-aligned axes.
        vp.translation = { x: vp.translation.x + dx / vp.scale, y: vp.translation.y + dy / vp.scale };
      });
    },
    rotateBy(degrees) {
      withViewport(ctx, (vp) => {
        vp.rotation = ((((vp.rotation ?? 0) + degrees) % 360) + 360) % 360;
      });
    },
    flipHorizontal() {
      withViewport(ctx, (vp) => {
        vp.hflip = !vp.hflip;
      });
    },
    flipVertical() {
      withViewport(ctx, (vp) => {
        vp.vflip = !vp.vflip;
      });
    },
    toggleInvert() {
      withViewport(ctx, (vp) => {
        vp.invert = !vp.invert;
      });
    },
    reset() {
      if (!ctx.element || ctx.state.displayedIndex < 0) return;
      ctx.cs.reset(ctx.element);
      // Back to the image's own window: on a preview, that of the lossless image once it is in.
      ctx.losslessVoi = undefined;
      syncViewportState(ctx);
    },
    resize() {
      // Also before the first image: with no image yet, Cornerstone only resizes the canvas.
      if (ctx.element) ctx.cs.resize(ctx.element, true);
      if (ctx.state.displayedIndex >= 0) syncViewportState(ctx);
    },
  };
}
