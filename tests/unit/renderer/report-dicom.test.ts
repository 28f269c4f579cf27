// @vitest-environment node
import { beforeAll, describe, expect, it } from 'vitest';
import { PDFDocument } from 'pdf-lib';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { dicomParser } from '../../../src/renderer/lib/dicom/dicom-parser';
import type { AnnotationRecord } from '../../../src/renderer/cache/telerad-db';
import { measureAngle, measureCobbAngle, measureLength } from '../../../src/renderer/lib/measure';
import type { Calibration } from '../../../src/renderer/lib/measure';
import { SopClass } from '../../../src/renderer/lib/dicom/referral-codes';
import { extractEncapsulatedPdf } from '../../../src/renderer/lib/dicom/encapsulated-pdf';
import { buildReportInstances, trackingUidOf } from '../../../src/renderer/lib/dicom/report-dicom';
import type { ImageReference, ReadMeasurement, ReportBuildInput } from '../../../src/renderer/lib/dicom/report-dicom-types';
import { isReportSr, readReportSr } from '../../../src/renderer/lib/dicom/report-sr-reader';
import { studyContextFromPart10 } from '../../../src/renderer/lib/dicom/study-context';
import { generateCtSeries } from '../../fixtures/ct-phantom';
import { generateReferralNote } from '../../fixtures/referral-packet';

const STUDY_UID = '1.2.826.0.1.3680043.8.498.1';
const SERIES_UID = `${STUDY_UID}.2`;
const CT: ImageReference = { sopInstanceUID: `${SERIES_UID}.10`, sopClassUID: '1.2.840.10008.5.1.4.1.1.2', seriesInstanceUID: SERIES_UID };
const CT2: ImageReference = { sopInstanceUID: `${SERIES_UID}.11`, sopClassUID: '1.2.840.10008.5.1.4.1.1.2', seriesInstanceUID: SERIES_UID };
const ENHANCED_CT: ImageReference = { sopInstanceUID: `${STUDY_UID}.3.1`, sopClassUID: '1.2.840.10008.5.1.4.1.1.2.1', seriesInstanceUID: `${STUDY_UID}.3`, frameNumber: 7 };
const CAL: Calibration = { rowSpacingMm: 0.7, columnSpacingMm: 0.68, source: 'PixelSpacing' };
const SIGNED_AT = Date.UTC(2026, 11, 1, 14, 5, 9);

function annotation(id: string, tool: string, data: Record<string, unknown>, image: ImageReference = CT): AnnotationRecord {
  return {
    id,
    studyInstanceUID: STUDY_UID,
    seriesInstanceUID: image.seriesInstanceUID,
    sopInstanceUID: image.sopInstanceUID,
    tool,
    data: { visible: true, active: false, invalidated: false, ...data },
    author: 'me',
    createdAt: 1,
    updatedAt: 2,
  };
}

const pt = (x: number, y: number): { x: number; y: number; highlight: boolean; active: boolean } => ({ x, y, highlight: true, active: false });

const LENGTH = annotation('3f1c2b9e-5a4d-4e8f-9b7c-1d2e3f4a5b6c', 'Length', { handles: { start: pt(101.37, 220.5), end: pt(180.91, 260.123), textBox: { x: 0, y: 0 } } });
const ELLIPSE = annotation('7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d', 'EllipticalRoi', { handles: { start: pt(300.4, 120.2), end: pt(260.1, 180.9) } }, CT2);
const RECTANGLE = annotation('rect-1', 'RectangleRoi', { handles: { start: pt(10.5, 12.25), end: pt(40.75, 30.5) }, cachedStats: { mean: -3.5, stdDev: 12.25, min: -40, max: 33, area: 123 } });
const ANGLE = annotation('angle-1', 'Angle', { handles: { start: pt(50, 50), middle: pt(80.5, 90.25), end: pt(130, 60) } });
const COBB = annotation('cobb-1', 'CobbAngle', { handles: { start: pt(10, 10), end: pt(110, 30), start2: pt(12, 200), end2: pt(115, 170) } }, ENHANCED_CT);
const PROBE = annotation('probe-1', 'Probe', { handles: { end: pt(256.5, 256.5) } });
const ARROW = annotation('arrow-1', 'ArrowAnnotate', { text: 'Fracture line', handles: { start: pt(5, 6), end: pt(25, 36) } });
const CALIBRATION = annotation('cal-1', 'Calibration', { handles: { start: pt(0, 0), end: pt(10, 0) } });
const UNKNOWN = annotation('freehand-1', 'FreehandRoi', { handles: { points: [pt(1, 1), pt(2, 2)] } });

