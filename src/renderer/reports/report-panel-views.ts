import { errorMessage } from '../../shared/error-message';
import type { ReportPanelCell } from './report-panel-cell';
import type { ReportPanelDeps, ReportPanelStore } from './report-panel-types';
import { templateById } from './report-templates';

/** What the panel shows beside the draft: the reports at the study's site, and one report's PDF. */
export interface ReportPanelViews extends Pick<ReportPanelStore, 'openLocalPdf' | 'openSitePdf' | 'closePdf'> {
  /** (Re)reads the reports the open case's site holds. */
  loadSiteReports(): void;
  /** Drops every answer still to come (the case changes): it would be for the case left. */
  forget(): void;
}

/**
 * A revision per view: a late answer (a slow site, a second PDF clicked
 * before the first arrived) never overwrites the newer one.
 */
export function createReportPanelViews(
  cell: ReportPanelCell,
  deps: Pick<ReportPanelDeps, 'readSiteReports' | 'loadLocalPdf' | 'loadSitePdf' | 'log'>,
): ReportPanelViews {
  const { log } = deps;
  let pdfRev = 0;
  let siteRev = 0;

  const loadPdf = (title: string, load: () => Promise<Uint8Array>): void => {
    const mine = ++pdfRev;
    cell.set({ pdf: { title, phase: 'loading' } });
    load()
      .then((data) => {
        if (mine === pdfRev) cell.set({ pdf: { title, phase: 'ready', data } });
      })
      .catch((err: unknown) => {
        if (mine !== pdfRev) return;
        log.warn(`Report PDF "${title}": ${errorMessage(err)}`);
        cell.set({ pdf: { title, phase: 'error', message: errorMessage(err) } });
      });
  };

  return {
    loadSiteReports() {
      const c = cell.state.case;
      if (!c?.site || !deps.readSiteReports) return;
      const mine = ++siteRev;
      cell.set({ siteReports: { ...cell.state.siteReports, phase: 'loading' } });
      deps
        .readSiteReports(c.site, c.studyInstanceUID)
        .then((items) => {
          if (mine === siteRev) cell.set({ siteReports: { phase: 'ready', items } });
        })
        .catch((err: unknown) => {
          if (mine !== siteRev) return;
          log.warn(`Reading the reports of ${c.studyInstanceUID} at its site failed`, err);
          cell.set({ siteReports: { ...cell.state.siteReports, phase: 'error', message: `The site's reports could not be read: ${errorMessage(err)}` } });
        });
    },

    openLocalPdf(report) {
      loadPdf(`${templateById(report.content.templateId).title} (PDF)`, () => deps.loadLocalPdf(report));
    },

    openSitePdf(pdf) {
      const c = cell.state.case;
      if (!c) return;
      loadPdf(pdf.title, () => deps.loadSitePdf(c.site, c.studyInstanceUID, pdf));
    },

    closePdf() {
      pdfRev++;
      if (cell.state.pdf) cell.set({ pdf: undefined });
    },

    forget() {
      siteRev++;
      pdfRev++;
    },
  };
}
