import type * as DcmjsModule from 'dcmjs';
import type { SrCodedConcept } from 'dcmjs';
import type { CodeTriplet } from './referral-codes';
import { PRIVATE_SCHEME, SopClass } from './referral-codes';
import { measureAngle, measureCobbAngle, measureLength } from '../measure';
import type { Calibration, Point } from '../measure';
import type { AnnotationRecord } from '../clinical-types';
import type { BuiltInstance, BuiltReport, ImageReference, MeasuredValue, MeasurementFigures, ReportBuildInput, ReportGraphic } from './report-dicom-types';
import { MEASUREMENT_CODES, PRIORITY_CODES, SR_CODES, UNIT_CODES, sectionCode } from './report-sr-codes';
import { renderReportPdf } from '../pdf/report-pdf';
import { validUid } from './uid';

/**
 * A signed report as DICOM: a Comprehensive SR following TID 1500 "Imaging
 * Measurement Report" (narrative, priority, critical finding and
 * measurements with the images and coordinates they were drawn on) and an
 * Encapsulated PDF of the same report, both in the case's study.
 *
 * Deterministic: every UID comes from the input (made once, at signing) or
 * is derived from it (tracking UIDs from annotation ids), every date from
 * `signedAt`, so the same input gives the same bytes — a retried upload
 * sends exactly what the first one did.
 *
 * Content items are made with dcmjs's `sr.valueTypes` constructors. The
 * tree itself is assembled here rather than with `sr.templates`: in dcmjs
 * 0.52 `MeasurementReport` accepts only one of measurements / qualitative
 * evaluations (TID 1500 allows both, and a report needs both), and the
 * group templates reject every TrackingIdentifier (they test its items
 * against CodedConcept) and log to the console.
 */

export const REPORT_SR_SERIES_NUMBER = 990;
export const REPORT_PDF_SERIES_NUMBER = 991;
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** This application's Implementation Class UID (a fixed 2.25 UUID-derived UID). */
export const IMPLEMENTATION_CLASS_UID = '2.25.224837143584879006894567676202501162974';
const IMPLEMENTATION_VERSION_NAME = 'TELERAD_0_1';
export const MANUFACTURER = 'Telerad Workstation';

type Dataset = Record<string, unknown>;
type Dcmjs = typeof DcmjsModule;

/** dcmjs is large (1.3 MB): loaded when the first report is built, not with the app. */
async function loadDcmjs(): Promise<Dcmjs['data'] & { sr: Dcmjs['sr'] }> {
  const mod = (await import('dcmjs')) as Dcmjs & { default?: Dcmjs };
  const lib = mod.sr ? mod : (mod.default ?? mod);
  return { ...lib.data, sr: lib.sr };
}

// ---- dates, names, UIDs ----------------------------------------------------

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** DICOM DA, TM and the TimezoneOffsetFromUTC they are written in. */
export function dicomDateTime(ms: number, offsetMinutes = 0): { date: string; time: string; offset: string } {
  const d = new Date(ms + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return {
    date: `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`,
    time: `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`,
    offset: `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`,
  };
}

/** DT with its offset: `YYYYMMDDHHMMSS+HHMM`. */
function dicomDT(ms: number, offsetMinutes: number): string {
  const { date, time, offset } = dicomDateTime(ms, offsetMinutes);
  return `${date}${time}${offset}`;
}

/** A PN component: no delimiters (^ = \) or control characters, at most 64 characters. */
function pnComponent(s: string): string {
  return s
    .replace(/[\^=\\\p{Cc}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 64);
}

/** The author as DICOM PN: the name as typed in the family component, the credentials as the suffix. */
export function authorPersonName(author: { name: string; credentials: string }): string {
  const name = pnComponent(author.name);
  const credentials = pnComponent(author.credentials);
  return credentials ? `${name}^^^^${credentials}` : name;
}

/** LO / SH / CS values hold no backslash (it separates values) and are bounded. */
function loValue(s: string, max = 64): string {
  return s.replace(/\\/g, '/').replace(/\p{Cc}/gu, ' ').trim().slice(0, max);
}

/**
 * The Tracking Unique Identifier of an annotation: its UUID as a 2.25 UID
 * (ITU-T X.667), or, for an id that is not a UUID, the first 128 bits of its
 * SHA-256 — the same annotation always gets the same UID.
 */
export async function trackingUidOf(annotationId: string): Promise<string> {
  const hex = annotationId.toLowerCase().replace(/-/g, '');
  if (/^[0-9a-f]{32}$/.test(hex)) return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(annotationId)));
  const h = Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, '0')).join('');
  return `2.25.${BigInt(`0x${h}`).toString(10)}`;
}