function input(overrides: Partial<ReportBuildInput> = {}): ReportBuildInput {
  return {
    kind: 'report',
    title: 'CT report — chest',
    sections: [
      { id: 'findings', label: 'Findings' },
      { id: 'impression', label: 'Impression' },
      { id: 'recommendation', label: 'Recommendation' },
      { id: 'answer', label: 'Answer to the referral question' },
    ],
    text: {
      findings: 'A 12 mm nodule in the right lower lobe.\nNo effusion. Émphysème — mild; ≥ 2 bullae.',
      impression: 'Indeterminate pulmonary nodule.',
      recommendation: 'CT follow-up in 3 months.',
      answer: 'No pneumonia.',
    },
    priority: 'urgent',
    critical: { communicatedTo: 'Dr K. Osei, ED registrar, +27 21 555 0100', communicatedAt: Date.UTC(2026, 11, 1, 13, 58, 0) },
    measurements: [
      { annotation: LENGTH, image: CT, figures: { calibration: CAL, modality: 'CT' } },
      { annotation: ELLIPSE, image: CT2, figures: { calibration: CAL, modality: 'CT', stats: { mean: 41.25, stdDev: 5.5, min: 2, max: 88 } } },
      { annotation: RECTANGLE, image: CT, figures: { modality: 'CT' } },
      { annotation: ANGLE, image: CT, figures: { calibration: CAL } },
      { annotation: COBB, image: ENHANCED_CT, figures: { calibration: CAL } },
      { annotation: PROBE, image: CT, figures: { modality: 'CT', probeValue: -812 } },
      { annotation: ARROW, image: CT },
      { annotation: CALIBRATION, image: CT },
      { annotation: UNKNOWN, image: CT },
    ],
    keyImages: [CT2],
    author: { name: 'Amara Nwosu', credentials: 'MBBS, FCRad', institution: 'Telerad Reading Centre' },
    signedAt: SIGNED_AT,
    study: { studyInstanceUID: STUDY_UID, patientName: 'MOKOENA^LERATO', patientId: 'P-77', studyDate: '20261130', studyTime: '101500', studyId: '4', accessionNumber: 'ACC-9', studyDescription: 'CT chest' },
    srSopInstanceUID: `${STUDY_UID}.900.1`,
    srSeriesInstanceUID: `${STUDY_UID}.900`,
    pdfSopInstanceUID: `${STUDY_UID}.901.1`,
    pdfSeriesInstanceUID: `${STUDY_UID}.901`,
    ...overrides,
  };
}

/** What the SR must say for a handle: FL (float32) is GraphicData's VR, so a point is the float32 nearest the handle. */
const f32 = (values: number[]): number[] => values.map((v) => Math.fround(v));

function byTracking(list: ReadMeasurement[], id: string): ReadMeasurement[] {
  return list.filter((m) => m.trackingUid === id);
}

function attr(bytes: ArrayBuffer, tag: string): string | undefined {
  return dicomParser.parseDicom(new Uint8Array(bytes)).string(tag)?.trim();
}

async function pdfText(dicom: ArrayBuffer): Promise<string> {
  const pdf = extractEncapsulatedPdf(dicom);
  const doc = await getDocument({ data: pdf.slice(), isEvalSupported: false, standardFontDataUrl: 'node_modules/pdfjs-dist/standard_fonts/' }).promise;
  const out: string[] = [];
  for (let i = 1; i <= doc.numPages; i++) {
    const content = await (await doc.getPage(i)).getTextContent();
    out.push(content.items.map((it) => ('str' in it ? it.str : '')).join(' '));
  }
  await doc.destroy();
  return out.join('\n').replace(/\s+/g, ' ');
}

