import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { Finding } from '../../shared/quality';
import { createListeners } from '../../shared/store/listeners';
import type { AnnotationRecord, CriticalFinding, ReportContent, ReportDraftRecord, ReportKind, ReportPriority, SignedReportRecord, UserProfileRecord } from '../cache/telerad-db';
import type { ReportRepo } from './report-repo';
import { QualityAcknowledgementRequiredError, SignRefusedError, qualityFindingLabel } from './report-repo';
import type { ReadSiteReports, ReportPdfRef, SiteReport } from './report-readback';
import type { ObserveStudyReports, StudyReportSnapshot } from './report-status';
import { defaultTemplateFor, templateById } from './report-templates';
import { isReportableMeasurement } from './report-measurements';
import { errorMessage } from '../../shared/error-message';

/** The case the panel is for: the study open in the viewer. */
export interface ReportCase {
  site: SiteSummary | undefined;
  siteId: string;
  studyInstanceUID: string;
  modalities: readonly string[];
  description: string;
}

/** Where the draft's text is: typed but not written yet, being written, written at `savedAt`, or failed. */
export interface DraftSaveState {
  phase: 'clean' | 'dirty' | 'saving' | 'saved' | 'error';
  savedAt?: number;
  message?: string;
}

export interface ReportPdfState {
  title: string;
  phase: 'loading' | 'ready' | 'error';
  data?: Uint8Array;
  message?: string;
}

export interface ReportPanelState {
  phase: 'idle' | 'loading' | 'ready' | 'error';
  case?: ReportCase;
  profile?: UserProfileRecord;
  /** The referral's clinical question (a consult note quotes it). */
  clinicalQuestion?: string;
  /** The draft being written, with the text as typed (ahead of what is stored while `save.phase` is dirty/saving). */
  draft?: ReportDraftRecord;
  save: DraftSaveState;
  signing: boolean;
  /** While signing waits for something (the lossless images of measured slices): what, in words. */
  signNote?: string;
  /** The last refusal or failure (sign, save, profile), shown as an alert. */
  error?: string;
  snapshot: StudyReportSnapshot;
  /** Reports the study's site holds (the referring side's read-back). */
  siteReports: { phase: 'idle' | 'loading' | 'ready' | 'error'; items: SiteReport[]; message?: string };
  pdf?: ReportPdfState;
  /**
   * Issue 8: the study's warnings and blockers, once signing asked for them to be
   * acknowledged, and whether the reader ticked "I have seen these quality findings".
   */
  quality?: { findings: Finding[]; acknowledged: boolean };
  /** Bumped by every change: a render can tell two states apart cheaply. */
  revision: number;
}

export interface ReportPanelDeps {
  repo: ReportRepo;
  observe: ObserveStudyReports;
  /** The referral's clinical question of a study, if any (Dexie `referrals`). */
  clinicalQuestion: (studyInstanceUID: string) => Promise<string | undefined>;
  /** One readable line per measurement ("Length 42.7 mm (image 12)"), in the annotations' order. */
  measurementLines: (annotations: readonly AnnotationRecord[]) => Promise<string[]>;
  readSiteReports?: ReadSiteReports;
  /** The PDF of a report signed here (from its outbox job's bytes). */
  loadLocalPdf: (report: SignedReportRecord) => Promise<Uint8Array>;
  /** The PDF of a report at the site (WADO-RS through the cache). */
  loadSitePdf: (site: SiteSummary | undefined, studyInstanceUID: string, pdf: ReportPdfRef) => Promise<Uint8Array>;
  /** Debounce of the draft autosave; default 2 s. */
  autosaveMs?: number;
  now: () => number;
  log: Logger;
}

