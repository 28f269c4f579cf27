/** What the reader does to kept annotations from the panel: delete, lock, edit a text, flag a key image. */
import type { AnnotationRecord, KeyImageRecord } from '../../cache/telerad-db';
import { commit, track, write } from './annotation-history';
import { refresh } from './panel-state';
import { KIND, KIND_WORD, focusedShown, setState } from './store-context';
import type { StoreContext } from './store-context';
import { askText } from './text-prompt';
import { restoreAll } from './tool-state-bridge';

export function removeAnnotation(ctx: StoreContext, id: string): void {
  const rec = ctx.records.get(id);
  if (!rec) return;
  if (rec.locked) {
    setState(ctx, { notice: `The ${KIND_WORD[KIND[rec.tool] ?? 'length']} is locked: unlock it to delete it.` });
    return;
  }
  commit(ctx, { study: rec.studyInstanceUID, what: `delete ${KIND_WORD[KIND[rec.tool] ?? 'length']}`, changes: [{ id, before: rec, after: undefined }] });
  for (const att of ctx.attachments) ctx.deps.tools.removeMeasurement(att.el, rec.tool, id);
  if (ctx.state.selectedId === id) ctx.state.selectedId = undefined;
  ctx.state.notice = undefined;
  if (rec.tool === 'Calibration') restoreAll(ctx);
  else refresh(ctx);
}

/** Locking is not an undoable change: it guards the annotation against changes, undo included. */
export function setLocked(ctx: StoreContext, id: string, locked: boolean): void {
  const rec = ctx.records.get(id);
  if (!rec || (rec.locked === true) === locked) return;
  write(ctx, id, { ...rec, locked, updatedAt: ctx.deps.now() });
  ctx.state.notice = undefined;
  restoreAll(ctx);
}

/** Asks for a new text of an arrow or free-text label. */
export function editText(ctx: StoreContext, id: string): void {
  const rec = ctx.records.get(id);
  if (!rec || (rec.tool !== 'ArrowAnnotate' && rec.tool !== 'TextMarker')) return;
  if (rec.locked) {
    setState(ctx, { notice: 'The text is locked: unlock it to change it.' });
    restoreAll(ctx);
    return;
  }
  const current = typeof rec.data.text === 'string' ? rec.data.text : '';
  askText(ctx, { title: 'Change the text', label: 'Text', initial: current, numeric: false }, undefined, (text) => {
    const now = ctx.records.get(id);
    if (text && now && text !== current) {
      const after: AnnotationRecord = { ...now, data: { ...now.data, text }, updatedAt: ctx.deps.now() };
      commit(ctx, { study: now.studyInstanceUID, what: 'edit text', changes: [{ id, before: now, after }] });
    }
    restoreAll(ctx); // also clears the highlight the double click left
  });
}

/** Flags or unflags the focused viewport's instance as a key image. */
export function toggleKeyImage(ctx: StoreContext): void {
  const f = focusedShown(ctx);
  if (!f) return;
  if (f.shown.preview) {
    setState(ctx, { notice: 'A key image is marked on its lossless image: this slice is still a preview (not for diagnosis). Wait until it is replaced.' });
    return;
  }
  const sop = f.shown.sopInstanceUID;
  const { repo } = ctx.deps;
  if (ctx.keyImages.has(sop)) {
    ctx.keyImages.delete(sop);
    track(ctx, repo.removeKeyImage(sop), `Unflagging key image ${sop}`);
  } else {
    const rec: KeyImageRecord = {
      sopInstanceUID: sop,
      studyInstanceUID: f.shown.studyInstanceUID,
      seriesInstanceUID: f.shown.seriesInstanceUID,
      author: ctx.author,
      createdAt: ctx.deps.now(),
    };
    ctx.keyImages.set(sop, rec);
    track(ctx, repo.putKeyImage(rec), `Flagging key image ${sop}`);
  }
  refresh(ctx);
}