// dcmjs (1.3 MB) and pdf-lib load on the first build; on a busy machine that alone can take seconds.
beforeAll(async () => {
  await buildReportInstances(input());
}, 60_000);

describe('the report SR (TID 1500) read back', () => {
  it('gives back every narrative section, the priority, the critical finding, the author and the flags', async () => {
    const built = await buildReportInstances(input());
    const read = readReportSr(built.sr.bytes);
    expect(read.sopInstanceUID).toBe(`${STUDY_UID}.900.1`);
    expect(read.studyInstanceUID).toBe(STUDY_UID);
    expect(read.title).toBe('CT report — chest');
    expect(read.sections).toEqual([
      { label: 'Findings', text: 'A 12 mm nodule in the right lower lobe.\nNo effusion. Émphysème — mild; ≥ 2 bullae.' },
      { label: 'Impression', text: 'Indeterminate pulmonary nodule.' },
      { label: 'Recommendation', text: 'CT follow-up in 3 months.' },
      { label: 'Answer to the referral question', text: 'No pneumonia.' },
    ]);
    expect(read.priority).toBe('urgent');
    expect(read.critical).toEqual({ communicatedTo: 'Dr K. Osei, ED registrar, +27 21 555 0100', communicatedAt: Date.UTC(2026, 11, 1, 13, 58, 0) });
    expect(read.author).toBe('Amara Nwosu');
    expect(read.authorCredentials).toBe('MBBS, FCRad');
    expect(read.contentDateTime).toBe('2026-12-01T14:05:09+00:00');
    expect(read.completionFlag).toBe('COMPLETE');
    expect(read.verificationFlag).toBe('VERIFIED');
    expect(read.predecessorSopInstanceUID).toBeUndefined();
    expect(read.keyImages).toEqual([CT2]);
  });

  it('writes the signing time in the offset it is given, and reads the same instant back', async () => {
    const built = await buildReportInstances(input({ timezoneOffsetMinutes: 120 }));
    const read = readReportSr(built.sr.bytes);
    expect(read.contentDateTime).toBe('2026-12-01T16:05:09+02:00');
    expect(Date.parse(read.contentDateTime!)).toBe(SIGNED_AT);
    expect(read.critical?.communicatedAt).toBe(Date.UTC(2026, 11, 1, 13, 58, 0));
  });

  it('gives back each measurement with its value, unit, image and the handles as SCOORD points', async () => {
    const read = readReportSr((await buildReportInstances(input())).sr.bytes);

    const [length, ...moreLengths] = byTracking(read.measurements, LENGTH.id);
    expect(moreLengths).toEqual([]);
    const expectedMm = measureLength({ x: 101.37, y: 220.5 }, { x: 180.91, y: 260.123 }, CAL).value;
    expect(length).toEqual({
      name: 'Length',
      value: expectedMm,
      unit: 'mm',
      image: CT,
      graphicType: 'POLYLINE',
      points: f32([101.37, 220.5, 180.91, 260.123]),
      trackingUid: LENGTH.id,
    });

    const ellipse = byTracking(read.measurements, ELLIPSE.id);
    expect(ellipse.map((m) => [m.name, m.value, m.unit])).toEqual([
      ['Mean', 41.25, "[hnsf'U]"],
      ['Standard Deviation', 5.5, "[hnsf'U]"],
      ['Minimum', 2, "[hnsf'U]"],
      ['Maximum', 88, "[hnsf'U]"],
      ['Area', (Math.PI * Math.abs(260.1 - 300.4) * Math.abs(180.9 - 120.2) * 0.68 * 0.7) / 4, 'mm2'],
    ]);
    for (const m of ellipse) {
      expect(m.image).toEqual(CT2);
      expect(m.graphicType).toBe('ELLIPSE');
      // Bounding box x 260.1..300.4, y 120.2..180.9: the major axis is vertical (60.7 > 40.3).
      const cx = (300.4 + 260.1) / 2;
      const cy = (120.2 + 180.9) / 2;
      expect(m.points).toEqual(f32([cx, cy - (180.9 - 120.2) / 2, cx, cy + (180.9 - 120.2) / 2, cx - (300.4 - 260.1) / 2, cy, cx + (300.4 - 260.1) / 2, cy]));
    }

    // No figures given: cornerstone-tools' cached stats; no calibration: the area in square pixels.
    const rect = byTracking(read.measurements, RECTANGLE.id);
    expect(rect.map((m) => [m.name, m.value, m.unit])).toEqual([
      ['Mean', -3.5, "[hnsf'U]"],
      ['Standard Deviation', 12.25, "[hnsf'U]"],
      ['Minimum', -40, "[hnsf'U]"],
      ['Maximum', 33, "[hnsf'U]"],
      ['Area', (40.75 - 10.5) * (30.5 - 12.25), '{pixels2}'],
    ]);
    expect(rect[0]!.graphicType).toBe('POLYLINE');
    expect(rect[0]!.points).toEqual(f32([10.5, 12.25, 40.75, 12.25, 40.75, 30.5, 10.5, 30.5, 10.5, 12.25]));

    expect(byTracking(read.measurements, ANGLE.id)).toEqual([
      {
        name: 'Angle',
        value: measureAngle({ x: 50, y: 50 }, { x: 80.5, y: 90.25 }, { x: 130, y: 60 }, CAL),
        unit: 'deg',
        image: CT,
        graphicType: 'POLYLINE',
        points: f32([50, 50, 80.5, 90.25, 130, 60]),
        trackingUid: ANGLE.id,
      },
    ]);
    expect(byTracking(read.measurements, COBB.id)).toEqual([
      {
        name: 'Cobb angle',
        value: measureCobbAngle({ x: 10, y: 10 }, { x: 110, y: 30 }, { x: 12, y: 200 }, { x: 115, y: 170 }, CAL),
        unit: 'deg',
        image: ENHANCED_CT,
        graphicType: 'MULTIPOINT',
        points: [10, 10, 110, 30, 12, 200, 115, 170],
        trackingUid: COBB.id,
      },
    ]);
    expect(byTracking(read.measurements, PROBE.id)).toEqual([
      { name: 'Attenuation Coefficient', value: -812, unit: "[hnsf'U]", image: CT, graphicType: 'POINT', points: [256.5, 256.5], trackingUid: PROBE.id },
    ]);
  });

  it('leaves out what is not a measurement: calibration lines, unknown tools, text arrows', async () => {
    const read = readReportSr((await buildReportInstances(input())).sr.bytes);
    const ids = new Set(read.measurements.map((m) => m.trackingUid));
    expect([...ids]).toEqual([LENGTH.id, ELLIPSE.id, RECTANGLE.id, ANGLE.id, COBB.id, PROBE.id]);
    expect(read.sections.map((s) => s.text)).not.toContain('Fracture line');
  });

  it('references a frame only in a multi-frame image', async () => {
    const read = readReportSr(
      (await buildReportInstances(input({ measurements: [{ annotation: LENGTH, image: { ...CT, frameNumber: 1 } }, { annotation: COBB, image: ENHANCED_CT }] }))).sr.bytes,
    );
    expect(read.measurements.map((m) => m.image.frameNumber)).toEqual([undefined, 7]);
  });

  it('writes an uncalibrated length in pixels, not millimetres', async () => {
    const read = readReportSr((await buildReportInstances(input({ measurements: [{ annotation: LENGTH, image: CT }] }))).sr.bytes);
    expect(read.measurements).toHaveLength(1);
    expect(read.measurements[0]!.unit).toBe('{pixels}');
    expect(read.measurements[0]!.value).toBe(Math.hypot(180.91 - 101.37, 260.123 - 220.5));
  });

  it('gives each measurement group its annotation id and a Tracking UID derived from it', async () => {
    const built = await buildReportInstances(input());
    const text = new TextDecoder('latin1').decode(new Uint8Array(built.sr.bytes));
    expect(await trackingUidOf(LENGTH.id)).toBe(`2.25.${BigInt('0x3f1c2b9e5a4d4e8f9b7c1d2e3f4a5b6c').toString(10)}`);
    expect(text).toContain(await trackingUidOf(LENGTH.id));
    const other = await trackingUidOf('rect-1');
    expect(other).toMatch(/^2\.25\.\d+$/);
    expect(other).toBe(await trackingUidOf('rect-1'));
    expect(text).toContain(other);
  });
});

