import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { Finding } from '../../shared/quality';
import type { LoadState } from '../../shared/store/load-state';
import type { AnnotationRecord, CriticalFinding, ReportDraftRecord, ReportKind, ReportPriority, SignedReportRecord, UserProfileRecord } from '../cache/telerad-db';
import type { ReportRepo } from './report-repo';
import type { ReadSiteReports, ReportPdfRef, SiteReport } from './report-readback';
import type { ObserveStudyReports, StudyReportSnapshot } from './report-status';

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

/** The report PDF shown in the viewer, as it loads. */
export interface ReportPdfState extends LoadState<Uint8Array> {
  title: string;
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
