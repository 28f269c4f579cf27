import type { CriticalFinding, ReportPriority } from '../clinical-types';
import type { ImageReference, ReadMeasurement, ReadReport } from './report-dicom-types';
import { PRIORITY_CODES, SR_CODES } from './report-sr-codes';
import { items } from './sr-dataset';
import { containerByConcept, itemByConcept, readSrTree, referencedSeries } from './sr-tree';
import type { SrContentItem, SrTree } from './sr-tree';
import { authorFromPersonName, isoDateTime, parseDicomDateTime } from './sr-values';
import { Tag } from './tags';
import { SR_SOP_CLASSES, codeKeyOf, sameCode } from './vocabulary';
import type { CodeTriplet } from './vocabulary';

/**
 * Reading a report SR back (TID 1500, ours or another tool's) from its
 * content tree (sr-tree.ts): the narrative, the structured fields, and every
 * measurement with the image and the SCOORD points it was drawn at.
 */

type Item = SrContentItem;

/** The image a SCOORD was selected from, with its series from the evidence sequence. */
function imageOf(scoord: Item, seriesOf: Map<string, string>): ImageReference | undefined {
  const img = scoord.children.find((c) => c.valueType === 'IMAGE' && c.reference)?.reference;
  if (!img) return undefined;
  return { ...img, seriesInstanceUID: seriesOf.get(img.sopInstanceUID) ?? '' };
}

function collectMeasurements(list: Item[], seriesOf: Map<string, string>, trackingUid: string | undefined, out: ReadMeasurement[]): void {
  for (const item of list) {
    if (item.valueType === 'CONTAINER') {
      const tracking = itemByConcept(item.children, 'TEXT', SR_CODES.trackingIdentifier)?.text;
      collectMeasurements(item.children, seriesOf, tracking ?? trackingUid, out);
      continue;
    }
    if (item.valueType !== 'NUM' || !item.numeric) continue;
    const scoord = item.children.find((c) => c.valueType === 'SCOORD' && c.graphic);
    const image = scoord ? imageOf(scoord, seriesOf) : undefined;
    if (!scoord?.graphic || !image) continue;
    out.push({
      name: item.concept?.meaning ?? '',
      value: item.numeric.value,
      unit: item.numeric.unit?.value ?? '',
      image,
      graphicType: scoord.graphic.type,
      points: scoord.graphic.points,
      ...(trackingUid ? { trackingUid } : {}),
    });
  }
}

/** Concepts under Qualitative Evaluations that are structured fields, not narrative. */
const STRUCTURED: readonly CodeTriplet[] = [SR_CODES.criticalFinding, SR_CODES.comment, SR_CODES.resultPriority];

/**
 * A report SR: a TID 1500 Imaging Measurement Report (root concept 126000,
 * DCM) in one of the SR SOP classes. A referral note (LOINC 57133-1) or any
 * other document is not; bytes that are not DICOM are not either.
 */
export function isReportSr(bytes: ArrayBuffer): boolean {
  try {
    const header = readSrTree(bytes, { maxDepth: -1 });
    if (!SR_SOP_CLASSES.has(header.header(Tag.SOPClassUID) ?? '')) return false;
    return sameCode(header.title, SR_CODES.imagingMeasurementReport);
  } catch {
    return false;
  }
}

/** The author: the observer context's person name, else the first verifying observer. */
function authorOf(tree: SrTree): { name: string; credentials?: string } | undefined {
  const observer = itemByConcept(tree.content, 'PNAME', SR_CODES.personObserverName)?.personName;
  const verifier = tree
    .sequence(Tag.VerifyingObserverSequence)
    .map((v) => tree.decode(v, Tag.VerifyingObserverName))
    .find(Boolean);
  const pn = observer ?? verifier;
  return pn ? authorFromPersonName(pn) : undefined;
}

