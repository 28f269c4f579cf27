import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrationFrom, ellipseStats, measureLength } from '../../../src/renderer/lib/measure';
import type { Calibration, PixelSource } from '../../../src/renderer/lib/measure';
import type { AnnotationRecord } from '../../../src/renderer/cache/telerad-db';
import { boundaryOf, parseMultipart } from '../../../src/renderer/dicomweb/multipart';
import { dicomParser } from '../../../src/renderer/lib/dicom/dicom-parser';
import { SopClass } from '../../../src/renderer/lib/dicom/referral-codes';
import { extractEncapsulatedPdf } from '../../../src/renderer/lib/dicom/encapsulated-pdf';
import { buildReportInstances } from '../../../src/renderer/lib/dicom/report-dicom';
import type { BuiltReport, ImageReference, ReportBuildInput, StudyContext } from '../../../src/renderer/lib/dicom/report-dicom-types';
import { isReportSr, readReportSr } from '../../../src/renderer/lib/dicom/report-sr-reader';
import { studyContextFromPart10 } from '../../../src/renderer/lib/dicom/study-context';
import { loadCtStudy, startOrthanc } from '../../support/orthanc';
import type { LoadedCtStudy, OrthancHandle } from '../../support/orthanc';
import { stowInstances } from '../../support/stow';

// A signed report's two instances, built from measurements drawn on a real CT
// study held by a real Orthanc: both pass dciodvfy, both are stored with
// STOW-RS into that study, and the SR read back over WADO-RS puts every
// measurement on the same CT instance and at the same coordinates.
const DCIODVFY = '/usr/bin/dciodvfy';
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

let orthanc: OrthancHandle;
let ct: LoadedCtStudy;
let tmp: string;
let study: StudyContext;
let calibration: Calibration | undefined;
let pixels: PixelSource;
let built: BuiltReport;
let input: ReportBuildInput;

async function wado(path: string): Promise<ArrayBuffer> {
  const res = await fetch(`${orthanc.dicomWebUrl}${path}`, {
    headers: { authorization: orthanc.authorization, accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
  });
  expect(res.status).toBe(200);
  const boundary = boundaryOf(res.headers.get('content-type'));
  expect(boundary).toBeDefined();
  const parts = parseMultipart(await res.arrayBuffer(), boundary!);
  expect(parts).toHaveLength(1);
  return parts[0]!.body;
}

const instancePath = (series: string, sop: string): string => `/studies/${ct.studyInstanceUID}/series/${series}/instances/${sop}`;

function image(i: number): ImageReference {
  return { sopInstanceUID: ct.sopInstanceUIDs[i]!, sopClassUID: CT_IMAGE_STORAGE, seriesInstanceUID: ct.seriesInstanceUID };
}

function annotation(id: string, i: number, tool: string, handles: Record<string, { x: number; y: number }>): AnnotationRecord {
  return {
    id,
    studyInstanceUID: ct.studyInstanceUID,
    seriesInstanceUID: ct.seriesInstanceUID,
    sopInstanceUID: ct.sopInstanceUIDs[i]!,
    tool,
    data: { visible: true, active: false, handles: Object.fromEntries(Object.entries(handles).map(([k, p]) => [k, { ...p, highlight: true, active: false }])) },
    author: 'Amara Nwosu',
    createdAt: 1,
    updatedAt: 1,
  };
}

/** dciodvfy's findings for one file: it prints "Error - …" and "Warning - …" lines. */
function dciodvfy(bytes: ArrayBuffer, name: string): { errors: string[]; warnings: string[] } {
  const file = join(tmp, name);
  writeFileSync(file, new Uint8Array(bytes));
  const run = spawnSync(DCIODVFY, [file], { encoding: 'utf8', timeout: 30_000 });
  const lines = `${run.stdout}\n${run.stderr}`.split('\n');
  return { errors: lines.filter((l) => /^Error/.test(l)), warnings: lines.filter((l) => /^Warning/.test(l)) };
}

const LENGTH_HANDLES = { start: { x: 30.25, y: 40.5 }, end: { x: 90.75, y: 70.125 } };
const ELLIPSE_HANDLES = { start: { x: 50.5, y: 50.5 }, end: { x: 80.5, y: 72.5 } };
const ANGLE_HANDLES = { start: { x: 20, y: 100 }, middle: { x: 64.5, y: 64.5 }, end: { x: 110, y: 100 } };
const PROBE_HANDLES = { end: { x: 64.5, y: 64.5 } };

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'telerad-int-report-'));
  orthanc = await startOrthanc();
  ct = await loadCtStudy(orthanc, { patientName: 'MOKOENA^LERATO', patientId: 'RPT-INT-1', slices: 3, rows: 128, columns: 128, accessionNumber: 'ACC-RPT-1', studyDescription: 'CT chest' });

  // The study context and calibration come from a CT instance, as the app reads them from its cache.
  const slice = await wado(instancePath(ct.seriesInstanceUID, ct.sopInstanceUIDs[1]!));
  study = studyContextFromPart10(slice);
  const ds = dicomParser.parseDicom(new Uint8Array(slice));
  calibration = calibrationFrom({ pixelSpacing: ds.string('x00280030') });
  const pd = ds.elements['x7fe00010']!;
  const signed = ds.uint16('x00280103') === 1;
  const view = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + pd.dataOffset, pd.length);
  const values = Array.from({ length: pd.length / 2 }, (_, k) => (signed ? view.getInt16(2 * k, true) : view.getUint16(2 * k, true)));
  pixels = { columns: ds.uint16('x00280011')!, rows: ds.uint16('x00280010')!, pixels: values, slope: Number(ds.string('x00281053') ?? 1), intercept: Number(ds.string('x00281052') ?? 0) };
  const stats = ellipseStats(ELLIPSE_HANDLES.start, ELLIPSE_HANDLES.end, pixels, calibration)!;

  input = {
    kind: 'report',
    title: 'CT report',
    sections: [
      { id: 'findings', label: 'Findings' },
      { id: 'impression', label: 'Impression' },
    ],
    text: { findings: 'Soft-tissue density lesion, see measurements.', impression: 'Indeterminate lesion — follow-up advised.' },
    priority: 'stat',
    critical: { communicatedTo: 'Dr Osei (ED)', communicatedAt: Date.UTC(2026, 11, 1, 13, 0, 0) },
    measurements: [
      { annotation: annotation('11111111-2222-4333-8444-555555555555', 0, 'Length', LENGTH_HANDLES), image: image(0), figures: { ...(calibration ? { calibration } : {}), modality: 'CT' } },
      {
        annotation: annotation('66666666-7777-4888-9999-aaaaaaaaaaaa', 1, 'EllipticalRoi', ELLIPSE_HANDLES),
        image: image(1),
        figures: { ...(calibration ? { calibration } : {}), modality: 'CT', stats: { mean: stats.mean, stdDev: stats.stdDev, min: stats.min, max: stats.max } },
      },
      { annotation: annotation('angle-on-slice-3', 2, 'Angle', ANGLE_HANDLES), image: image(2), figures: { ...(calibration ? { calibration } : {}) } },
      { annotation: annotation('probe-on-slice-2', 1, 'Probe', PROBE_HANDLES), image: image(1), figures: { modality: 'CT', probeValue: 40 } },
    ],
    keyImages: [image(1)],
    author: { name: 'Amara Nwosu', credentials: 'MBBS, FCRad', institution: 'Telerad Reading Centre' },
    signedAt: Date.UTC(2026, 11, 1, 14, 0, 0),
    study,
    srSopInstanceUID: `${ct.studyInstanceUID}.990.1`,
    srSeriesInstanceUID: `${ct.studyInstanceUID}.990`,
    pdfSopInstanceUID: `${ct.studyInstanceUID}.991.1`,
    pdfSeriesInstanceUID: `${ct.studyInstanceUID}.991`,
  };
  built = await buildReportInstances(input);
});

