/** What the measurement panel shows, recomputed from the records and the focused viewport. */
import { describeCalibration } from '../../lib/measure';
import type { MeasurementItem } from './measurement-types';
import { topOf } from './annotation-history';
import { calibrationOf, describe } from './measurement-figures';
import { setState, shownImage } from './store-context';
import type { StoreContext } from './store-context';

/** Recomputes everything the panel shows from the records and the focused viewport. */
export function refresh(ctx: StoreContext): void {
  const att = ctx.focused;
  const shown = att?.images.displayed();
  const image = att && shown ? shownImage(ctx, att, shown) : undefined;
  const cal = shown ? calibrationOf(ctx, shown.sopInstanceUID, image) : undefined;
  const items = shown
    ? [...ctx.records.values()]
        .filter((r) => r.sopInstanceUID === shown.sopInstanceUID)
        .sort((a, b) => a.createdAt - b.createdAt)
        .map((r) => describe(r, image, cal))
        .filter((i): i is MeasurementItem => i !== undefined)
    : [];
  const study = att?.studyUid;
  const undoTop = topOf(ctx.undoStack, study);
  const redoTop = topOf(ctx.redoStack, study);
  setState(ctx, {
    items,
    previewShown: shown?.preview === true,
    calibration: shown ? describeCalibration(cal) : '',
    canUndo: undoTop !== undefined,
    canRedo: redoTop !== undefined,
    undoLabel: undoTop ? `Undo ${undoTop.what}` : 'Nothing to undo',
    redoLabel: redoTop ? `Redo ${redoTop.what}` : 'Nothing to redo',
    keyImages: [...ctx.keyImages.values()]
      .filter((k) => k.studyInstanceUID === study)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((k) => ({ sopInstanceUID: k.sopInstanceUID, seriesInstanceUID: k.seriesInstanceUID, author: k.author, createdAt: k.createdAt })),
    isKeyImage: shown ? ctx.keyImages.has(shown.sopInstanceUID) : false,
  });
}