/** The report this one corrects (an addendum's predecessor), from the Predecessor Documents Sequence. */
function predecessorOf(tree: SrTree): string | undefined {
  return tree
    .sequence(Tag.PredecessorDocumentsSequence)
    .flatMap((st) => items(st, Tag.ReferencedSeriesSequence))
    .flatMap((se) => items(se, Tag.ReferencedSOPSequence))
    .map((sop) => tree.decode(sop, Tag.ReferencedSOPInstanceUID))
    .find(Boolean);
}

/** The narrative sections and the structured fields under Qualitative Evaluations. */
function readEvaluations(evaluations: readonly Item[], seriesOf: Map<string, string>, offset: string | undefined, report: ReadReport): void {
  for (const item of evaluations) {
    if (item.valueType === 'TEXT' && item.text !== undefined && item.concept && !STRUCTURED.some((c) => sameCode(item.concept, c))) {
      report.sections.push({ label: item.concept.meaning, text: item.text });
    } else if (item.valueType === 'CODE' && sameCode(item.concept, SR_CODES.resultPriority)) {
      const p = codeKeyOf<ReportPriority>(PRIORITY_CODES, item.code);
      if (p) report.priority = p;
    } else if (item.valueType === 'TEXT' && sameCode(item.concept, SR_CODES.criticalFinding)) {
      const at = itemByConcept(item.children, 'DATETIME', SR_CODES.criticalCommunicatedAt)?.dateTime;
      const critical: CriticalFinding = { communicatedTo: item.text ?? '', communicatedAt: (at && parseDicomDateTime(at, offset)) || 0 };
      report.critical = critical;
    } else if (item.valueType === 'IMAGE' && item.reference && sameCode(item.concept, SR_CODES.keyImage)) {
      (report.keyImages ??= []).push({ ...item.reference, seriesInstanceUID: seriesOf.get(item.reference.sopInstanceUID) ?? '' });
    }
  }
}

/**
 * What a report SR says. Throws with a readable message when the bytes are
 * not DICOM or not an SR document.
 */
export function readReportSr(bytes: ArrayBuffer): ReadReport {
  const tree = readSrTree(bytes);
  const sopClass = tree.header(Tag.SOPClassUID) ?? '';
  if (!SR_SOP_CLASSES.has(sopClass)) throw new Error(`Not a structured report (SOP Class ${sopClass || 'missing'})`);
  const { content } = tree;
  const offset = tree.header(Tag.TimezoneOffsetFromUTC);
  const seriesOf = referencedSeries(tree, [Tag.CurrentRequestedProcedureEvidenceSequence]);

  const report: ReadReport = {
    sopInstanceUID: tree.header(Tag.SOPInstanceUID) ?? '',
    studyInstanceUID: tree.header(Tag.StudyInstanceUID) ?? '',
    title: tree.header(Tag.SeriesDescription) ?? tree.title?.meaning ?? 'Report',
    sections: [],
    measurements: [],
  };
  const iso = isoDateTime(tree.header(Tag.ContentDate), tree.header(Tag.ContentTime), offset);
  if (iso) report.contentDateTime = iso;
  const completion = tree.header(Tag.CompletionFlag);
  if (completion) report.completionFlag = completion;
  const verification = tree.header(Tag.VerificationFlag);
  if (verification) report.verificationFlag = verification;
  const author = authorOf(tree);
  if (author) {
    report.author = author.name;
    if (author.credentials) report.authorCredentials = author.credentials;
  }
  const predecessor = predecessorOf(tree);
  if (predecessor) report.predecessorSopInstanceUID = predecessor;

  readEvaluations(containerByConcept(content, SR_CODES.qualitativeEvaluations)?.children ?? [], seriesOf, offset, report);
  const measurementsRoot = containerByConcept(content, SR_CODES.imagingMeasurements);
  collectMeasurements(measurementsRoot ? measurementsRoot.children : content, seriesOf, undefined, report.measurements);
  return report;
}