afterAll(async () => {
  await orthanc?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('a report of a CT study as DICOM, at a real site', () => {
  it.skipIf(!existsSync(DCIODVFY))('the SR and the PDF pass dciodvfy without errors', () => {
    const sr = dciodvfy(built.sr.bytes, 'report-sr.dcm');
    const pdf = dciodvfy(built.pdf.bytes, 'report-pdf.dcm');
    expect(sr.errors).toEqual([]);
    expect(pdf.errors).toEqual([]);
    // The only warnings left are about our local coding scheme (99TELERAD), which dciodvfy cannot know.
    expect(sr.warnings.filter((w) => !/99TELERAD/.test(w))).toEqual([]);
    expect(pdf.warnings).toEqual([]);
  });

  it('stores both into the CT study with STOW-RS, and the SR read back lands on the same images and coordinates', async () => {
    const stow = await stowInstances(orthanc.dicomWebUrl, orthanc.authorization, [new Uint8Array(built.sr.bytes), new Uint8Array(built.pdf.bytes)]);
    expect(stow.failed).toEqual([]);
    expect(stow.stored.sort()).toEqual([input.srSopInstanceUID, input.pdfSopInstanceUID].sort());

    // Filed in the case's study, next to the CT series.
    const res = await fetch(`${orthanc.dicomWebUrl}/studies/${ct.studyInstanceUID}/instances?includefield=00080016`, {
      headers: { authorization: orthanc.authorization, accept: 'application/dicom+json' },
    });
    const listed = (await res.json()) as Record<string, { Value?: string[] }>[];
    const byUid = new Map(listed.map((d) => [d['00080018']?.Value?.[0], d['00080016']?.Value?.[0]]));
    expect(byUid.get(input.srSopInstanceUID)).toBe(SopClass.ComprehensiveSR);
    expect(byUid.get(input.pdfSopInstanceUID)).toBe(SopClass.EncapsulatedPdf);

    const srBack = await wado(instancePath(input.srSeriesInstanceUID, input.srSopInstanceUID));
    expect(isReportSr(srBack)).toBe(true);
    const read = readReportSr(srBack);
    expect(read.studyInstanceUID).toBe(ct.studyInstanceUID);
    expect(read.sections).toEqual([
      { label: 'Findings', text: 'Soft-tissue density lesion, see measurements.' },
      { label: 'Impression', text: 'Indeterminate lesion — follow-up advised.' },
    ]);
    expect(read).toMatchObject({ priority: 'stat', author: 'Amara Nwosu', completionFlag: 'COMPLETE', verificationFlag: 'VERIFIED' });

    // Every measurement: on the CT instance it was drawn on (which the site holds), at the handles' coordinates.
    const f32 = (v: number[]): number[] => v.map((x) => Math.fround(x));
    const where = read.measurements.map((m) => [m.trackingUid, m.name, m.image, m.graphicType, m.points]);
    expect(where).toEqual([
      ['11111111-2222-4333-8444-555555555555', 'Length', image(0), 'POLYLINE', f32([30.25, 40.5, 90.75, 70.125])],
      // The ellipse's box is 30 × 22 px: the major axis is horizontal, written first.
      ...['Mean', 'Standard Deviation', 'Minimum', 'Maximum', 'Area'].map((n) => ['66666666-7777-4888-9999-aaaaaaaaaaaa', n, image(1), 'ELLIPSE', f32([50.5, 61.5, 80.5, 61.5, 65.5, 50.5, 65.5, 72.5])]),
      ['angle-on-slice-3', 'Angle', image(2), 'POLYLINE', f32([20, 100, 64.5, 64.5, 110, 100])],
      ['probe-on-slice-2', 'Attenuation Coefficient', image(1), 'POINT', [64.5, 64.5]],
    ]);
    for (const m of read.measurements) {
      expect(byUid.get(m.image.sopInstanceUID)).toBe(CT_IMAGE_STORAGE);
    }
    const length = read.measurements.find((m) => m.name === 'Length')!;
    expect(length.unit).toBe(calibration ? 'mm' : '{pixels}');
    expect(length.value).toBe(measureLength(LENGTH_HANDLES.start, LENGTH_HANDLES.end, calibration).value);
    // The ROI mean is the one measure.ts computes over the CT's own pixels, in HU.
    const mean = read.measurements.find((m) => m.name === 'Mean')!;
    expect(mean.unit).toBe("[hnsf'U]");
    expect(mean.value).toBe(ellipseStats(ELLIPSE_HANDLES.start, ELLIPSE_HANDLES.end, pixels, calibration)!.mean);

    // The PDF comes back as stored, the report's own PDF.
    const pdfBack = await wado(instancePath(input.pdfSeriesInstanceUID, input.pdfSopInstanceUID));
    const pdf = extractEncapsulatedPdf(pdfBack);
    expect(new TextDecoder().decode(pdf.subarray(0, 5))).toBe('%PDF-');
    expect(pdf).toEqual(extractEncapsulatedPdf(built.pdf.bytes));
  });

  it('an addendum stored later reads back with the report it corrects', async () => {
    const addendum = await buildReportInstances({
      ...input,
      kind: 'addendum',
      text: { findings: 'Comparison with the prior CT: lesion unchanged.', impression: 'Stable.' },
      critical: undefined,
      priority: 'routine',
      measurements: [],
      keyImages: [],
      // A profile with no credentials or institution still makes a valid SR (Verifying Organization is Type 1).
      author: { name: 'Amara Nwosu', credentials: '' },
      signedAt: input.signedAt + 86_400_000,
      predecessor: { studyInstanceUID: ct.studyInstanceUID, seriesInstanceUID: input.srSeriesInstanceUID, sopInstanceUID: input.srSopInstanceUID, sopClassUID: SopClass.ComprehensiveSR, signedAt: input.signedAt },
      srSopInstanceUID: `${ct.studyInstanceUID}.992.1`,
      srSeriesInstanceUID: `${ct.studyInstanceUID}.992`,
      pdfSopInstanceUID: `${ct.studyInstanceUID}.993.1`,
      pdfSeriesInstanceUID: `${ct.studyInstanceUID}.993`,
    });
    if (existsSync(DCIODVFY)) expect(dciodvfy(addendum.sr.bytes, 'addendum-sr.dcm').errors).toEqual([]);
    const stow = await stowInstances(orthanc.dicomWebUrl, orthanc.authorization, [new Uint8Array(addendum.sr.bytes), new Uint8Array(addendum.pdf.bytes)]);
    expect(stow.failed).toEqual([]);
    const read = readReportSr(await wado(instancePath(`${ct.studyInstanceUID}.992`, `${ct.studyInstanceUID}.992.1`)));
    expect(read.predecessorSopInstanceUID).toBe(input.srSopInstanceUID);
    expect(read.contentDateTime).toBe('2026-12-02T14:00:00+00:00');
    expect(read.sections[0]).toEqual({ label: 'Findings', text: 'Comparison with the prior CT: lesion unchanged.' });
    expect(read.author).toBe('Amara Nwosu');
    expect(read.authorCredentials).toBeUndefined();
  });
});
