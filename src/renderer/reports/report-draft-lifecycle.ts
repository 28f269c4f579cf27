import { errorMessage } from '../../shared/error-message';
import type { DraftAutosave } from './report-draft-autosave';
import type { ReportPanelCell } from './report-panel-cell';
import type { ReportPanelDeps, ReportPanelStore } from './report-panel-types';
import { QualityAcknowledgementRequiredError, SignRefusedError, qualityFindingLabel } from './report-sign-errors';
import { defaultTemplateFor, templateById } from './report-templates';

export type DraftLifecycle = Pick<ReportPanelStore, 'startReport' | 'startCorrection' | 'discardDraft' | 'sign' | 'acknowledgeQuality'>;

/** Beginning a draft (a report, or a correction of a signed one), discarding it, and signing it. */
export function createDraftLifecycle(cell: ReportPanelCell, autosave: DraftAutosave, deps: Pick<ReportPanelDeps, 'repo' | 'log'>): DraftLifecycle {
  const { repo, log } = deps;
  return {
    async startReport(templateId) {
      const c = cell.state.case;
      if (!c || cell.state.draft) return;
      const mine = cell.session;
      const template = templateId ? templateById(templateId) : defaultTemplateFor(c.modalities, cell.state.clinicalQuestion);
      try {
        const draft = await repo.createDraft({
          studyInstanceUID: c.studyInstanceUID,
          siteId: c.siteId,
          templateId: template.id,
          ...(cell.state.clinicalQuestion ? { clinicalQuestion: cell.state.clinicalQuestion } : {}),
        });
        if (mine === cell.session) autosave.adopt(draft);
      } catch (err) {
        log.error('Creating a draft failed', err);
        if (mine === cell.session) cell.set({ error: `The draft could not be created: ${errorMessage(err)}` });
      }
    },

    async startCorrection(reportId, kind) {
      if (cell.state.draft) {
        cell.set({ error: 'Finish or discard the open draft first.' });
        return;
      }
      const mine = cell.session;
      try {
        const draft = await repo.startCorrection(reportId, kind);
        if (mine === cell.session) autosave.adopt(draft);
      } catch (err) {
        log.error(`Starting an ${kind} of ${reportId} failed`, err);
        if (mine === cell.session) cell.set({ error: `The ${kind} could not be started: ${errorMessage(err)}` });
      }
    },

    async discardDraft() {
      const draft = cell.state.draft;
      if (!draft) return;
      await autosave.dropUnsaved();
      await repo.discardDraft(draft.id);
      if (cell.state.draft?.id === draft.id) autosave.adopt(undefined);
    },

    async sign() {
      const draft = cell.state.draft;
      if (!draft || cell.state.signing) return;
      const mine = cell.session;
      cell.set({ signing: true, error: undefined });
      try {
        await autosave.flush();
        if (autosave.hasUnsaved()) throw new Error(cell.state.save.message ?? 'the draft could not be saved');
        const q = cell.state.quality;
        const onWaiting = (note: string): void => {
          if (mine === cell.session) cell.set({ signNote: note });
        };
        await repo.sign(draft.id, q?.acknowledged ? { acknowledgedQuality: q.findings.map(qualityFindingLabel), onWaiting } : { onWaiting });
        if (mine !== cell.session) return;
        autosave.adopt(undefined);
        cell.set({ signing: false, signNote: undefined, quality: undefined });
      } catch (err) {
        if (!(err instanceof SignRefusedError)) log.error(`Signing draft ${draft.id} failed`, err);
        if (mine !== cell.session) return;
        if (err instanceof QualityAcknowledgementRequiredError) {
          // Findings that changed since the tick are ticked again: an acknowledgement covers what was shown.
          cell.set({ signing: false, signNote: undefined, quality: { findings: [...err.findings], acknowledged: false }, error: `Not signed: ${err.message}` });
        } else {
          cell.set({ signing: false, signNote: undefined, error: `Not signed: ${errorMessage(err)}` });
        }
      }
    },

    acknowledgeQuality(seen) {
      if (cell.state.quality) cell.set({ quality: { ...cell.state.quality, acknowledged: seen }, error: undefined });
    },
  };
}
