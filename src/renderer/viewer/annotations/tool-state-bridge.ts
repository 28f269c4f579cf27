/**
 * The records into cornerstone-tools' tool state: whenever an instance is
 * displayed, and after any change that alters what is drawn.
 */
import type { MeasurementData } from 'cornerstone-tools';
import type { DisplayedInstance } from '../viewport-store';
import { calibrationOf, hasManualCalibration } from './measurement-figures';
import { refresh } from './panel-state';
import { shownImage } from './store-context';
import type { Attachment, StoreContext } from './store-context';

/** Tells cornerstone-tools the spacing of a manually calibrated image, for its own labels. */
export function updateSpacing(ctx: StoreContext, att: Attachment, shown: DisplayedInstance): void {
  const manual = hasManualCalibration(ctx, shown.sopInstanceUID) ? calibrationOf(ctx, shown.sopInstanceUID, shownImage(ctx, att, shown)) : undefined;
  ctx.deps.tools.setManualSpacing(shown.imageId, manual?.source === 'Manual' ? manual : undefined);
}

/** Puts the shown instance's annotations into the viewport's tool state (copies: the tool mutates its own). */
export function restore(ctx: StoreContext, att: Attachment): void {
  const shown = att.images.displayed();
  if (!shown) return;
  att.restoredImageId = shown.imageId;
  updateSpacing(ctx, att, shown);
  // Nothing is drawn over a preview: it is the site's rendering, not the pixels a measurement was made on.
  const mine = ctx.state.hidden || shown.preview ? [] : [...ctx.records.values()].filter((r) => r.sopInstanceUID === shown.sopInstanceUID);
  ctx.deps.tools.replaceImageState(
    att.el,
    shown.imageId,
    mine.map((r) => ({ tool: r.tool, data: { ...(JSON.parse(JSON.stringify(r.data)) as MeasurementData), visible: true, locked: r.locked === true } })),
  );
  if (att === ctx.focused) refresh(ctx);
}

export function restoreAll(ctx: StoreContext): void {
  for (const att of ctx.attachments) restore(ctx, att);
  refresh(ctx);
}
