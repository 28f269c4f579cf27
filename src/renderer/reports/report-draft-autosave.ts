import type { Logger } from '../../shared/log';
import { errorMessage } from '../../shared/error-message';
import type { ReportContent, ReportDraftRecord } from '../cache/telerad-db';
import type { ReportPanelCell } from './report-panel-cell';
import type { ReportRepo } from './report-repo';

/** The draft's text as typed and its way into `reportDrafts`. */
export interface DraftAutosave {
  /** Changes the draft's content as typed; it is saved `autosaveMs` after the last change. */
  edit(change: (content: ReportContent) => ReportContent): void;
  /** Makes `draft` (or none) the panel's draft, as stored: nothing typed ahead of it. */
  adopt(draft: ReportDraftRecord | undefined): void;
  /** Writes what is typed now; resolves once the latest edit is stored, or a save failed. */
  flush(): Promise<void>;
  /** Whether an edit is not stored (yet): a save is still to come, or failed. */
  hasUnsaved(): boolean;
  /** Forgets the edits of the case left: no save waiting, none counted. */
  reset(): void;
  /** Gives up the edits not saved (the draft is being discarded); resolves once a save under way has ended. */
  dropUnsaved(): Promise<void>;
}

export interface DraftAutosaveDeps {
  cell: ReportPanelCell;
  repo: Pick<ReportRepo, 'saveDraft'>;
  autosaveMs: number;
  now: () => number;
  log: Logger;
}

/**
 * Every edit bumps an edit revision; saves run one at a time, each writes the
 * text of the revision it started with, and "Saved" is shown only once the
 * saved revision is the edited one — so a slow save finishing late never
 * claims, nor writes over, newer text.
 */
export function createDraftAutosave(deps: DraftAutosaveDeps): DraftAutosave {
  const { cell, repo, log } = deps;
  let editRev = 0;
  let savedRev = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inflight: Promise<void> | undefined;

  const clearTimer = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };

  /** One save at a time; loops until what is stored is the latest edit of this draft. */
  const flush = async (): Promise<void> => {
    clearTimer();
    for (;;) {
      if (inflight) {
        await inflight;
        continue;
      }
      const draft = cell.state.draft;
      if (!draft || savedRev >= editRev) return;
      const rev = editRev;
      const mySession = cell.session;
      const content = draft.content;
      const updatedAt = deps.now();
      if (mySession === cell.session) cell.set({ save: { ...cell.state.save, phase: 'saving' } });
      inflight = repo
        .saveDraft(draft.id, content, updatedAt)
        .then((result) => {
          if (result === 'stale') log.warn(`Draft ${draft.id}: a newer version is stored (another window?); this save was dropped`);
          if (mySession !== cell.session || cell.state.draft?.id !== draft.id) return;
          savedRev = Math.max(savedRev, rev);
          if (result === 'gone') {
            cell.set({ draft: undefined, save: { phase: 'clean' } });
            return;
          }
          cell.set({ save: savedRev >= editRev ? { phase: 'saved', savedAt: updatedAt } : { ...cell.state.save, phase: 'dirty' } });
        })
        .catch((err: unknown) => {
          log.error(`Saving draft ${draft.id} failed`, err);
          // The text stays in the editor: the next edit or flush tries again.
          if (mySession === cell.session) cell.set({ save: { ...cell.state.save, phase: 'error', message: `Not saved: ${errorMessage(err)}` } });
          throw err;
        })
        .finally(() => {
          inflight = undefined;
        });
      try {
        await inflight;
      } catch {
        return;
      }
    }
  };

  return {
    edit(change) {
      const draft = cell.state.draft;
      if (!draft) return;
      editRev++;
      cell.set({ draft: { ...draft, content: change(draft.content) }, save: { ...cell.state.save, phase: 'dirty' } });
      clearTimer();
      timer = setTimeout(() => void flush(), deps.autosaveMs);
    },
    adopt(draft) {
      editRev = 0;
      savedRev = 0;
      cell.set({ draft, save: draft ? { phase: 'saved', savedAt: draft.updatedAt } : { phase: 'clean' } });
    },
    flush,
    hasUnsaved: () => savedRev < editRev,
    reset() {
      clearTimer();
      editRev = 0;
      savedRev = 0;
    },
    async dropUnsaved() {
      clearTimer();
      editRev = savedRev;
      await inflight?.catch(() => undefined);
    },
  };
}