export interface ReportPanelStore {
  getState(): ReportPanelState;
  subscribe(listener: () => void): () => void;
  /** Loads the case's draft, reports and profile; the returned function saves what is typed and forgets the case. */
  open(c: ReportCase): () => void;
  startReport(templateId?: string): Promise<void>;
  setTemplate(templateId: string): void;
  editSection(sectionId: string, text: string): void;
  setPriority(priority: ReportPriority): void;
  setCritical(critical: CriticalFinding | undefined): void;
  /** Appends a line per measurement of the study not inserted yet to the findings (the answer, in a consult note). */
  insertMeasurements(): Promise<void>;
  toggleKeyImage(sopInstanceUID: string): void;
  /** Writes what is typed now (blur, close, before signing); resolves once it is stored. */
  flush(): Promise<void>;
  discardDraft(): Promise<void>;
  sign(): Promise<void>;
  /** Ticks (or unticks) "I have seen these quality findings"; the next sign records it. */
  acknowledgeQuality(seen: boolean): void;
  startCorrection(reportId: string, kind: Exclude<ReportKind, 'report'>): Promise<void>;
  saveProfile(profile: Omit<UserProfileRecord, 'id'>): Promise<boolean>;
  refreshSiteReports(): void;
  openLocalPdf(report: SignedReportRecord): void;
  openSitePdf(pdf: ReportPdfRef): void;
  closePdf(): void;
  dismissError(): void;
}

const EMPTY_SNAPSHOT: StudyReportSnapshot = { reports: [], jobs: {}, annotations: [], keyImages: [] };


/**
 * The report panel of the open case, outside React. The draft autosaves a
 * debounce after the last keystroke and on flush (blur, close, sign). Every
 * edit bumps an edit revision; saves run one at a time, each writes the
 * text of the revision it started with, and "Saved" is shown only once the
 * saved revision is the edited one — so a slow save finishing late never
 * claims, nor writes over, newer text. A session number per opened case
 * drops answers meant for a case the reader has left.
 */
