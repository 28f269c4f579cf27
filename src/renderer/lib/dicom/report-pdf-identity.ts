import { Tag, getNumber, getString } from '../../../shared/dicom/dicomweb-json';
import { dicomParser } from './dicom-parser';
import { REPORT_PDF_SERIES_NUMBER } from './report-dicom';
import type { DicomJsonDataset } from '../../../shared/dicom/dicomweb-json';

/**
 * How a report's Encapsulated PDF is told apart from a referral's attached
 * PDFs in a QIDO answer: the report builder gives it the Concept Name LOINC
 * 18748-4 "Diagnostic imaging report" and a Source Instance Sequence naming
 * the SR it renders. A referring physician's lab result has neither.
 */

/**
 * Concept Name Code Sequence (0040,A043), Source Instance Sequence (0042,0013)
 * and Series Number. Orthanc's QIDO leaves sequences out of its answer (it
 * returns Document Title but not these two), so the report builder's fixed
 * series number (REPORT_PDF_SERIES_NUMBER) is what tells them apart there.
 */
export const REPORT_PDF_QIDO_FIELDS: readonly string[] = ['0040A043', '00420013', Tag.SeriesNumber];

const REPORT_CONCEPT = { value: '18748-4', scheme: 'LN' };

function items(ds: DicomJsonDataset, tag: string): DicomJsonDataset[] {
  return (ds[tag]?.Value ?? []).filter((v): v is DicomJsonDataset => typeof v === 'object' && v !== null);
}

/** The SR a report PDF renders (Source Instance Sequence), if the answer carries it. */
export function sourceSrOf(ds: DicomJsonDataset): string | undefined {
  for (const item of items(ds, '00420013')) {
    const uid = getString(item, '00081155');
    if (uid) return uid;
  }
  return undefined;
}

/** True for an Encapsulated PDF dataset (QIDO JSON) that is a report's rendering, not an attachment. */
export function isReportPdfDataset(ds: DicomJsonDataset): boolean {
  const coded = items(ds, '0040A043').some(
    (c) => getString(c, '00080100') === REPORT_CONCEPT.value && getString(c, '00080102') === REPORT_CONCEPT.scheme,
  );
  return coded || sourceSrOf(ds) !== undefined || getNumber(ds, Tag.SeriesNumber) === REPORT_PDF_SERIES_NUMBER;
}

/** The SR a report PDF renders, read from its Part 10 file's Source Instance Sequence (0042,0013). */
export function sourceSrOfPart10(bytes: ArrayBuffer): string | undefined {
  const ds = dicomParser.parseDicom(new Uint8Array(bytes));
  const item = ds.elements['x00420013']?.items?.[0]?.dataSet;
  return item?.string('x00081155')?.trim() || undefined;
}
