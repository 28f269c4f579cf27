import { errorMessage } from '../../shared/error-message';
import type { ReportContent } from '../cache/telerad-db';
import type { DraftAutosave } from './report-draft-autosave';
import { isReportableMeasurement } from './report-measurements';
import type { ReportPanelCell } from './report-panel-cell';
import type { ReportPanelDeps, ReportPanelStore } from './report-panel-types';
import type { ReportTemplate } from './report-templates';
import { templateById } from './report-templates';

export type DraftEdits = Pick<ReportPanelStore, 'setTemplate' | 'editSection' | 'setPriority' | 'setCritical' | 'insertMeasurements' | 'toggleKeyImage'>;

/** The content under another template: its sections, the referral's question where it quotes it. */
export function contentUnderTemplate(content: ReportContent, template: ReportTemplate, clinicalQuestion: string | undefined): ReportContent {
  const sections: Record<string, string> = {};
  for (const s of template.sections) sections[s.id] = content.sections[s.id] ?? '';
  if (template.readOnlySectionIds.includes('question')) sections['question'] = clinicalQuestion ?? '';
  // Text under a heading the new template lacks is kept, not dropped: it goes to the first writable section.
  const lost = Object.entries(content.sections).filter(([id, text]) => !(id in sections) && text.trim() && id !== 'question');
  const first = template.sections.find((s) => !template.readOnlySectionIds.includes(s.id));
  if (first && lost.length > 0) sections[first.id] = [sections[first.id], ...lost.map(([, t]) => t)].filter((t) => t?.trim()).join('\n\n');
  return { ...content, templateId: template.id, sections };
}

/** The edits of the draft's content: each goes through the autosave. */
export function createDraftEdits(cell: ReportPanelCell, autosave: DraftAutosave, deps: Pick<ReportPanelDeps, 'measurementLines' | 'log'>): DraftEdits {
  const { log } = deps;
  const { edit } = autosave;
  return {
    setTemplate(templateId) {
      const template = templateById(templateId);
      edit((content) => contentUnderTemplate(content, template, cell.state.clinicalQuestion));
    },

    editSection(sectionId, text) {
      const template = cell.state.draft ? templateById(cell.state.draft.content.templateId) : undefined;
      if (template?.readOnlySectionIds.includes(sectionId)) return;
      edit((content) => ({ ...content, sections: { ...content.sections, [sectionId]: text } }));
    },

    setPriority(priority) {
      edit((content) => ({ ...content, priority }));
    },

    setCritical(critical) {
      edit(({ critical: _old, ...content }) => (critical ? { ...content, critical } : content));
    },

    async insertMeasurements() {
      const draft = cell.state.draft;
      if (!draft) return;
      const mine = cell.session;
      const fresh = cell.state.snapshot.annotations.filter((a) => isReportableMeasurement(a) && !draft.content.measurementIds.includes(a.id));
      if (fresh.length === 0) {
        cell.set({ error: 'No measurement of this study to insert: draw one in the viewer first.' });
        return;
      }
      let lines: string[];
      try {
        lines = await deps.measurementLines(fresh);
      } catch (err) {
        log.error('Describing measurements failed', err);
        if (mine === cell.session) cell.set({ error: `The measurements could not be read: ${errorMessage(err)}` });
        return;
      }
      if (mine !== cell.session) return;
      const template = templateById(draft.content.templateId);
      const target = template.sections.find((s) => s.id === 'findings') ?? template.sections.find((s) => s.id === 'answer') ?? template.sections[0]!;
      edit((content) => {
        const before = content.sections[target.id]?.trimEnd() ?? '';
        const text = [before, ...lines].filter((t) => t).join('\n');
        return { ...content, sections: { ...content.sections, [target.id]: text }, measurementIds: [...content.measurementIds, ...fresh.map((a) => a.id)] };
      });
    },

    toggleKeyImage(uid) {
      edit((content) => ({
        ...content,
        keyImageSopInstanceUIDs: content.keyImageSopInstanceUIDs.includes(uid)
          ? content.keyImageSopInstanceUIDs.filter((u) => u !== uid)
          : [...content.keyImageSopInstanceUIDs, uid],
      }));
    },
  };
}
