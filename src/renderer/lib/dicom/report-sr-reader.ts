import type { DataSet } from 'dicom-parser';
import { formatPersonName } from '../../../shared/dicom/dicomweb-json';
import type { CriticalFinding, ReportPriority } from '../clinical-types';
import { parseDicom } from './dicom-parser';
import { decoderFor, items, readCode } from './sr-dataset';
import type { Decode } from './sr-dataset';
import { SR_SOP_CLASSES, sameCode } from './referral-codes';
import type { CodeTriplet } from './referral-codes';
import type { ImageReference, ReadMeasurement, ReadReport } from './report-dicom-types';
import { PRIORITY_CODES, SR_CODES } from './report-sr-codes';
import { errorMessage } from '../../../shared/error-message';

/**
 * Reading a report SR back (TID 1500, ours or another tool's) with
 * dicom-parser, which is already in the bundle: the narrative, the
 * structured fields, and every measurement with the image and the SCOORD
 * points it was drawn at.
 */

const T = {
  SpecificCharacterSet: 'x00080005',
  SOPClassUID: 'x00080016',
  SOPInstanceUID: 'x00080018',
  ContentDate: 'x00080023',
  ContentTime: 'x00080033',
  TimezoneOffsetFromUTC: 'x00080201',
  SeriesDescription: 'x0008103e',
  CodeValue: 'x00080100',
  CodingSchemeDesignator: 'x00080102',
  CodeMeaning: 'x00080104',
  ReferencedSOPClassUID: 'x00081150',
  ReferencedSOPInstanceUID: 'x00081155',
  ReferencedFrameNumber: 'x00081160',
  ReferencedSeriesSequence: 'x00081115',
  ReferencedSOPSequence: 'x00081199',
  StudyInstanceUID: 'x0020000d',
  SeriesInstanceUID: 'x0020000e',
  MeasurementUnitsCodeSequence: 'x004008ea',
  RelationshipType: 'x0040a010',
  ValueType: 'x0040a040',
  ConceptNameCodeSequence: 'x0040a043',
  VerifyingObserverSequence: 'x0040a073',
  VerifyingObserverName: 'x0040a075',
  DateTime: 'x0040a120',
  PersonName: 'x0040a123',
  UID: 'x0040a124',
  TextValue: 'x0040a160',
  FloatingPointValue: 'x0040a161',
  ConceptCodeSequence: 'x0040a168',
  MeasuredValueSequence: 'x0040a300',
  NumericValue: 'x0040a30a',
  PredecessorDocumentsSequence: 'x0040a360',
  CurrentRequestedProcedureEvidenceSequence: 'x0040a375',
  CompletionFlag: 'x0040a491',
  VerificationFlag: 'x0040a493',
  ContentSequence: 'x0040a730',
  GraphicData: 'x00700022',
  GraphicType: 'x00700023',
} as const;




interface Item {
  relationship: string;
  valueType: string;
  concept?: CodeTriplet;
  text?: string;
  code?: CodeTriplet;
  personName?: string;
  dateTime?: string;
  numeric?: { value: number; unit?: CodeTriplet };
  graphic?: { type: string; points: number[] };
  image?: { sopClassUID: string; sopInstanceUID: string; frameNumber?: number };
  children: Item[];
}


function readNumeric(item: DataSet, decode: Decode): Item['numeric'] {
  const mv = items(item, T.MeasuredValueSequence)[0];
  if (!mv) return undefined;
  // The FD value, when present, is the exact figure; the DS is at most 16 characters.
  const fp = mv.elements[T.FloatingPointValue] ? mv.double(T.FloatingPointValue) : undefined;
  const ds = Number.parseFloat(decode(mv, T.NumericValue) ?? '');
  const value = fp !== undefined && Number.isFinite(fp) ? fp : ds;
  if (!Number.isFinite(value)) return undefined;
  const unit = readCode(items(mv, T.MeasurementUnitsCodeSequence)[0], decode);
  return unit ? { value, unit } : { value };
}

