import { step } from './annotation-history';
import { editText, removeAnnotation, setLocked, toggleKeyImage } from './annotation-edits';
import { PREVIEW_NOTICE } from './measurement-types';
import type { MeasurementDeps, MeasurementStore } from './measurement-types';
import { refresh } from './panel-state';
import { createStoreContext, setState } from './store-context';
import { answerTextPrompt, askText } from './text-prompt';
import { restoreAll } from './tool-state-bridge';
import { attachViewport, focusViewport } from './viewport-attachments';

export { LOCAL_AUTHOR, PREVIEW_NOTICE } from './measurement-types';
export type {
  AnnotationKind,
  DisplayedImages,
  KeyImageItem,
  MeasurementDeps,
  MeasurementItem,
  MeasurementState,
  MeasurementStore,
  TextPrompt,
} from './measurement-types';

/**
 * Annotations of the study in the viewer: drawn with cornerstone-tools, kept
 * per instance in IndexedDB (written on complete, modify and remove), restored
 * into the tool state whenever an instance is displayed in any attached
 * viewport. The figures shown are computed here from the handles and the
 * instance's calibration (see measure.ts). Every change the reader makes goes
 * through one undo stack, applied to the records and the database alike.
 *
 * The work is split by concern into the modules imported above, which share
 * one StoreContext (store-context.ts); this function only wires them up.
 */
export function createMeasurementStore(deps: MeasurementDeps): MeasurementStore {
  const ctx = createStoreContext(deps);
  const { tools } = deps;

  const store: MeasurementStore = {
    getState: () => ctx.state,
    subscribe: ctx.listeners.subscribe,
    setActiveTool(tool) {
      tools.setActiveTool(tool);
      setState(ctx, { activeTool: tool });
    },
    attach: (el, studyInstanceUID, imgs) => attachViewport(ctx, el, studyInstanceUID, imgs),
    focus: (el) => focusViewport(ctx, el),
    remove: (id) => removeAnnotation(ctx, id),
    removeSelected() {
      const id = ctx.state.selectedId;
      if (id && ctx.state.items.some((i) => i.id === id)) store.remove(id);
    },
    select(id) {
      setState(ctx, { selectedId: id, notice: undefined });
    },
    undo() {
      if (step(ctx, 'undo')) restoreAll(ctx);
    },
    redo() {
      if (step(ctx, 'redo')) restoreAll(ctx);
    },
    setLocked: (id, locked) => setLocked(ctx, id, locked),
    setHidden(hidden) {
      if (hidden === ctx.state.hidden) return;
      ctx.state.hidden = hidden;
      restoreAll(ctx);
    },
    toggleKeyImage: () => toggleKeyImage(ctx),
    refuseOnPreview(kind) {
      setState(ctx, { notice: kind === 'preview' ? PREVIEW_NOTICE : 'This slice has not arrived yet: measure on it once it is shown.' });
    },
    editText: (id) => editText(ctx, id),
    answerTextPrompt: (text) => answerTextPrompt(ctx, text),
  };

  tools.setTextHandlers({
    request(tool, done) {
      askText(ctx, { title: 'Arrow label', label: 'Text of the arrow', initial: '', numeric: false }, undefined, (text) => {
        done(text);
        // The arrow's completion (inside `done`) was recorded; select it and show the list.
        if (text) {
          const last = ctx.undoStack[ctx.undoStack.length - 1];
          if (last?.changes[0]?.after?.tool === tool) ctx.state.selectedId = last.changes[0].id;
        }
        refresh(ctx);
      });
    },
    edit(_tool, uuid) {
      store.editText(uuid);
    },
  });

  return store;
}
