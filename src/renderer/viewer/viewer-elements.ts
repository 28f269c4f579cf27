import type { MeasurementStore } from './annotations/measurement-store';
import { stopCine } from './viewer-cine';
import type { ViewerCtx } from './viewer-context';

/** The measurement store's multi-viewport `focus`, where it has one. */
export function focusMeasurements(ctx: ViewerCtx): void {
  const m = ctx.deps.measurements as (MeasurementStore & { focus?: (el: HTMLElement) => void }) | undefined;
  const el = ctx.elements.get(ctx.own.active);
  if (el) m?.focus?.(el);
}

/** Measurements follow every mounted viewport of the open study. */
export function attachMeasurements(ctx: ViewerCtx, slot: number): void {
  const m = ctx.deps.measurements;
  const el = ctx.elements.get(slot);
  const req = ctx.session.request();
  if (!m || !el || !req || ctx.measurementDetach.has(slot)) return;
  const vp = ctx.viewports[slot]!;
  ctx.measurementDetach.set(slot, m.attach(el, req.study.studyInstanceUID, { displayed: () => vp.getState().displayed, subscribe: vp.subscribe }));
  if (slot === ctx.own.active) focusMeasurements(ctx);
}

export function detachMeasurements(ctx: ViewerCtx, slot: number): void {
  ctx.measurementDetach.get(slot)?.();
  ctx.measurementDetach.delete(slot);
}

/** A viewport element mounted: its viewport paints on it and its measurements follow; the returned function unmounts it. */
export function attachViewportElement(ctx: ViewerCtx, slot: number, el: HTMLElement): () => void {
  const vp = ctx.viewports[slot]!;
  ctx.elements.set(slot, el);
  const detach = vp.attach(el);
  attachMeasurements(ctx, slot);
  return () => {
    if (ctx.own.cine.slot === slot) stopCine(ctx);
    detachMeasurements(ctx, slot);
    if (ctx.elements.get(slot) === el) ctx.elements.delete(slot);
    detach();
  };
}
