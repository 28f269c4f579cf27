import { errorMessage } from '../../shared/error-message';
import { createDraftAutosave } from './report-draft-autosave';
import { createDraftEdits } from './report-draft-edits';
import { createDraftLifecycle } from './report-draft-lifecycle';
import { EMPTY_SNAPSHOT, createReportPanelCell } from './report-panel-cell';
import type { ReportPanelDeps, ReportPanelStore } from './report-panel-types';
import { createReportPanelViews } from './report-panel-views';

export type { DraftSaveState, ReportCase, ReportPanelDeps, ReportPanelState, ReportPanelStore, ReportPdfState } from './report-panel-types';

/**
 * The report panel of the open case, outside React. The draft autosaves a
 * debounce after the last keystroke and on flush (blur, close, sign): see
 * report-draft-autosave.ts for why a slow save never claims, nor writes over,
 * newer text. A session number per opened case drops answers meant for a case
 * the reader has left. The parts (autosave, edits, draft lifecycle, side
 * views) share one state cell; this function wires them and runs a case's
 * opening and closing.
 */
export function createReportPanelStore(deps: ReportPanelDeps): ReportPanelStore {
  const { repo, log } = deps;
  const cell = createReportPanelCell();
  const autosave = createDraftAutosave({ cell, repo, autosaveMs: deps.autosaveMs ?? 2000, now: deps.now, log });
  const views = createReportPanelViews(cell, deps);

  return {
    getState: () => cell.state,
    subscribe: cell.subscribe,

    open(c) {
      const mine = ++cell.session;
      autosave.reset();
      views.forget();
      cell.set({
        phase: 'loading',
        case: c,
        draft: undefined,
        save: { phase: 'clean' },
        signing: false,
        error: undefined,
        snapshot: EMPTY_SNAPSHOT,
        siteReports: { phase: 'idle', items: [] },
        pdf: undefined,
        clinicalQuestion: undefined,
        profile: undefined,
        quality: undefined,
      });
      Promise.all([repo.draftsOfStudy(c.studyInstanceUID), repo.getProfile(), deps.clinicalQuestion(c.studyInstanceUID)])
        .then(([drafts, profile, clinicalQuestion]) => {
          if (mine !== cell.session) return;
          // Several drafts (a report and an addendum begun elsewhere): the latest edited one is continued.
          const draft = [...drafts].sort((a, b) => b.updatedAt - a.updatedAt)[0];
          cell.set({ phase: 'ready', ...(profile ? { profile } : {}), ...(clinicalQuestion ? { clinicalQuestion } : {}) });
          autosave.adopt(draft);
        })
        .catch((err: unknown) => {
          if (mine !== cell.session) return;
          log.error(`Loading the report of ${c.studyInstanceUID} failed`, err);
          cell.set({ phase: 'error', error: `The report could not be loaded: ${errorMessage(err)}` });
        });
      const stopObserving = deps.observe(
        c.studyInstanceUID,
        (snapshot) => {
          if (mine === cell.session) cell.set({ snapshot });
        },
        (err) => log.error(`Watching the reports of ${c.studyInstanceUID} failed`, err),
      );
      views.loadSiteReports();
      return () => {
        stopObserving();
        if (mine !== cell.session) return;
        // Whatever was typed is written before the case is forgotten.
        void autosave.flush().finally(() => {
          if (mine !== cell.session) return;
          cell.session++;
          views.forget();
          cell.set({ phase: 'idle', case: undefined, draft: undefined, save: { phase: 'clean' }, snapshot: EMPTY_SNAPSHOT, pdf: undefined, error: undefined });
        });
      };
    },

    ...createDraftEdits(cell, autosave, deps),
    ...createDraftLifecycle(cell, autosave, deps),
    flush: autosave.flush,

    async saveProfile(profile) {
      if (!profile.name.trim() || !profile.credentials.trim()) {
        cell.set({ error: 'Your profile needs both a name and credentials.' });
        return false;
      }
      try {
        await repo.saveProfile(profile);
        const saved = await repo.getProfile();
        cell.set({ ...(saved ? { profile: saved } : {}), error: undefined });
        return true;
      } catch (err) {
        log.error('Saving the profile failed', err);
        cell.set({ error: `The profile could not be saved: ${errorMessage(err)}` });
        return false;
      }
    },

    refreshSiteReports: views.loadSiteReports,
    openLocalPdf: views.openLocalPdf,
    openSitePdf: views.openSitePdf,
    closePdf: views.closePdf,

    dismissError() {
      if (cell.state.error) cell.set({ error: undefined });
    },
  };
}