describe('addenda and amendments', () => {
  it('an addendum carries the report it corrects in the Predecessor Documents Sequence', async () => {
    const predecessor = { studyInstanceUID: STUDY_UID, seriesInstanceUID: `${STUDY_UID}.900`, sopInstanceUID: `${STUDY_UID}.900.1`, sopClassUID: SopClass.ComprehensiveSR, signedAt: SIGNED_AT };
    const built = await buildReportInstances(
      input({ kind: 'addendum', predecessor, srSopInstanceUID: `${STUDY_UID}.902.1`, srSeriesInstanceUID: `${STUDY_UID}.902`, pdfSopInstanceUID: `${STUDY_UID}.903.1`, signedAt: SIGNED_AT + 3_600_000 }),
    );
    const read = readReportSr(built.sr.bytes);
    expect(read.predecessorSopInstanceUID).toBe(`${STUDY_UID}.900.1`);
    expect(read.sopInstanceUID).toBe(`${STUDY_UID}.902.1`);
    expect(read.contentDateTime).toBe('2026-12-01T15:05:09+00:00');
    expect(await pdfText(built.pdf.bytes)).toContain('Addendum to report of 2026-12-01 14:05 UTC');
  });
});

describe('the instances as built', () => {
  it('the same input gives the same bytes, SR and PDF; another signing time does not', async () => {
    const a = await buildReportInstances(input());
    const b = await buildReportInstances(input());
    expect(Buffer.from(a.sr.bytes).equals(Buffer.from(b.sr.bytes))).toBe(true);
    expect(Buffer.from(a.pdf.bytes).equals(Buffer.from(b.pdf.bytes))).toBe(true);
    const c = await buildReportInstances(input({ signedAt: SIGNED_AT + 1000 }));
    expect(Buffer.from(a.sr.bytes).equals(Buffer.from(c.sr.bytes))).toBe(false);
    expect(Buffer.from(a.pdf.bytes).equals(Buffer.from(c.pdf.bytes))).toBe(false);
  });

  it('uses the UIDs it is given and files both instances in the case study', async () => {
    const built = await buildReportInstances(input());
    expect(built.sr).toMatchObject({ sopInstanceUID: `${STUDY_UID}.900.1`, seriesInstanceUID: `${STUDY_UID}.900`, sopClassUID: SopClass.ComprehensiveSR });
    expect(built.pdf).toMatchObject({ sopInstanceUID: `${STUDY_UID}.901.1`, seriesInstanceUID: `${STUDY_UID}.901`, sopClassUID: SopClass.EncapsulatedPdf });
    for (const bytes of [built.sr.bytes, built.pdf.bytes]) {
      expect(attr(bytes, 'x0020000d')).toBe(STUDY_UID);
      expect(attr(bytes, 'x00100010')).toBe('MOKOENA^LERATO');
      expect(attr(bytes, 'x00100020')).toBe('P-77');
      expect(attr(bytes, 'x00080050')).toBe('ACC-9');
    }
    expect(attr(built.sr.bytes, 'x00080060')).toBe('SR');
    expect(attr(built.pdf.bytes, 'x00080060')).toBe('DOC');
  });

  it('the PDF shows the patient, the sections, the priority, the critical finding, the measurements and who signed', async () => {
    const built = await buildReportInstances(input());
    const pdf = extractEncapsulatedPdf(built.pdf.bytes);
    const doc = await PDFDocument.load(pdf, { updateMetadata: false });
    expect(doc.getTitle()).toBe('CT report — chest');
    const text = await pdfText(built.pdf.bytes);
    for (const expected of [
      'CT report — chest',
      'MOKOENA, LERATO',
      'P-77',
      'Result priority: URGENT',
      'CRITICAL FINDING communicated to Dr K. Osei, ED registrar, +27 21 555 0100 at 2026-12-01 13:58 UTC',
      'Findings',
      'A 12 mm nodule in the right lower lobe.',
      'Answer to the referral question',
      'CT follow-up in 3 months.',
      'Measurements',
      `${expectedLengthText()}`,
      'Mean 41.3 HU',
      'Cobb angle',
      '"Fracture line"',
      'Electronically signed by Amara Nwosu, MBBS, FCRad (Telerad Reading Centre) on 2026-12-01 14:05 UTC',
    ]) {
      expect(text).toContain(expected);
    }
    // '≥' has no glyph in the standard fonts: shown as '?', the build does not fail.
    expect(text).toContain('mild; ? 2 bullae');
  });

  it('writes a report with no measurements, key images or critical finding', async () => {
    const built = await buildReportInstances(input({ measurements: [], keyImages: [], critical: undefined, priority: 'routine' }));
    const read = readReportSr(built.sr.bytes);
    expect(read.measurements).toEqual([]);
    expect(read.critical).toBeUndefined();
    expect(read.priority).toBe('routine');
    expect(read.sections).toHaveLength(4);
  });
});

