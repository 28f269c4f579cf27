import { hangingIndex } from '../../shared/dicom/stack-order';
import type { SliceQuality } from './study-session';
import { replaceState, setStack, setState, stopPreloader } from './viewport-context';
import type { ViewportCtx } from './viewport-context';
import { paint } from './viewport-loading';
import { EMPTY } from './viewport-types';
import type { ShowOptions } from './viewport-types';

/** Shows a series of the open study, its middle slice first; a new stack revision keeps late images of the last one out. */
export function loadSeries(ctx: ViewportCtx, seriesUid: string): void {
  const { session } = ctx.deps;
  const instances = session.getState().series.some((s) => s.seriesInstanceUID === seriesUid) ? session.stackOf(seriesUid) : [];
  if (instances.length === 0) return;
  const option = session.getState().series.find((s) => s.seriesInstanceUID === seriesUid);
  ctx.stackRev++;
  ctx.display++;
  ctx.keptView = undefined;
  stopPreloader(ctx);
  ctx.lastFocus = -1;
  setStack(ctx, instances.map((inst) => ({ inst })));
  ctx.newStack = true;
  ctx.losslessVoi = undefined;
  const index = hangingIndex(ctx.stack.length);
  replaceState(ctx, {
    ...EMPTY,
    phase: 'loading',
    seriesInstanceUID: seriesUid,
    seriesDescription: option?.description ?? '',
    modality: option?.modality ?? '',
    count: ctx.stack.length,
    index,
    ...(option?.seriesNumber !== undefined ? { seriesNumber: option.seriesNumber } : {}),
  });
  // The middle slice first: in a CT or MR stack it is the likeliest to show the anatomy of interest.
  const hanging = ctx.stack[index];
  if (hanging) session.focus(hanging.inst.sopInstanceUID, 0);
  if (ctx.element) paint(ctx, index, 0);
}

/** Moves to slice `requested` (clamped); the retrieval follows the reader. */
export function show(ctx: ViewportCtx, requested: number, opts: ShowOptions = {}): void {
  const { stack, state } = ctx;
  if (stack.length === 0) return;
  const index = Math.max(0, Math.min(stack.length - 1, Math.round(requested)));
  const direction = opts.direction ?? (index > state.index ? 1 : index < state.index ? -1 : 0);
  // The retrieval follows the reader: this slice (then its neighbours) goes first.
  const entry = stack[index];
  if (entry) ctx.deps.session.focus(entry.inst.sopInstanceUID, direction);
  if (!ctx.element) {
    setState(ctx, { index });
    return;
  }
  paint(ctx, index, direction);
  if (!opts.synced) ctx.deps.onNavigate?.(index);
}

/** The study closed: forget the stack (and any answer still on its way for it). */
export function clearStack(ctx: ViewportCtx): void {
  ctx.stackRev++;
  ctx.display++;
  stopPreloader(ctx);
  setStack(ctx, []);
  ctx.losslessVoi = undefined;
  replaceState(ctx, EMPTY);
}

/** The session got back images the integrity check dropped: show this slice again. */
export function reloadSlice(ctx: ViewportCtx): void {
  if (ctx.stack.length > 0 && ctx.element) paint(ctx, ctx.state.index, 0);
}

export function sliceQualities(ctx: ViewportCtx): SliceQuality[] {
  return ctx.stack.map((e) => ctx.deps.session.quality(e.inst.sopInstanceUID));
}

export function planes(ctx: ViewportCtx): { position?: readonly number[]; orientation?: readonly number[] }[] {
  return ctx.stack.map((e) => ({ position: e.frame === undefined ? e.inst.imagePositionPatient : undefined, orientation: e.inst.imageOrientationPatient }));
}