function readItems(ds: DataSet, decode: Decode, depth: number): Item[] {
  // A broken or hostile file could nest without end; real reports are a few levels deep.
  if (depth > 24) return [];
  return items(ds, T.ContentSequence).map((item) => {
    const out: Item = {
      relationship: decode(item, T.RelationshipType) ?? '',
      valueType: decode(item, T.ValueType) ?? '',
      children: readItems(item, decode, depth + 1),
    };
    const concept = readCode(items(item, T.ConceptNameCodeSequence)[0], decode);
    if (concept) out.concept = concept;
    switch (out.valueType) {
      case 'TEXT': {
        const t = decode(item, T.TextValue);
        if (t !== undefined) out.text = t;
        break;
      }
      case 'CODE': {
        const c = readCode(items(item, T.ConceptCodeSequence)[0], decode);
        if (c) out.code = c;
        break;
      }
      case 'PNAME': {
        const pn = decode(item, T.PersonName);
        if (pn) out.personName = pn;
        break;
      }
      case 'DATETIME': {
        const dt = decode(item, T.DateTime);
        if (dt) out.dateTime = dt;
        break;
      }
      case 'NUM': {
        const n = readNumeric(item, decode);
        if (n) out.numeric = n;
        break;
      }
      case 'SCOORD': {
        const el = item.elements[T.GraphicData];
        const count = el ? Math.floor(el.length / 4) : 0;
        out.graphic = { type: decode(item, T.GraphicType) ?? '', points: Array.from({ length: count }, (_, i) => item.float(T.GraphicData, i) ?? Number.NaN) };
        break;
      }
      case 'IMAGE': {
        const ref = items(item, T.ReferencedSOPSequence)[0];
        const sopInstanceUID = ref ? decode(ref, T.ReferencedSOPInstanceUID) : undefined;
        if (ref && sopInstanceUID) {
          const frame = ref.elements[T.ReferencedFrameNumber] ? Number.parseInt(decode(ref, T.ReferencedFrameNumber) ?? '', 10) : Number.NaN;
          out.image = { sopClassUID: decode(ref, T.ReferencedSOPClassUID) ?? '', sopInstanceUID, ...(Number.isFinite(frame) ? { frameNumber: frame } : {}) };
        }
        break;
      }
      default:
        break;
    }
    return out;
  });
}

/** `YYYYMMDDHHMMSS[.F][+HHMM]` → epoch ms; a DT without an offset is read in `defaultOffset`. */
export function parseDicomDateTime(dt: string, defaultOffset?: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?([+-]\d{4})?$/.exec(dt.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = defaultOffset ?? '+0000'] = m;
  const ms = Date.UTC(+y!, +mo! - 1, +d!, +h, +mi, +s, Math.round(Number(`0.${frac || '0'}`) * 1000));
  const z = /^([+-])(\d{2})(\d{2})$/.exec(zone);
  const offsetMin = z ? (z[1] === '-' ? -1 : 1) * (+z[2]! * 60 + +z[3]!) : 0;
  return ms - offsetMin * 60_000;
}

function isoOf(date: string | undefined, time: string | undefined, offset: string | undefined): string | undefined {
  if (!date || !/^\d{8}$/.test(date)) return undefined;
  const t = (time ?? '').split('.')[0]!.padEnd(6, '0');
  const base = `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}`;
  const z = offset && /^([+-])(\d{2})(\d{2})$/.exec(offset);
  return z ? `${base}${z[1]}${z[2]}:${z[3]}` : base;
}

/** The author from a PN: ours is `name^^^^credentials`; anyone else's is formatted as a name. */
function splitAuthor(pn: string): { name: string; credentials?: string } {
  const parts = pn.split('=')[0]!.split('^');
  const [family = '', given = '', middle = '', , suffix = ''] = parts;
  const name = given || middle ? formatPersonName(pn) : family.trim();
  return suffix.trim() ? { name, credentials: suffix.trim() } : { name };
}

function find(list: Item[], pred: (i: Item) => boolean): Item | undefined {
  for (const i of list) {
    if (pred(i)) return i;
    const deeper = find(i.children, pred);
    if (deeper) return deeper;
  }
  return undefined;
}

/** The image a SCOORD was selected from, with its series from the evidence sequence. */
function imageOf(scoord: Item, seriesOf: Map<string, string>): ImageReference | undefined {
  const img = scoord.children.find((c) => c.valueType === 'IMAGE' && c.image)?.image;
  if (!img) return undefined;
  return { ...img, seriesInstanceUID: seriesOf.get(img.sopInstanceUID) ?? '' };
}

