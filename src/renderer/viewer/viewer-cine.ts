import { setOwn } from './viewer-context';
import type { ViewerCtx } from './viewer-context';
import type { Ticker } from './viewer-types';

const defaultTicker: Ticker = {
  every(ms, tick) {
    const id = setInterval(tick, ms);
    return () => clearInterval(id);
  },
};

export function stopCine(ctx: ViewerCtx): void {
  ctx.cineStop?.();
  ctx.cineStop = undefined;
  if (ctx.own.cine.slot !== undefined) setOwn(ctx, { cine: { fps: ctx.own.cine.fps } });
}

/** Plays the viewport's stack round at the chosen rate (a stack of one slice does not play). */
export function startCine(ctx: ViewerCtx, slot: number): void {
  ctx.cineStop?.();
  const vp = ctx.viewports[slot]!;
  if (vp.getState().count < 2) return;
  const ticker = ctx.deps.ticker ?? defaultTicker;
  // A tick while the last slice is still decoding is skipped: cine never piles up decodes.
  ctx.cineStop = ticker.every(1000 / ctx.own.cine.fps, () => {
    const s = vp.getState();
    if (s.busy || s.count < 2) return;
    vp.show((s.index + 1) % s.count, { direction: 1 });
  });
  setOwn(ctx, { cine: { fps: ctx.own.cine.fps, slot } });
}
