import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import { Tag, getString } from '../../shared/dicom/dicomweb-json';
import type { DicomJsonDataset } from '../../shared/dicom/dicomweb-json';
import type { DicomWebApiFactory } from '../dicomweb/dicomweb-api';
import { classifySiteError } from '../dicomweb/site-error';
import { SR_SOP_CLASSES, SopClass } from '../lib/dicom/referral-codes';
import type { ReadReport } from '../lib/dicom/report-dicom-types';
import { REPORT_PDF_QIDO_FIELDS, isReportPdfDataset, sourceSrOf, sourceSrOfPart10 } from '../lib/dicom/report-pdf-identity';

/** Document Title (0042,0010) of an Encapsulated PDF. */
const DocumentTitleTag = '00420010';

/** The instance-level QIDO fields the read-back needs (one includefield each). */
export const REPORT_QIDO_FIELDS: readonly string[] = [Tag.SOPClassUID, Tag.SeriesDescription, Tag.Modality, DocumentTitleTag, ...REPORT_PDF_QIDO_FIELDS];

/** Where a report's PDF is at the site. */
export interface ReportPdfRef {
  sopInstanceUID: string;
  seriesInstanceUID: string;
  title: string;
}

/** A report the site holds, read from its SR, with the Encapsulated PDF made with it (when found). */
export interface SiteReport {
  report: ReadReport;
  srSeriesInstanceUID: string;
  pdf?: ReportPdfRef;
}

export interface ReportReadbackDeps {
  dicomweb: DicomWebApiFactory;
  /** E1's reader: whether an SR is a report (not a referral note), and its content. */
  isReportSr: (bytes: ArrayBuffer) => boolean;
  readReportSr: (bytes: ArrayBuffer) => ReadReport;
  /** Cached bytes of an instance, if any (a report read once reads again offline). */
  readCached?: (sopInstanceUID: string) => Promise<ArrayBuffer | undefined>;
  log: Logger;
}

export type ReadSiteReports = (site: SiteSummary, studyInstanceUID: string) => Promise<SiteReport[]>;

/** A report PDF's Document Title is its report's title: the fallback pairing. */
const normTitle = (t: string | undefined): string => (t ?? '').trim().toLowerCase();

/**
 * The referring side's view of a study's reports: QIDO the study's
 * instances, read each SR (a few kB) and keep those the reader says are
 * reports; pair each with the Encapsulated PDF that names it as its source
 * (or, failing that, has its title). Addenda and amendments come back as reports of their own with
 * `predecessorSopInstanceUID`; the panel nests them under the original.
 */
export function createReportReadback(deps: ReportReadbackDeps): ReadSiteReports {
  const seen = new Map<string, ReadReport | null>();
  return async (site, studyUID) => {
    const listed = await deps.dicomweb(site).searchForInstances(studyUID, { includefield: REPORT_QIDO_FIELDS });
    const srs: { sop: string; series: string }[] = [];
    const pdfs: (ReportPdfRef & { sourceSr?: string; used?: boolean })[] = [];
    for (const ds of listed) {
      const sop = getString(ds, Tag.SOPInstanceUID);
      const series = getString(ds, Tag.SeriesInstanceUID);
      if (!sop || !series) continue;
      const cls = getString(ds, Tag.SOPClassUID) ?? '';
      if (SR_SOP_CLASSES.has(cls) || (!cls && getString(ds, Tag.Modality) === 'SR')) srs.push({ sop, series });
      else if (cls === SopClass.EncapsulatedPdf && isReportPdfDataset(ds)) {
        const sourceSr = sourceSrOf(ds);
        pdfs.push({ sopInstanceUID: sop, seriesInstanceUID: series, title: titleOf(ds), ...(sourceSr ? { sourceSr } : {}) });
      }
    }
    // A site whose QIDO drops sequences (Orthanc): read each report PDF's source from the file (a few kB, cached after).
    for (const p of pdfs) {
      if (p.sourceSr) continue;
      try {
        let bytes = await deps.readCached?.(p.sopInstanceUID);
        bytes ??= await deps.dicomweb(site).retrieveInstance({ studyInstanceUID: studyUID, seriesInstanceUID: p.seriesInstanceUID, sopInstanceUID: p.sopInstanceUID });
        const src = sourceSrOfPart10(bytes);
        if (src) p.sourceSr = src;
      } catch (err) {
        deps.log.warn(`Report read-back: PDF ${p.sopInstanceUID} of ${studyUID} could not be read: ${classifySiteError(err).message}`);
      }
    }
    const out: SiteReport[] = [];
    for (const sr of srs) {
      let report = seen.get(sr.sop);
      if (report === undefined) {
        try {
          let bytes = await deps.readCached?.(sr.sop);
          bytes ??= await deps.dicomweb(site).retrieveInstance({ studyInstanceUID: studyUID, seriesInstanceUID: sr.series, sopInstanceUID: sr.sop });
          report = deps.isReportSr(bytes) ? deps.readReportSr(bytes) : null;
          seen.set(sr.sop, report);
        } catch (err) {
          deps.log.warn(`Report read-back: SR ${sr.sop} of ${studyUID} at ${site.id} could not be read: ${classifySiteError(err).message}`);
          continue;
        }
      }
      if (!report) continue;
      // The PDF names the SR it renders; a site that drops the sequence from QIDO leaves the title to pair by.
      const pdf = pdfs.find((p) => !p.used && p.sourceSr === sr.sop) ?? pdfs.find((p) => !p.used && !p.sourceSr && normTitle(p.title) === normTitle(report.title));
      if (pdf) pdf.used = true;
      out.push({ report, srSeriesInstanceUID: sr.series, ...(pdf ? { pdf: { sopInstanceUID: pdf.sopInstanceUID, seriesInstanceUID: pdf.seriesInstanceUID, title: pdf.title } } : {}) });
    }
    return out.sort((a, b) => ((a.report.contentDateTime ?? '') < (b.report.contentDateTime ?? '') ? -1 : 1));
  };
}

function titleOf(ds: DicomJsonDataset): string {
  return getString(ds, DocumentTitleTag) ?? getString(ds, Tag.SeriesDescription) ?? 'PDF document';
}

/** Reports in reading order with each correction right under what it corrects (any depth). */
export function nestCorrections<T>(items: readonly T[], sop: (t: T) => string, predecessor: (t: T) => string | undefined): { item: T; depth: number }[] {
  const bySop = new Set(items.map(sop));
  const children = new Map<string, T[]>();
  const roots: T[] = [];
  for (const it of items) {
    const p = predecessor(it);
    if (p && bySop.has(p)) children.set(p, [...(children.get(p) ?? []), it]);
    else roots.push(it);
  }
  const out: { item: T; depth: number }[] = [];
  const walk = (it: T, depth: number): void => {
    out.push({ item: it, depth });
    for (const c of children.get(sop(it)) ?? []) walk(c, depth + 1);
  };
  for (const r of roots) walk(r, 0);
  return out;
}