describe('input that cannot make a valid report', () => {
  it('is refused with a message naming what is wrong', async () => {
    await expect(buildReportInstances(input({ srSopInstanceUID: 'not-a-uid', signedAt: Number.NaN }))).rejects.toThrow(
      'Cannot build the report: SR SOP instance UID "not-a-uid" is not a valid DICOM UID; the signing time is missing',
    );
    await expect(buildReportInstances(input({ pdfSopInstanceUID: `${STUDY_UID}.900.1` }))).rejects.toThrow(/the SR and the PDF have the same SOP Instance UID/);
  });
});

function expectedLengthText(): string {
  return `${measureLength({ x: 101.37, y: 220.5 }, { x: 180.91, y: 260.123 }, CAL).value.toFixed(1)} mm`;
}

describe('telling a report SR from other documents', () => {
  it('recognises the report SR, and not a referral note, the PDF or bytes that are not DICOM', async () => {
    const built = await buildReportInstances(input());
    expect(isReportSr(built.sr.bytes)).toBe(true);
    const note = generateReferralNote({ studyInstanceUID: STUDY_UID, patientName: 'MOKOENA^LERATO', patientId: 'P-77', clinicalQuestion: 'Pneumonia?' });
    expect(isReportSr(note.bytes.slice().buffer)).toBe(false);
    expect(isReportSr(built.pdf.bytes)).toBe(false);
    expect(isReportSr(new TextEncoder().encode('not dicom at all').buffer)).toBe(false);
  });

  it('refuses to read a file that is not an SR, with a message that says so', async () => {
    const built = await buildReportInstances(input());
    expect(() => readReportSr(built.pdf.bytes)).toThrow(/Not a structured report/);
    expect(() => readReportSr(new Uint8Array(10).buffer)).toThrow(/Not a DICOM file/);
  });
});

