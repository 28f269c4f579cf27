import type { ReportDraftRecord } from '../cache/telerad-db';
import { OUTBOX_TABLE } from '../outbox';
import type { DraftSaveResult, ReportRepo, ReportRepoDeps } from './report-repo-types';
import { SignRefusedError } from './report-sign-errors';
import { outboxLabel, prepareSignature } from './report-signing';
import { templateById } from './report-templates';

export type { DraftSaveResult, NewDraft, ReportRepo, ReportRepoDeps, SignOptions } from './report-repo-types';
export { QualityAcknowledgementRequiredError, SignRefusedError, qualityFindingLabel } from './report-sign-errors';
export { COMPREHENSIVE_SR_SOP_CLASS, outboxLabel } from './report-signing';

/**
 * Drafts, the profile and signing, over Dexie. Nothing here touches the
 * network: a report is signed the same on a train without signal as at a
 * desk, and the outbox delivers it when the site can be reached.
 */
export function createReportRepo(deps: ReportRepoDeps): ReportRepo {
  const { db, log } = deps;

  return {
    getProfile: () => db.userProfile.get('me'),
    async saveProfile(profile) {
      await db.userProfile.put({ ...profile, name: profile.name.trim(), credentials: profile.credentials.trim(), id: 'me' });
    },
    draftsOfStudy: (uid) => db.reportDrafts.where('studyInstanceUID').equals(uid).sortBy('createdAt'),
    reportsOfStudy: (uid) => db.reports.where('studyInstanceUID').equals(uid).sortBy('signedAt'),

    async createDraft(input) {
      const t = deps.now();
      const template = templateById(input.templateId);
      const sections: Record<string, string> = {};
      for (const s of template.sections) sections[s.id] = '';
      if (template.readOnlySectionIds.includes('question')) sections['question'] = input.clinicalQuestion?.trim() ?? '';
      const draft: ReportDraftRecord = {
        id: deps.randomUUID(),
        studyInstanceUID: input.studyInstanceUID,
        siteId: input.siteId,
        kind: 'report',
        content: { templateId: template.id, sections, priority: 'routine', measurementIds: [], keyImageSopInstanceUIDs: [] },
        createdAt: t,
        updatedAt: t,
      };
      await db.reportDrafts.add(draft);
      return draft;
    },

    saveDraft(id, content, updatedAt) {
      return db.transaction('rw', db.reportDrafts, async (): Promise<DraftSaveResult> => {
        const stored = await db.reportDrafts.get(id);
        if (!stored) return 'gone';
        if (stored.updatedAt > updatedAt) return 'stale';
        await db.reportDrafts.put({ ...stored, content, updatedAt });
        return 'saved';
      });
    },

    async discardDraft(id) {
      await db.reportDrafts.delete(id);
    },

    async startCorrection(reportId, kind) {
      const original = await db.reports.get(reportId);
      if (!original) throw new Error(`Signed report ${reportId} not found`);
      const t = deps.now();
      const template = templateById(original.content.templateId);
      // An amendment restates the report (its text is the starting point); an addendum only adds.
      const sections: Record<string, string> =
        kind === 'amendment' ? { ...original.content.sections } : Object.fromEntries(template.sections.map((s) => [s.id, '']));
      if (kind === 'addendum' && template.readOnlySectionIds.includes('question')) sections['question'] = original.content.sections['question'] ?? '';
      const draft: ReportDraftRecord = {
        id: deps.randomUUID(),
        studyInstanceUID: original.studyInstanceUID,
        siteId: original.siteId,
        kind,
        predecessorReportId: original.id,
        content: {
          ...original.content,
          sections,
          ...(kind === 'addendum' ? { measurementIds: [], keyImageSopInstanceUIDs: [] } : {}),
        },
        createdAt: t,
        updatedAt: t,
      };
      await db.reportDrafts.add(draft);
      return draft;
    },

    /**
     * Signs a draft. Offline behaviour: works with no network at all. The
     * author comes from the local profile, the patient and study from a
     * cached instance, the images from the cache; the SR and PDF are built
     * in memory with UIDs made here, once (report-signing.ts). Then ONE Dexie
     * transaction writes the immutable signed report and the outbox job
     * carrying both instances (state queued) and deletes the draft: after a
     * crash either all of it happened or none did. Only after that commits is
     * the outbox woken; it sends when the site answers, always these same UIDs.
     */
    async sign(draftId, options) {
      const { draft, study, uids, signedAt, built, jobId, report } = await prepareSignature(deps, draftId, options);
      await db.transaction('rw', [db.reports, OUTBOX_TABLE, db.reportDrafts], async (tx) => {
        if (!(await db.reportDrafts.get(draftId))) throw new SignRefusedError('This draft was signed or discarded meanwhile.');
        await db.reports.add(report);
        await deps.enqueueOutboxJob(tx, {
          id: jobId,
          siteId: draft.siteId,
          studyInstanceUID: draft.studyInstanceUID,
          kind: 'report',
          reportId: report.id,
          label: outboxLabel(draft.kind, study),
          instances: [built.sr, built.pdf],
          createdAt: signedAt,
        });
        await db.reportDrafts.delete(draftId);
      });
      log.info(`Signed ${draft.kind} ${report.id} of ${draft.studyInstanceUID}: SR ${uids.srSopInstanceUID}, PDF ${uids.pdfSopInstanceUID}, outbox job ${jobId}`);
      void deps.audit?.({
        action: 'report.sign',
        patient: { ...(study.patientId ? { id: study.patientId } : {}), ...(study.patientName ? { name: study.patientName } : {}) },
        studyInstanceUID: draft.studyInstanceUID,
        sopInstanceUIDs: [uids.srSopInstanceUID, uids.pdfSopInstanceUID],
        siteId: draft.siteId,
        outcome: 'success',
      });
      return report;
    },
  };
}