function collectMeasurements(list: Item[], seriesOf: Map<string, string>, trackingUid: string | undefined, out: ReadMeasurement[]): void {
  for (const item of list) {
    if (item.valueType === 'CONTAINER') {
      const tracking = item.children.find((c) => c.valueType === 'TEXT' && sameCode(c.concept, SR_CODES.trackingIdentifier))?.text;
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

function parse(bytes: ArrayBuffer | Uint8Array): { ds: DataSet; decode: Decode } {
  const arr = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const ds = parseDicom(arr);
  return { ds, decode: decoderFor(ds.string(T.SpecificCharacterSet)) };
}

/**
 * A report SR: a TID 1500 Imaging Measurement Report (root concept 126000,
 * DCM) in one of the SR SOP classes. A referral note (LOINC 57133-1) or any
 * other document is not; bytes that are not DICOM are not either.
 */
export function isReportSr(bytes: ArrayBuffer): boolean {
  try {
    const { ds, decode } = parse(bytes);
    if (!SR_SOP_CLASSES.has(decode(ds, T.SOPClassUID) ?? '')) return false;
    return sameCode(readCode(items(ds, T.ConceptNameCodeSequence)[0], decode), SR_CODES.imagingMeasurementReport);
  } catch {
    return false;
  }
}

/**
 * What a report SR says. Throws with a readable message when the bytes are
 * not DICOM or not an SR document.
 */
export function readReportSr(bytes: ArrayBuffer): ReadReport {
  let parsed: { ds: DataSet; decode: Decode };
  try {
    parsed = parse(bytes);
  } catch (err) {
    // dicom-parser throws `{ exception, dataSet }`: the message is the exception.
    const inner = (err as { exception?: unknown } | undefined)?.exception ?? err;
    throw new Error(`Not a DICOM file: ${errorMessage(inner)}`, { cause: err });
  }
  const { ds, decode } = parsed;
  const sopClass = decode(ds, T.SOPClassUID) ?? '';
  if (!SR_SOP_CLASSES.has(sopClass)) throw new Error(`Not a structured report (SOP Class ${sopClass || 'missing'})`);
  const content = readItems(ds, decode, 0);
  const rootConcept = readCode(items(ds, T.ConceptNameCodeSequence)[0], decode);
  const offset = decode(ds, T.TimezoneOffsetFromUTC);

  const seriesOf = new Map<string, string>();
  for (const study of items(ds, T.CurrentRequestedProcedureEvidenceSequence)) {
    for (const series of items(study, T.ReferencedSeriesSequence)) {
      const seriesUID = decode(series, T.SeriesInstanceUID) ?? '';
      for (const sop of items(series, T.ReferencedSOPSequence)) {
        const uid = decode(sop, T.ReferencedSOPInstanceUID);
        if (uid) seriesOf.set(uid, seriesUID);
      }
    }
  }

  const report: ReadReport = {
    sopInstanceUID: decode(ds, T.SOPInstanceUID) ?? '',
    studyInstanceUID: decode(ds, T.StudyInstanceUID) ?? '',
    title: decode(ds, T.SeriesDescription) ?? rootConcept?.meaning ?? 'Report',
    sections: [],
    measurements: [],
  };
  const iso = isoOf(decode(ds, T.ContentDate), decode(ds, T.ContentTime), offset);
  if (iso) report.contentDateTime = iso;
  const completion = decode(ds, T.CompletionFlag);
  if (completion) report.completionFlag = completion;
  const verification = decode(ds, T.VerificationFlag);
  if (verification) report.verificationFlag = verification;

  const observer = content.find((i) => i.valueType === 'PNAME' && sameCode(i.concept, SR_CODES.personObserverName))?.personName;
  const verifier = items(ds, T.VerifyingObserverSequence)
    .map((v) => decode(v, T.VerifyingObserverName))
    .find(Boolean);
  const authorPn = observer ?? verifier;
  if (authorPn) {
    const a = splitAuthor(authorPn);
    report.author = a.name;
    if (a.credentials) report.authorCredentials = a.credentials;
  }

  const predecessor = items(ds, T.PredecessorDocumentsSequence)
    .flatMap((st) => items(st, T.ReferencedSeriesSequence))
    .flatMap((se) => items(se, T.ReferencedSOPSequence))
    .map((sop) => decode(sop, T.ReferencedSOPInstanceUID))
    .find(Boolean);
  if (predecessor) report.predecessorSopInstanceUID = predecessor;

  const evaluations = find(content, (i) => i.valueType === 'CONTAINER' && sameCode(i.concept, SR_CODES.qualitativeEvaluations));
  for (const item of evaluations?.children ?? []) {
    if (item.valueType === 'TEXT' && item.text !== undefined && item.concept && !STRUCTURED.some((c) => sameCode(item.concept, c))) {
      report.sections.push({ label: item.concept.meaning, text: item.text });
    } else if (item.valueType === 'CODE' && sameCode(item.concept, SR_CODES.resultPriority)) {
      const p = (Object.entries(PRIORITY_CODES) as [ReportPriority, CodeTriplet][]).find(([, c]) => sameCode(item.code, c))?.[0];
      if (p) report.priority = p;
    } else if (item.valueType === 'TEXT' && sameCode(item.concept, SR_CODES.criticalFinding)) {
      const at = item.children.find((c) => c.valueType === 'DATETIME' && sameCode(c.concept, SR_CODES.criticalCommunicatedAt))?.dateTime;
      const critical: CriticalFinding = { communicatedTo: item.text ?? '', communicatedAt: (at && parseDicomDateTime(at, offset)) || 0 };
      report.critical = critical;
    } else if (item.valueType === 'IMAGE' && item.image && sameCode(item.concept, SR_CODES.keyImage)) {
      (report.keyImages ??= []).push({ ...item.image, seriesInstanceUID: seriesOf.get(item.image.sopInstanceUID) ?? '' });
    }
  }

  const measurementsRoot = find(content, (i) => i.valueType === 'CONTAINER' && sameCode(i.concept, SR_CODES.imagingMeasurements));
  collectMeasurements(measurementsRoot ? measurementsRoot.children : content, seriesOf, undefined, report.measurements);
  return report;
}