// ---- measurements ------------------------------------------------------------

export type { MeasuredValue, ReportGraphic } from './report-dicom-types';

function handle(data: Record<string, unknown>, key: string): Point | undefined {
  const handles = data['handles'] as Record<string, { x?: unknown; y?: unknown } | undefined> | undefined;
  const h = handles?.[key];
  return h && typeof h.x === 'number' && typeof h.y === 'number' && Number.isFinite(h.x) && Number.isFinite(h.y) ? { x: h.x, y: h.y } : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * cornerstone-tools handles and DICOM SCOORD share one convention: image
 * pixel space with (0,0) at the top-left corner of the top-left pixel, x
 * along columns, y along rows (cornerstone draws pixel (i,j) over
 * [i,i+1)×[j,j+1); PS3.3 C.18.6.1.2 puts that pixel's centre at 0.5\0.5).
 * So handles become (column,row) pairs unchanged.
 */
function flat(points: Point[]): number[] {
  return points.flatMap((p) => [p.x, p.y]);
}

/**
 * The DICOM ELLIPSE of cornerstone's ellipse ROI, whose handles are two
 * opposite corners of its axis-aligned bounding box: major axis end points
 * first, then minor axis end points (PS3.3 C.18.6.1.2).
 */
export function ellipseFromCorners(start: Point, end: Point): number[] {
  const cx = (start.x + end.x) / 2;
  const cy = (start.y + end.y) / 2;
  const a = Math.abs(end.x - start.x) / 2;
  const b = Math.abs(end.y - start.y) / 2;
  const horizontal = [cx - a, cy, cx + a, cy];
  const vertical = [cx, cy - b, cx, cy + b];
  return a >= b ? [...horizontal, ...vertical] : [...vertical, ...horizontal];
}

function modalityUnit(figures: MeasurementFigures | undefined): CodeTriplet {
  return figures?.modality === 'CT' ? UNIT_CODES.hu : UNIT_CODES.none;
}

function roiStats(data: Record<string, unknown>, figures: MeasurementFigures | undefined): { mean: number; stdDev: number; min: number; max: number } | undefined {
  if (figures?.stats) return figures.stats;
  // cornerstone-tools' own figures, kept in the stored tool data when the viewer computed them.
  const cs = data['cachedStats'] as Record<string, unknown> | undefined;
  const mean = num(cs?.['mean']);
  const stdDev = num(cs?.['stdDev']);
  const min = num(cs?.['min']);
  const max = num(cs?.['max']);
  return mean !== undefined && stdDev !== undefined && min !== undefined && max !== undefined ? { mean, stdDev, min, max } : undefined;
}

/**
 * The SR form of one annotation, or undefined for one that has nothing to
 * report (an unknown tool, a Calibration line, missing handles). Lengths,
 * areas and angles are computed from the handles with the same functions
 * and calibration as the viewer (measure.ts); ROI statistics and probe
 * values come from `figures` (or cornerstone-tools' cached stats).
 */
export function reportGraphicOf(annotation: Pick<AnnotationRecord, 'tool' | 'data'>, figures?: MeasurementFigures): ReportGraphic | undefined {
  const data = annotation.data;
  const cal: Calibration | undefined = figures?.calibration;
  const start = handle(data, 'start');
  const end = handle(data, 'end');
  switch (annotation.tool) {
    case 'Length': {
      if (!start || !end) return undefined;
      const r = measureLength(start, end, cal);
      return {
        kind: 'measurement',
        values: [{ concept: MEASUREMENT_CODES.length, value: r.value, unit: r.unit === 'mm' ? UNIT_CODES.mm : UNIT_CODES.pixels }],
        graphicType: 'POLYLINE',
        points: flat([start, end]),
      };
    }
    case 'EllipticalRoi':
    case 'RectangleRoi': {
      if (!start || !end) return undefined;
      const w = Math.abs(end.x - start.x);
      const h = Math.abs(end.y - start.y);
      const px = annotation.tool === 'EllipticalRoi' ? (Math.PI * w * h) / 4 : w * h;
      const values: MeasuredValue[] = [];
      const stats = roiStats(data, figures);
      if (stats) {
        const unit = modalityUnit(figures);
        values.push(
          { concept: MEASUREMENT_CODES.mean, value: stats.mean, unit },
          { concept: MEASUREMENT_CODES.stdDev, value: stats.stdDev, unit },
          { concept: MEASUREMENT_CODES.min, value: stats.min, unit },
          { concept: MEASUREMENT_CODES.max, value: stats.max, unit },
        );
      }
      values.push(
        cal
          ? { concept: MEASUREMENT_CODES.area, value: px * cal.columnSpacingMm * cal.rowSpacingMm, unit: UNIT_CODES.mm2 }
          : { concept: MEASUREMENT_CODES.area, value: px, unit: UNIT_CODES.squarePixels },
      );
      if (annotation.tool === 'EllipticalRoi') return { kind: 'measurement', values, graphicType: 'ELLIPSE', points: ellipseFromCorners(start, end) };
      // A closed polygon: the first point repeated at the end (PS3.3 C.18.6.1.2).
      const corners = [start, { x: end.x, y: start.y }, end, { x: start.x, y: end.y }, start];
      return { kind: 'measurement', values, graphicType: 'POLYLINE', points: flat(corners) };
    }
    case 'Angle': {
      const middle = handle(data, 'middle');
      if (!start || !middle || !end) return undefined;
      return {
        kind: 'measurement',
        values: [{ concept: MEASUREMENT_CODES.angle, value: measureAngle(start, middle, end, cal), unit: UNIT_CODES.deg }],
        graphicType: 'POLYLINE',
        points: flat([start, middle, end]),
      };
    }
    case 'CobbAngle': {
      const start2 = handle(data, 'start2');
      const end2 = handle(data, 'end2');
      if (!start || !end || !start2 || !end2) return undefined;
      const deg = measureCobbAngle(start, end, start2, end2, cal);
      if (deg === undefined) return undefined;
      // Two lines, not one path: four points, the first line's then the second's.
      return { kind: 'measurement', values: [{ concept: MEASUREMENT_CODES.cobbAngle, value: deg, unit: UNIT_CODES.deg }], graphicType: 'MULTIPOINT', points: flat([start, end, start2, end2]) };
    }
    case 'Probe': {
      if (!end) return undefined;
      const cs = data['cachedStats'] as Record<string, unknown> | undefined;
      const value = figures?.probeValue ?? num(cs?.['mo']);
      if (value === undefined) return undefined;
      const concept = figures?.modality === 'CT' ? MEASUREMENT_CODES.attenuation : MEASUREMENT_CODES.pixelValue;
      return { kind: 'measurement', values: [{ concept, value, unit: modalityUnit(figures) }], graphicType: 'POINT', points: flat([end]) };
    }
    case 'ArrowAnnotate':
    case 'TextMarker': {
      const text = typeof data['text'] === 'string' ? data['text'].trim() : '';
      if (!text || !end) return undefined;
      return start && annotation.tool === 'ArrowAnnotate'
        ? { kind: 'comment', text, graphicType: 'POLYLINE', points: flat([start, end]) }
        : { kind: 'comment', text, graphicType: 'POINT', points: flat([end]) };
    }
    default:
      return undefined;
  }
}

// ---- the SR content tree ---------------------------------------------------------

type Sr = Dcmjs['sr'];

function concept(sr: Sr, c: CodeTriplet): SrCodedConcept {
  return new sr.coding.CodedConcept({ value: c.value, schemeDesignator: c.scheme, meaning: c.meaning });
}

/**
 * Single-frame image storage classes (PS3.4 B.5): a frame number is not
 * allowed in a reference to one of them, whatever the caller passed (a viewer
 * may call every image "frame 1").
 */
const SINGLE_FRAME_SOP_CLASSES: ReadonlySet<string> = new Set([
  '1.2.840.10008.5.1.4.1.1.1', // CR
  '1.2.840.10008.5.1.4.1.1.1.1', // DX for presentation
  '1.2.840.10008.5.1.4.1.1.1.1.1', // DX for processing
  '1.2.840.10008.5.1.4.1.1.1.2', // MG for presentation
  '1.2.840.10008.5.1.4.1.1.1.2.1', // MG for processing
  '1.2.840.10008.5.1.4.1.1.1.3', // IO for presentation
  '1.2.840.10008.5.1.4.1.1.2', // CT
  '1.2.840.10008.5.1.4.1.1.4', // MR
  '1.2.840.10008.5.1.4.1.1.6.1', // US
  '1.2.840.10008.5.1.4.1.1.7', // Secondary Capture
  '1.2.840.10008.5.1.4.1.1.128', // PET
  '1.2.840.10008.5.1.4.1.1.77.1.4', // VL Photographic
]);

function referencedSop(image: ImageReference): Dataset {
  const ref: Dataset = { ReferencedSOPClassUID: image.sopClassUID, ReferencedSOPInstanceUID: image.sopInstanceUID };
  if (image.frameNumber !== undefined && !SINGLE_FRAME_SOP_CLASSES.has(image.sopClassUID)) ref['ReferencedFrameNumber'] = image.frameNumber;
  return ref;
}

/** A DS value: at most 16 characters (PS3.5 6.2), as many significant digits as fit. */
export function decimalString(v: number): string {
  const plain = String(v);
  if (plain.length <= 16 && !/e/i.test(plain)) return plain;
  for (let digits = 15; digits > 0; digits--) {
    const s = String(Number(v.toPrecision(digits)));
    if (s.length <= 16) return s;
  }
  return v.toExponential(8);
}

/**
 * TID 320's SCOORD and its source IMAGE carry no concept name; dcmjs's
 * constructors require one, so these two are written as plain items.
 */
function scoordOnImage(relationship: string, graphicType: string, points: number[], image: ImageReference): Dataset {
  const ref = referencedSop(image);
  return {
    RelationshipType: relationship,
    ValueType: 'SCOORD',
    GraphicType: graphicType,
    GraphicData: points,
    ContentSequence: [{ RelationshipType: 'SELECTED FROM', ValueType: 'IMAGE', ReferencedSOPSequence: [ref] }],
  };
}

function imageItem(image: ImageReference, relationship: string, name?: CodeTriplet): Dataset {
  const ref = referencedSop(image);
  const item: Dataset = { RelationshipType: relationship, ValueType: 'IMAGE', ReferencedSOPSequence: [ref] };
  if (name) item['ConceptNameCodeSequence'] = [{ CodeValue: name.value, CodingSchemeDesignator: name.scheme, CodeMeaning: name.meaning }];
  return item;
}

function container(sr: Sr, name: CodeTriplet, children: Dataset[], templateID?: string): Dataset {
  const item = new sr.valueTypes.ContainerContentItem({
    name: concept(sr, name),
    relationshipType: sr.valueTypes.RelationshipTypes.CONTAINS,
    ...(templateID ? { templateID } : {}),
  });
  // Content Sequence is Type 1C: present only with children (an empty one is an error).
  if (children.length > 0) item['ContentSequence'] = children;
  return item;
}

function text(sr: Sr, name: CodeTriplet, value: string, relationship: string): Dataset {
  return new sr.valueTypes.TextContentItem({ name: concept(sr, name), value, relationshipType: relationship });
}

function code(sr: Sr, name: CodeTriplet, value: CodeTriplet, relationship: string): Dataset {
  return new sr.valueTypes.CodeContentItem({ name: concept(sr, name), value: concept(sr, value), relationshipType: relationship });
}

interface PreparedMeasurement {
  annotation: AnnotationRecord;
  image: ImageReference;
  graphic: ReportGraphic;
  trackingUid: string;
}

/** The measurements that have something to report, in input order. */
async function prepareMeasurements(input: ReportBuildInput): Promise<PreparedMeasurement[]> {
  const out: PreparedMeasurement[] = [];
  for (const m of input.measurements) {
    const graphic = reportGraphicOf(m.annotation, m.figures);
    if (!graphic) continue;
    out.push({ annotation: m.annotation, image: m.image, graphic, trackingUid: await trackingUidOf(m.annotation.id) });
  }
  return out;
}

function measurementGroup(sr: Sr, m: PreparedMeasurement & { graphic: { kind: 'measurement' } }): Dataset {
  const R = sr.valueTypes.RelationshipTypes;
  const children: Dataset[] = [
    text(sr, SR_CODES.trackingIdentifier, m.annotation.id, R.HAS_OBS_CONTEXT),
    new sr.valueTypes.UIDRefContentItem({ name: concept(sr, SR_CODES.trackingUid), value: m.trackingUid, relationshipType: R.HAS_OBS_CONTEXT }),
  ];
  for (const v of m.graphic.values) {
    const item = new sr.valueTypes.NumContentItem({ name: concept(sr, v.concept), value: v.value, unit: concept(sr, v.unit), relationshipType: R.CONTAINS });
    // The DS Numeric Value is the figure to 16 characters; the exact one goes in the FD Floating Point Value.
    const measured = (item['MeasuredValueSequence'] as Dataset[])[0]!;
    measured['NumericValue'] = decimalString(v.value);
    measured['FloatingPointValue'] = v.value;
    item['ContentSequence'] = [scoordOnImage(R.INFERRED_FROM, m.graphic.graphicType, m.graphic.points, m.image)];
    children.push(item);
  }
  return container(sr, SR_CODES.measurementGroup, children, '1501');
}

/** Every image the report references, once each, in the order first referenced. */
function referencedImages(measurements: PreparedMeasurement[], keyImages: ImageReference[]): ImageReference[] {
  const seen = new Set<string>();
  const out: ImageReference[] = [];
  for (const image of [...measurements.map((m) => m.image), ...keyImages]) {
    const key = `${image.sopInstanceUID}#${image.frameNumber ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(image);
  }
  return out;
}

/**
 * Hierarchical SOP Instance Reference (PS3.3 C.17.2.1): one study, its series,
 * their instances, once each (shared with the case-note builder).
 */
export function evidence(
  studyInstanceUID: string,
  images: ReadonlyArray<{ seriesInstanceUID: string; sopInstanceUID: string; sopClassUID: string }>,
): Dataset {
  const bySeries = new Map<string, Dataset[]>();
  const seen = new Set<string>();
  for (const image of images) {
    if (seen.has(image.sopInstanceUID)) continue;
    seen.add(image.sopInstanceUID);
    const list = bySeries.get(image.seriesInstanceUID) ?? [];
    list.push({ ReferencedSOPClassUID: image.sopClassUID, ReferencedSOPInstanceUID: image.sopInstanceUID });
    bySeries.set(image.seriesInstanceUID, list);
  }
  return {
    StudyInstanceUID: studyInstanceUID,
    ReferencedSeriesSequence: [...bySeries].map(([SeriesInstanceUID, ReferencedSOPSequence]) => ({ SeriesInstanceUID, ReferencedSOPSequence })),
  };
}

function contentTree(sr: Sr, input: ReportBuildInput, measurements: PreparedMeasurement[]): Dataset[] {
  const R = sr.valueTypes.RelationshipTypes;
  const offset = input.timezoneOffsetMinutes ?? 0;
  const items: Dataset[] = [
    // TID 1204
    code(sr, SR_CODES.language, SR_CODES.english, R.HAS_CONCEPT_MOD),
    // TID 1001 → TID 1002: the author is the observer.
    code(sr, SR_CODES.observerType, SR_CODES.person, R.HAS_OBS_CONTEXT),
    new sr.valueTypes.PNameContentItem({ name: concept(sr, SR_CODES.personObserverName), value: authorPersonName(input.author), relationshipType: R.HAS_OBS_CONTEXT }),
  ];
  if (input.author.institution) items.push(text(sr, SR_CODES.personObserverOrganization, loValue(input.author.institution), R.HAS_OBS_CONTEXT));
  items.push(code(sr, SR_CODES.procedureReported, SR_CODES.imagingProcedure, R.HAS_CONCEPT_MOD));

  // TID 1600 Image Library: every image the report points at.
  const images = referencedImages(measurements, input.keyImages);
  const library = container(sr, SR_CODES.imageLibrary, images.length > 0 ? [container(sr, SR_CODES.imageLibraryGroup, images.map((i) => imageItem(i, R.CONTAINS)))] : []);
  items.push(library);

  const groups = measurements.flatMap((m) => (m.graphic.kind === 'measurement' ? [measurementGroup(sr, { ...m, graphic: m.graphic })] : []));
  if (groups.length > 0) items.push(container(sr, SR_CODES.imagingMeasurements, groups));

  // The narrative and the structured fields: TEXT and CODE items under Qualitative Evaluations (TID 1500 row 12).
  const evaluations: Dataset[] = [];
  for (const section of input.sections) {
    const body = input.text[section.id]?.trim();
    if (body) evaluations.push(text(sr, sectionCode(section.id, section.label), body, R.CONTAINS));
  }
  evaluations.push(code(sr, SR_CODES.resultPriority, PRIORITY_CODES[input.priority], R.CONTAINS));
  if (input.critical) {
    const to = text(sr, SR_CODES.criticalFinding, input.critical.communicatedTo.trim() || 'unspecified', R.CONTAINS);
    // A plain item: dcmjs's DateTimeContentItem writes local time and unpadded milliseconds.
    to['ContentSequence'] = [
      {
        RelationshipType: R.HAS_PROPERTIES,
        ValueType: 'DATETIME',
        ConceptNameCodeSequence: [{ CodeValue: SR_CODES.criticalCommunicatedAt.value, CodingSchemeDesignator: SR_CODES.criticalCommunicatedAt.scheme, CodeMeaning: SR_CODES.criticalCommunicatedAt.meaning }],
        DateTime: dicomDT(input.critical.communicatedAt, offset),
      },
    ];
    evaluations.push(to);
  }
  for (const m of measurements) {
    if (m.graphic.kind !== 'comment') continue;
    const comment = text(sr, SR_CODES.comment, m.graphic.text, R.CONTAINS);
    comment['ContentSequence'] = [scoordOnImage(R.INFERRED_FROM, m.graphic.graphicType, m.graphic.points, m.image)];
    evaluations.push(comment);
  }
  for (const k of input.keyImages) evaluations.push(imageItem(k, R.CONTAINS, SR_CODES.keyImage));
  items.push(container(sr, SR_CODES.qualitativeEvaluations, evaluations));
  return items;
}

// ---- the datasets -------------------------------------------------------------------

/** Patient, study and equipment attributes shared by the SR and the PDF. */
export function studyAttributes(input: ReportBuildInput): Dataset {
  const s = input.study;
  const created = dicomDateTime(input.signedAt, input.timezoneOffsetMinutes ?? 0);
  return {
    // dcmjs writes strings as UTF-8; say so (names and narrative may hold any character).
    SpecificCharacterSet: 'ISO_IR 192',
    InstanceCreationDate: created.date,
    InstanceCreationTime: created.time,
    TimezoneOffsetFromUTC: created.offset,
    StudyDate: s.studyDate ?? '',
    StudyTime: s.studyTime ?? '',
    AccessionNumber: s.accessionNumber ?? '',
    ReferringPhysicianName: s.referringPhysicianName ?? '',
    ...(s.studyDescription ? { StudyDescription: s.studyDescription } : {}),
    PatientName: s.patientName,
    PatientID: s.patientId,
    PatientBirthDate: s.patientBirthDate ?? '',
    PatientSex: s.patientSex ?? '',
    StudyInstanceUID: s.studyInstanceUID,
    StudyID: s.studyId ?? '',
    Manufacturer: MANUFACTURER,
    SeriesDate: created.date,
    SeriesTime: created.time,
    ContentDate: created.date,
    ContentTime: created.time,
  };
}

/** The SR as a naturalized dataset (exported for tests and for reading what was built without parsing). */
export async function buildReportSrDataset(input: ReportBuildInput): Promise<Dataset> {
  const { sr } = await loadDcmjs();
  return srDataset(sr, input, await prepareMeasurements(input));
}

function srDataset(sr: Sr, input: ReportBuildInput, measurements: PreparedMeasurement[]): Dataset {
  const offset = input.timezoneOffsetMinutes ?? 0;
  const images = referencedImages(measurements, input.keyImages);
  const ds: Dataset = {
    ...studyAttributes(input),
    SOPClassUID: SopClass.ComprehensiveSR,
    SOPInstanceUID: input.srSopInstanceUID,
    Modality: 'SR',
    SeriesInstanceUID: input.srSeriesInstanceUID,
    SeriesNumber: REPORT_SR_SERIES_NUMBER,
    SeriesDescription: loValue(input.title),
    ReferencedPerformedProcedureStepSequence: [],
    InstanceNumber: 1,
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [{ CodeValue: SR_CODES.imagingMeasurementReport.value, CodingSchemeDesignator: 'DCM', CodeMeaning: SR_CODES.imagingMeasurementReport.meaning }],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    CodingSchemeIdentificationSequence: [
      { CodingSchemeDesignator: PRIVATE_SCHEME, CodingSchemeName: 'Telerad local codes', CodingSchemeResponsibleOrganization: MANUFACTURER },
    ],
    // Signed: complete and verified by its author, at the signing time.
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'VERIFIED',
    VerifyingObserverSequence: [
      {
        VerifyingObserverName: authorPersonName(input.author),
        VerifyingObserverIdentificationCodeSequence: [],
        // Type 1: a value is required even when the profile names no institution.
        VerifyingOrganization: loValue(input.author.institution ?? '') || 'Not recorded',
        VerificationDateTime: dicomDT(input.signedAt, offset),
      },
    ],
    PerformedProcedureCodeSequence: [],
    ContentSequence: contentTree(sr, input, measurements),
  };
  if (input.predecessor) {
    const p = input.predecessor;
    ds['PredecessorDocumentsSequence'] = [
      {
        StudyInstanceUID: p.studyInstanceUID,
        ReferencedSeriesSequence: [
          { SeriesInstanceUID: p.seriesInstanceUID, ReferencedSOPSequence: [{ ReferencedSOPClassUID: p.sopClassUID, ReferencedSOPInstanceUID: p.sopInstanceUID }] },
        ],
      },
    ];
  }
  if (images.length > 0) ds['CurrentRequestedProcedureEvidenceSequence'] = [evidence(input.study.studyInstanceUID, images)];
  return ds;
}

/** A naturalized dataset as a Part 10 file (explicit VR little endian). */
export async function writePart10(dataset: Dataset): Promise<ArrayBuffer> {
  const { DicomDict, DicomMetaDictionary } = await loadDcmjs();
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset['SOPClassUID'],
    MediaStorageSOPInstanceUID: dataset['SOPInstanceUID'],
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
    _vrMap: { FileMetaInformationVersion: 'OB' },
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return dict.write();
}

/** The Encapsulated PDF (PS3.3 A.45.1) of the report, in the same study, pointing at the SR it renders. */
export function encapsulatedPdfDataset(input: ReportBuildInput, pdf: Uint8Array): Dataset {
  // OB values have even length; PS3.5 pads an odd encapsulated document with one 0x00.
  const padded = new Uint8Array(pdf.length + (pdf.length % 2));
  padded.set(pdf);
  const signed = dicomDT(input.signedAt, input.timezoneOffsetMinutes ?? 0);
  return {
    ...studyAttributes(input),
    SOPClassUID: SopClass.EncapsulatedPdf,
    SOPInstanceUID: input.pdfSopInstanceUID,
    Modality: 'DOC',
    SeriesInstanceUID: input.pdfSeriesInstanceUID,
    SeriesNumber: REPORT_PDF_SERIES_NUMBER,
    SeriesDescription: loValue(`${input.title} (PDF)`),
    ConversionType: 'WSD',
    InstanceNumber: 1,
    AcquisitionDateTime: signed,
    BurnedInAnnotation: 'YES',
    DocumentTitle: loValue(input.title, 1024),
    ConceptNameCodeSequence: [{ CodeValue: '18748-4', CodingSchemeDesignator: 'LN', CodeMeaning: 'Diagnostic imaging report' }],
    VerificationFlag: 'VERIFIED',
    SourceInstanceSequence: [{ ReferencedSOPClassUID: SopClass.ComprehensiveSR, ReferencedSOPInstanceUID: input.srSopInstanceUID }],
    MIMETypeOfEncapsulatedDocument: 'application/pdf',
    EncapsulatedDocumentLength: pdf.length,
    EncapsulatedDocument: [padded.buffer],
    _vrMap: { EncapsulatedDocument: 'OB' },
  };
}

/** Refuses input that would make an invalid instance, naming what is wrong (the caller shows and logs it). */
function assertBuildable(input: ReportBuildInput): void {
  const problems: string[] = [];
  const uids: [string, string | undefined][] = [
    ['study', input.study.studyInstanceUID],
    ['SR SOP instance', input.srSopInstanceUID],
    ['SR series', input.srSeriesInstanceUID],
    ['PDF SOP instance', input.pdfSopInstanceUID],
    ['PDF series', input.pdfSeriesInstanceUID],
    ...(input.predecessor ? ([['predecessor SOP instance', input.predecessor.sopInstanceUID]] as [string, string][]) : []),
  ];
  for (const [what, uid] of uids) if (!validUid(uid)) problems.push(`${what} UID "${uid ?? ''}" is not a valid DICOM UID`);
  if (input.srSopInstanceUID === input.pdfSopInstanceUID) problems.push('the SR and the PDF have the same SOP Instance UID');
  if (!Number.isFinite(input.signedAt)) problems.push('the signing time is missing');
  if (!input.study.patientId && !input.study.patientName) problems.push('the study has no patient name or ID');
  if (problems.length > 0) throw new Error(`Cannot build the report: ${problems.join('; ')}`);
}

/**
 * The two instances of a signed report, ready for STOW-RS: the TID 1500
 * Comprehensive SR and the Encapsulated PDF. Same input, same bytes.
 */
export async function buildReportInstances(input: ReportBuildInput): Promise<BuiltReport> {
  assertBuildable(input);
  const { sr: srModule } = await loadDcmjs();
  const measurements = await prepareMeasurements(input);
  const srBytes = await writePart10(srDataset(srModule, input, measurements));
  const pdf = await renderReportPdf(input, measurements.map((m) => ({ annotation: m.annotation, image: m.image, graphic: m.graphic })));
  const pdfBytes = await writePart10(encapsulatedPdfDataset(input, pdf));
  const sr: BuiltInstance = { sopInstanceUID: input.srSopInstanceUID, sopClassUID: SopClass.ComprehensiveSR, seriesInstanceUID: input.srSeriesInstanceUID, bytes: srBytes };
  const pdfInstance: BuiltInstance = { sopInstanceUID: input.pdfSopInstanceUID, sopClassUID: SopClass.EncapsulatedPdf, seriesInstanceUID: input.pdfSeriesInstanceUID, bytes: pdfBytes };
  return { sr, pdf: pdfInstance };
}
