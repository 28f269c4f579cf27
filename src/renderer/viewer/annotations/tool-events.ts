/**
 * cornerstone-tools' completed / modified / removed events on one viewport,
 * turned into records and undo entries.
 */
import type { MeasurementData } from 'cornerstone-tools';
import type { AnnotationRecord } from '../../cache/telerad-db';
import type { DisplayedInstance } from '../viewport-store';
import type { ToolEventDetail } from '../tools-setup';
import { commit, write } from './annotation-history';
import { PREVIEW_NOTICE } from './measurement-types';
import { refresh } from './panel-state';
import { KIND, KIND_WORD, setState, storable } from './store-context';
import type { Attachment, StoreContext } from './store-context';
import { askText } from './text-prompt';
import { restore, restoreAll, updateSpacing } from './tool-state-bridge';

export type ToolEventKind = 'completed' | 'modified' | 'removed';

function newRecord(
  ctx: StoreContext,
  id: string,
  shown: DisplayedInstance,
  tool: string,
  data: MeasurementData,
  extra: Partial<AnnotationRecord> = {},
): AnnotationRecord {
  const t = ctx.deps.now();
  return {
    id,
    studyInstanceUID: shown.studyInstanceUID,
    seriesInstanceUID: shown.seriesInstanceUID,
    sopInstanceUID: shown.sopInstanceUID,
    tool,
    data: storable(data),
    author: ctx.author,
    createdAt: t,
    updatedAt: t,
    ...extra,
  };
}

/** A free-text label or a calibration line was placed: it is kept once the reader has typed what it needs. */
function completeWithText(ctx: StoreContext, att: Attachment, shown: DisplayedInstance, tool: string, data: MeasurementData): void {
  const id = data.uuid!;
  const drop = (): void => {
    ctx.deps.tools.removeMeasurement(att.el, tool, id);
    refresh(ctx);
  };
  if (tool === 'TextMarker') {
    askText(ctx, { title: 'Text on the image', label: 'Text', initial: '', numeric: false }, att, (text) => {
      if (!text) return drop();
      const rec = newRecord(ctx, id, shown, tool, { ...data, text });
      commit(ctx, { study: shown.studyInstanceUID, what: 'add text', changes: [{ id, before: undefined, after: rec }] });
      ctx.state.selectedId = id;
      restoreAll(ctx);
    });
    return;
  }
  askText(ctx, { title: 'Calibrate this image', label: 'Known size of the reference object (mm)', initial: '', numeric: true }, att, (text) => {
    if (!text) return drop();
    const referenceMm = Number.parseFloat(text.replace(',', '.'));
    const rec = newRecord(ctx, id, shown, tool, data, { referenceMm });
    // One calibration per instance: a new one replaces the old.
    const old = [...ctx.records.values()].filter((r) => r.sopInstanceUID === shown.sopInstanceUID && r.tool === 'Calibration');
    commit(ctx, {
      study: shown.studyInstanceUID,
      what: 'calibrate',
      changes: [...old.map((r) => ({ id: r.id, before: r, after: undefined })), { id, before: undefined, after: rec }],
    });
    ctx.deps.log.info(`Manual calibration of ${shown.sopInstanceUID}: ${referenceMm} mm reference`);
    restoreAll(ctx);
  });
}

/** A new annotation's completion: kept (or asked about, or refused on a preview). */
function completeNew(ctx: StoreContext, att: Attachment, shown: DisplayedInstance, kind: ToolEventKind, tool: string, data: MeasurementData): void {
  const id = data.uuid!;
  if (shown.preview) {
    // Never kept: a measurement on a preview would measure the site's JPEG, not the image.
    ctx.deps.tools.removeMeasurement(att.el, tool, id);
    setState(ctx, { notice: PREVIEW_NOTICE });
    return;
  }
  // While a new one is being drawn it is "modified" on every mouse move: it is stored once complete.
  if (kind === 'modified') return;
  // The Cobb angle completes its first line before the second is drawn.
  if (tool === 'CobbAngle' && data.complete === false) return;
  if (tool === 'TextMarker' || tool === 'Calibration') return completeWithText(ctx, att, shown, tool, data);
  const rec = newRecord(ctx, id, shown, tool, data);
  commit(ctx, { study: rec.studyInstanceUID, what: `draw ${KIND_WORD[KIND[tool]!]}`, changes: [{ id, before: undefined, after: rec }] });
  ctx.state.selectedId = id;
  if (ctx.state.hidden) {
    // Drawing shows the others again rather than leave the new one alone on the image.
    ctx.state.hidden = false;
    restoreAll(ctx);
  } else refresh(ctx);
}

/** A kept annotation was moved (or is being dragged): one undo entry per drag. */
function moveExisting(ctx: StoreContext, att: Attachment, shown: DisplayedInstance, kind: ToolEventKind, tool: string, existing: AnnotationRecord, data: MeasurementData): void {
  const id = data.uuid!;
  if (existing.locked) {
    // cornerstone-tools was told not to move it; put it back should anything have.
    restore(ctx, att);
    return;
  }
  const rec: AnnotationRecord = { ...existing, data: storable(data), updatedAt: ctx.deps.now() };
  const top = ctx.undoStack[ctx.undoStack.length - 1];
  if (top && top.openId === id) {
    top.changes[0]!.after = rec;
    write(ctx, id, rec);
  } else {
    commit(ctx, { study: existing.studyInstanceUID, what: `move ${KIND_WORD[KIND[tool]!]}`, changes: [{ id, before: existing, after: rec }], openId: id });
  }
  // The drag has ended: the next move is another entry.
  if (kind === 'completed') delete ctx.undoStack[ctx.undoStack.length - 1]!.openId;
  ctx.state.selectedId = id;
  if (tool === 'Calibration') {
    updateSpacing(ctx, att, shown);
    if (kind === 'completed') return restoreAll(ctx); // relabel the other tools' figures
  }
  refresh(ctx);
}

/** The listener for one tool event kind on one attached viewport. */
export function onToolEvent(ctx: StoreContext, att: Attachment, kind: ToolEventKind): (e: Event) => void {
  return (e) => {
    const detail = (e as CustomEvent<ToolEventDetail>).detail;
    const data = detail?.measurementData;
    const tool = detail?.toolName ?? detail?.toolType;
    const shown = att.images.displayed();
    if (!data?.uuid || !tool || !KIND[tool] || !shown) return;
    const id = data.uuid;
    const existing = ctx.records.get(id);
    if (kind === 'completed' || existing) ctx.focused = att;
    if (kind === 'removed') {
      if (!existing) return;
      commit(ctx, { study: existing.studyInstanceUID, what: `delete ${KIND_WORD[KIND[tool]!]}`, changes: [{ id, before: existing, after: undefined }] });
      refresh(ctx);
      return;
    }
    if (!existing) return completeNew(ctx, att, shown, kind, tool, data);
    moveExisting(ctx, att, shown, kind, tool, existing, data);
  };
}