describe('the study context from a cached instance', () => {
  it('reads patient and study attributes from a CT slice, and the report carries them', async () => {
    const series = generateCtSeries({ patientName: 'DLAMINI^NOMSA', patientId: 'CT-5', slices: 1, rows: 64, columns: 64, studyDescription: 'CT abdomen', accessionNumber: 'A-55', patientSex: 'F', patientBirthDate: '19800101' });
    const slice = series.instances[0]!;
    const ctx = studyContextFromPart10(slice.bytes.slice().buffer);
    expect(ctx).toMatchObject({
      studyInstanceUID: series.studyInstanceUID,
      patientName: 'DLAMINI^NOMSA',
      patientId: 'CT-5',
      patientSex: 'F',
      patientBirthDate: '19800101',
      accessionNumber: 'A-55',
      studyDescription: 'CT abdomen',
    });
    const built = await buildReportInstances(input({ study: ctx, measurements: [], keyImages: [] }));
    const ds = dicomParser.parseDicom(new Uint8Array(built.sr.bytes));
    const ct = dicomParser.parseDicom(slice.bytes, { untilTag: 'x7fe00010' });
    for (const tag of ['x0020000d', 'x00100010', 'x00100020', 'x00100030', 'x00100040', 'x00080020', 'x00080050', 'x00081030']) {
      expect(ds.string(tag)?.trim(), tag).toBe(ct.string(tag)?.trim());
    }
  });

  it('says what is wrong with bytes that are not DICOM', () => {
    expect(() => studyContextFromPart10(new TextEncoder().encode('hello').buffer)).toThrow(/Cannot read the study/);
  });
});