export function createReportPanelStore(deps: ReportPanelDeps): ReportPanelStore {
  const { repo, log } = deps;
  const autosaveMs = deps.autosaveMs ?? 2000;
  const listeners = createListeners();
  let state: ReportPanelState = {
    phase: 'idle',
    save: { phase: 'clean' },
    signing: false,
    snapshot: EMPTY_SNAPSHOT,
    siteReports: { phase: 'idle', items: [] },
    revision: 0,
  };
  let session = 0;
  let editRev = 0;
  let savedRev = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inflight: Promise<void> | undefined;
  let pdfRev = 0;
  let siteRev = 0;

  const set = (patch: Partial<ReportPanelState>): void => {
    state = { ...state, ...patch, revision: state.revision + 1 };
    listeners.notify();
  };

  const clearTimer = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };

  /** One save at a time; loops until what is stored is the latest edit of this draft. */
  const flushDraft = async (): Promise<void> => {
    clearTimer();
    for (;;) {
      if (inflight) {
        await inflight;
        continue;
      }
      const draft = state.draft;
      if (!draft || savedRev >= editRev) return;
      const rev = editRev;
      const mySession = session;
      const content = draft.content;
      const updatedAt = deps.now();
      if (mySession === session) set({ save: { ...state.save, phase: 'saving' } });
      inflight = repo
        .saveDraft(draft.id, content, updatedAt)
        .then((result) => {
          if (result === 'stale') log.warn(`Draft ${draft.id}: a newer version is stored (another window?); this save was dropped`);
          if (mySession !== session || state.draft?.id !== draft.id) return;
          savedRev = Math.max(savedRev, rev);
          if (result === 'gone') {
            set({ draft: undefined, save: { phase: 'clean' } });
            return;
          }
          set({ save: savedRev >= editRev ? { phase: 'saved', savedAt: updatedAt } : { ...state.save, phase: 'dirty' } });
        })
        .catch((err: unknown) => {
          log.error(`Saving draft ${draft.id} failed`, err);
          // The text stays in the editor: the next edit or flush tries again.
          if (mySession === session) set({ save: { ...state.save, phase: 'error', message: `Not saved: ${errorMessage(err)}` } });
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

  const edit = (change: (content: ReportContent) => ReportContent): void => {
    const draft = state.draft;
    if (!draft) return;
    editRev++;
    set({ draft: { ...draft, content: change(draft.content) }, save: { ...state.save, phase: 'dirty' } });
    clearTimer();
    timer = setTimeout(() => void flushDraft(), autosaveMs);
  };

  const adoptDraft = (draft: ReportDraftRecord | undefined): void => {
    editRev = 0;
    savedRev = 0;
    set({ draft, save: draft ? { phase: 'saved', savedAt: draft.updatedAt } : { phase: 'clean' } });
  };

  const loadSiteReports = (): void => {
    const c = state.case;
    if (!c?.site || !deps.readSiteReports) return;
    const mine = ++siteRev;
    set({ siteReports: { ...state.siteReports, phase: 'loading' } });
    deps
      .readSiteReports(c.site, c.studyInstanceUID)
      .then((items) => {
        if (mine === siteRev) set({ siteReports: { phase: 'ready', items } });
      })
      .catch((err: unknown) => {
        if (mine !== siteRev) return;
        log.warn(`Reading the reports of ${c.studyInstanceUID} at its site failed`, err);
        set({ siteReports: { ...state.siteReports, phase: 'error', message: `The site's reports could not be read: ${errorMessage(err)}` } });
      });
  };

  const loadPdf = (title: string, load: () => Promise<Uint8Array>): void => {
    const mine = ++pdfRev;
    set({ pdf: { title, phase: 'loading' } });
    load()
      .then((data) => {
        if (mine === pdfRev) set({ pdf: { title, phase: 'ready', data } });
      })
      .catch((err: unknown) => {
        if (mine !== pdfRev) return;
        log.warn(`Report PDF "${title}": ${errorMessage(err)}`);
        set({ pdf: { title, phase: 'error', message: errorMessage(err) } });
      });
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,

    open(c) {
      const mine = ++session;
      clearTimer();
      editRev = 0;
      savedRev = 0;
      siteRev++;
      pdfRev++;
      set({
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
          if (mine !== session) return;
          // Several drafts (a report and an addendum begun elsewhere): the latest edited one is continued.
          const draft = [...drafts].sort((a, b) => b.updatedAt - a.updatedAt)[0];
          set({ phase: 'ready', ...(profile ? { profile } : {}), ...(clinicalQuestion ? { clinicalQuestion } : {}) });
          adoptDraft(draft);
        })
        .catch((err: unknown) => {
          if (mine !== session) return;
          log.error(`Loading the report of ${c.studyInstanceUID} failed`, err);
          set({ phase: 'error', error: `The report could not be loaded: ${errorMessage(err)}` });
        });
      const stopObserving = deps.observe(
        c.studyInstanceUID,
        (snapshot) => {
          if (mine === session) set({ snapshot });
        },
        (err) => log.error(`Watching the reports of ${c.studyInstanceUID} failed`, err),
      );
      loadSiteReports();
      return () => {
        stopObserving();
        if (mine !== session) return;
        // Whatever was typed is written before the case is forgotten.
        void flushDraft().finally(() => {
          if (mine !== session) return;
          session++;
          pdfRev++;
          siteRev++;
          set({ phase: 'idle', case: undefined, draft: undefined, save: { phase: 'clean' }, snapshot: EMPTY_SNAPSHOT, pdf: undefined, error: undefined });
        });
      };
    },

    async startReport(templateId) {
      const c = state.case;
      if (!c || state.draft) return;
      const mine = session;
      const template = templateId ? templateById(templateId) : defaultTemplateFor(c.modalities, state.clinicalQuestion);
      try {
        const draft = await repo.createDraft({
          studyInstanceUID: c.studyInstanceUID,
          siteId: c.siteId,
          templateId: template.id,
          ...(state.clinicalQuestion ? { clinicalQuestion: state.clinicalQuestion } : {}),
        });
        if (mine === session) adoptDraft(draft);
      } catch (err) {
        log.error('Creating a draft failed', err);
        if (mine === session) set({ error: `The draft could not be created: ${errorMessage(err)}` });
      }
    },

    setTemplate(templateId) {
      const template = templateById(templateId);
      edit((content) => {
        const sections: Record<string, string> = {};
        for (const s of template.sections) sections[s.id] = content.sections[s.id] ?? '';
        if (template.readOnlySectionIds.includes('question')) sections['question'] = state.clinicalQuestion ?? '';
        // Text under a heading the new template lacks is kept, not dropped: it goes to the first writable section.
        const lost = Object.entries(content.sections).filter(([id, text]) => !(id in sections) && text.trim() && id !== 'question');
        const first = template.sections.find((s) => !template.readOnlySectionIds.includes(s.id));
        if (first && lost.length > 0) sections[first.id] = [sections[first.id], ...lost.map(([, t]) => t)].filter((t) => t?.trim()).join('\n\n');
        return { ...content, templateId: template.id, sections };
      });
    },

    editSection(sectionId, text) {
      const template = state.draft ? templateById(state.draft.content.templateId) : undefined;
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
      const draft = state.draft;
      if (!draft) return;
      const mine = session;
      const fresh = state.snapshot.annotations.filter((a) => isReportableMeasurement(a) && !draft.content.measurementIds.includes(a.id));
      if (fresh.length === 0) {
        set({ error: 'No measurement of this study to insert: draw one in the viewer first.' });
        return;
      }
      let lines: string[];
      try {
        lines = await deps.measurementLines(fresh);
      } catch (err) {
        log.error('Describing measurements failed', err);
        if (mine === session) set({ error: `The measurements could not be read: ${errorMessage(err)}` });
        return;
      }
      if (mine !== session) return;
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

    flush: flushDraft,

    async discardDraft() {
      const draft = state.draft;
      if (!draft) return;
      clearTimer();
      editRev = savedRev;
      await inflight?.catch(() => undefined);
      await repo.discardDraft(draft.id);
      if (state.draft?.id === draft.id) adoptDraft(undefined);
    },

    async sign() {
      const draft = state.draft;
      if (!draft || state.signing) return;
      const mine = session;
      set({ signing: true, error: undefined });
      try {
        await flushDraft();
        if (savedRev < editRev) throw new Error(state.save.message ?? 'the draft could not be saved');
        const q = state.quality;
        const onWaiting = (note: string): void => {
          if (mine === session) set({ signNote: note });
        };
        await repo.sign(draft.id, q?.acknowledged ? { acknowledgedQuality: q.findings.map(qualityFindingLabel), onWaiting } : { onWaiting });
        if (mine !== session) return;
        adoptDraft(undefined);
        set({ signing: false, signNote: undefined, quality: undefined });
      } catch (err) {
        if (!(err instanceof SignRefusedError)) log.error(`Signing draft ${draft.id} failed`, err);
        if (mine !== session) return;
        if (err instanceof QualityAcknowledgementRequiredError) {
          // Findings that changed since the tick are ticked again: an acknowledgement covers what was shown.
          set({ signing: false, signNote: undefined, quality: { findings: [...err.findings], acknowledged: false }, error: `Not signed: ${err.message}` });
        } else {
          set({ signing: false, signNote: undefined, error: `Not signed: ${errorMessage(err)}` });
        }
      }
    },

    acknowledgeQuality(seen) {
      if (state.quality) set({ quality: { ...state.quality, acknowledged: seen }, error: undefined });
    },

    async startCorrection(reportId, kind) {
      if (state.draft) {
        set({ error: 'Finish or discard the open draft first.' });
        return;
      }
      const mine = session;
      try {
        const draft = await repo.startCorrection(reportId, kind);
        if (mine === session) adoptDraft(draft);
      } catch (err) {
        log.error(`Starting an ${kind} of ${reportId} failed`, err);
        if (mine === session) set({ error: `The ${kind} could not be started: ${errorMessage(err)}` });
      }
    },

    async saveProfile(profile) {
      if (!profile.name.trim() || !profile.credentials.trim()) {
        set({ error: 'Your profile needs both a name and credentials.' });
        return false;
      }
      try {
        await repo.saveProfile(profile);
        const saved = await repo.getProfile();
        set({ ...(saved ? { profile: saved } : {}), error: undefined });
        return true;
      } catch (err) {
        log.error('Saving the profile failed', err);
        set({ error: `The profile could not be saved: ${errorMessage(err)}` });
        return false;
      }
    },

    refreshSiteReports: loadSiteReports,

    openLocalPdf(report) {
      loadPdf(`${templateById(report.content.templateId).title} (PDF)`, () => deps.loadLocalPdf(report));
    },

    openSitePdf(pdf) {
      const c = state.case;
      if (!c) return;
      loadPdf(pdf.title, () => deps.loadSitePdf(c.site, c.studyInstanceUID, pdf));
    },

    closePdf() {
      pdfRev++;
      if (state.pdf) set({ pdf: undefined });
    },

    dismissError() {
      if (state.error) set({ error: undefined });
    },
  };
}
