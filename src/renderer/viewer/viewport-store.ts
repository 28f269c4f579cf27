import { createViewportCtx } from './viewport-context';
import { displayControls } from './viewport-display';
import { clearStack, loadSeries, planes, reloadSlice, show, sliceQualities } from './viewport-navigation';
import { attachElement, watchSliceChanges } from './viewport-replacement';
import type { ViewportDeps, ViewportStore } from './viewport-types';

export { assertDecodedSize } from './viewport-loading';
export type { DisplayedInstance, ShowOptions, StackEntry, ViewportDeps, ViewportPhase, ViewportState, ViewportStore } from './viewport-types';

/**
 * One viewport of the viewer: a stack of one series, the slice on its
 * canvas, and how it is windowed and turned. A `display` revision per
 * requested slice keeps a slow decode of slice 3 from painting over slice 9
 * the reader has scrolled to since; a `stackRev` per loaded series keeps a
 * late image of the previous series out. Failures stay in this viewport.
 *
 * The concerns live in their own modules, sharing one explicit state object
 * (`ViewportCtx`): stack navigation (viewport-navigation), loading and
 * painting with the revision counters (viewport-loading), preview → lossless
 * replacement and re-attachment (viewport-replacement), and windowing and
 * view changes (viewport-display).
 */
export function createViewportStore(deps: ViewportDeps): ViewportStore {
  const ctx = createViewportCtx(deps);
  watchSliceChanges(ctx);
  return {
    slot: deps.slot,
    getState: () => ctx.state,
    subscribe: ctx.listeners.subscribe,
    attach: (el) => attachElement(ctx, el),
    element: () => ctx.element,
    loadSeries: (seriesUid) => loadSeries(ctx, seriesUid),
    show: (index, opts) => show(ctx, index, opts),
    scroll(delta) {
      show(ctx, ctx.state.index + delta);
    },
    sliceQualities: () => sliceQualities(ctx),
    planes: () => planes(ctx),
    ...displayControls(ctx),
    clear: () => clearStack(ctx),
    reload: () => reloadSlice(ctx),
  };
}
