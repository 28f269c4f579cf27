import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundaryOf, parseMultipart } from '../../../src/renderer/dicomweb/multipart';
import { SopClass } from '../../../src/renderer/lib/dicom/referral-codes';
import { parseSrDocument, readReferralNote } from '../../../src/renderer/lib/dicom/referral-sr';
import { buildReportInstances } from '../../../src/renderer/lib/dicom/report-dicom';
import type { BuiltInstance, BuiltReport, ReadReport, StudyContext } from '../../../src/renderer/lib/dicom/report-dicom-types';
import { isReportSr, readReportSr } from '../../../src/renderer/lib/dicom/report-sr-reader';
import { studyContextFromPart10 } from '../../../src/renderer/lib/dicom/study-context';
import { buildCaseNote, noteReferenceOf } from '../../../src/renderer/lib/dicom/case-note-dicom';
import { readCaseNote } from '../../../src/renderer/lib/dicom/case-note-reader';
import type { CaseNote, NoteReference } from '../../../src/renderer/lib/dicom/case-note-types';
import { buildThread, threadStatus } from '../../../src/renderer/case-thread/thread-model';
import { generateLesionPhoto } from '../../fixtures/referral-packet';
import { loadCtStudy, startOrthanc } from '../../support/orthanc';
import type { LoadedCtStudy, OrthancHandle } from '../../support/orthanc';
import { stowInstances } from '../../support/stow';

// The conversation of issue 7 at a real site: referral note → consult
// "more information needed" → the referrer's answer with a new photo → the
// specialist's signed report (TID 1500 SR, report-dicom.ts) → outcome note.
// Every note passes dciodvfy, all are stored with STOW-RS into the case's
// study, read back over WADO-RS, and make one thread in order.
const DCIODVFY = '/usr/bin/dciodvfy';
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 1, 7, 45, 0);
const REFERRER = { name: 'Thabo Mbeki', credentials: 'MBChB', organization: 'Lusikisiki District Clinic' };
const SPECIALIST = { name: 'Amara Nwosu', credentials: 'MBBS, FCRad', organization: 'Telerad Reading Centre' };

let orthanc: OrthancHandle;
let ct: LoadedCtStudy;
let tmp: string;
let study: StudyContext;
let notes: { referral: BuiltInstance; consult: BuiltInstance; answer: BuiltInstance; outcome: BuiltInstance };
let report: BuiltReport;
let photo: NoteReference & { bytes: Uint8Array };

const noteRef = noteReferenceOf;

async function wadoInstance(series: string, sop: string): Promise<ArrayBuffer> {
  const res = await fetch(`${orthanc.dicomWebUrl}/studies/${ct.studyInstanceUID}/series/${series}/instances/${sop}`, {
    headers: { authorization: orthanc.authorization, accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
  });
  expect(res.status).toBe(200);
  const parts = parseMultipart(await res.arrayBuffer(), boundaryOf(res.headers.get('content-type'))!);
  expect(parts).toHaveLength(1);
  return parts[0]!.body;
}

/** dciodvfy's findings for one file: it prints "Error - …" and "Warning - …" lines. */
function dciodvfy(bytes: ArrayBuffer, name: string): { errors: string[]; warnings: string[] } {
  const file = join(tmp, name);
  writeFileSync(file, new Uint8Array(bytes));
  const run = spawnSync(DCIODVFY, [file], { encoding: 'utf8', timeout: 30_000 });
  const lines = `${run.stdout}\n${run.stderr}`.split('\n');
  return { errors: lines.filter((l) => /^Error/.test(l)), warnings: lines.filter((l) => /^Warning/.test(l)) };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'telerad-int-case-thread-'));
  orthanc = await startOrthanc();
  ct = await loadCtStudy(orthanc, { patientName: 'NDLOVU^SIPHO', patientId: 'THREAD-INT-1', slices: 2, rows: 64, columns: 64, accessionNumber: 'ACC-TH-1', studyDescription: 'CT wrist' });
  // The patient and study attributes come from an instance of the study, as the app reads them from its cache.
  study = studyContextFromPart10(await wadoInstance(ct.seriesInstanceUID, ct.sopInstanceUIDs[0]!));

  const generated = generateLesionPhoto(
    { studyInstanceUID: study.studyInstanceUID, patientName: study.patientName, patientId: study.patientId, ...(study.studyDate ? { studyDate: study.studyDate } : {}) },
    { rows: 48, columns: 64, encoding: 'explicit-le', description: 'Photo: swelling over the wrist' },
  );
  photo = { sopInstanceUID: generated.sopInstanceUID, sopClassUID: generated.sopClassUID, seriesInstanceUID: generated.seriesInstanceUID, bytes: generated.bytes };

  const s = ct.studyInstanceUID;
  const referral = await buildCaseNote({
    kind: 'referral',
    study,
    sopInstanceUID: `${s}.900.1`,
    seriesInstanceUID: `${s}.900`,
    author: REFERRER,
    writtenAt: T0,
    referral: { clinicalQuestion: 'Distal radius fracture — displaced? Reduce here or transfer?', history: 'Fall on outstretched hand.', priority: 'urgent', requestedSpecialty: 'Orthopaedics' },
  });
  const consult = await buildCaseNote({
    kind: 'consult',
    status: 'more-info-needed',
    question: 'Is the skin intact over the fracture? Please send a photo.',
    study,
    sopInstanceUID: `${s}.901.1`,
    seriesInstanceUID: `${s}.901`,
    author: SPECIALIST,
    writtenAt: T0 + HOUR,
    answers: noteRef(referral),
  });
  const answer = await buildCaseNote({
    kind: 'answer',
    study,
    sopInstanceUID: `${s}.902.1`,
    seriesInstanceUID: `${s}.902`,
    author: REFERRER,
    writtenAt: T0 + 2 * HOUR,
    sections: [{ id: 'answer', label: 'Answer', text: 'Skin intact, moderate swelling; photo attached.' }],
    answers: noteRef(consult),
    attachments: [photo],
  });
  report = await buildReportInstances({
    kind: 'report',
    title: 'CT wrist report',
    sections: [
      { id: 'findings', label: 'Findings' },
      { id: 'impression', label: 'Impression' },
    ],
    text: { findings: 'Transverse distal radius fracture, 20° dorsal angulation.', impression: 'Closed displaced distal radius fracture: reduce and cast.' },
    priority: 'urgent',
    measurements: [],
    keyImages: [{ sopInstanceUID: ct.sopInstanceUIDs[1]!, sopClassUID: '1.2.840.10008.5.1.4.1.1.2', seriesInstanceUID: ct.seriesInstanceUID }],
    author: { name: SPECIALIST.name, credentials: SPECIALIST.credentials, institution: SPECIALIST.organization },
    signedAt: T0 + 3 * HOUR,
    study,
    srSopInstanceUID: `${s}.990.1`,
    srSeriesInstanceUID: `${s}.990`,
    pdfSopInstanceUID: `${s}.991.1`,
    pdfSeriesInstanceUID: `${s}.991`,
  });
  const outcome = await buildCaseNote({
    kind: 'outcome',
    study,
    sopInstanceUID: `${s}.903.1`,
    seriesInstanceUID: `${s}.903`,
    author: REFERRER,
    writtenAt: T0 + 21 * 24 * HOUR,
    timezoneOffsetMinutes: 120,
    sections: [{ id: 'outcome', label: 'Outcome', text: 'Reduced under haematoma block, cast; good position at 3 weeks.' }],
    answers: noteRef(report.sr),
  });
  notes = { referral, consult, answer, outcome };
});

afterAll(async () => {
  await orthanc?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the conversation around a case, at a real site', () => {
  it.skipIf(!existsSync(DCIODVFY))('every note passes dciodvfy without errors', () => {
    for (const [name, built] of Object.entries(notes)) {
      const found = dciodvfy(built.bytes, `${name}.dcm`);
      expect(found.errors, name).toEqual([]);
      // The only warnings left are about our local coding scheme (99TELERAD), which dciodvfy cannot know.
      expect(found.warnings.filter((w) => !/99TELERAD/.test(w)), name).toEqual([]);
    }
  });

  it('the four notes and the report, stored in the case study, read back over WADO-RS as one thread in order', async () => {
    // Stored out of order, as two sides posting at different times would.
    const files = [notes.outcome, report.sr, notes.consult, notes.referral, notes.answer].map((b) => new Uint8Array(b.bytes));
    const stow = await stowInstances(orthanc.dicomWebUrl, orthanc.authorization, [...files, photo.bytes]);
    expect(stow.failed).toEqual([]);
    expect(stow.stored).toHaveLength(6);

    // What the study holds, as either side lists it: every SR and its series.
    const res = await fetch(`${orthanc.dicomWebUrl}/studies/${ct.studyInstanceUID}/instances?includefield=00080016&includefield=0020000E`, {
      headers: { authorization: orthanc.authorization, accept: 'application/dicom+json' },
    });
    const listed = (await res.json()) as Record<string, { Value?: string[] }>[];
    const srs = listed
      .filter((d) => [SopClass.BasicTextSR, SopClass.ComprehensiveSR].includes(d['00080016']?.Value?.[0] as typeof SopClass.BasicTextSR))
      .map((d) => ({ series: d['0020000E']!.Value![0]!, sop: d['00080018']!.Value![0]! }));
    expect(srs).toHaveLength(5);

    const readNotes: CaseNote[] = [];
    const readReports: ReadReport[] = [];
    for (const { series, sop } of srs) {
      const bytes = await wadoInstance(series, sop);
      const note = readCaseNote(bytes);
      if (note) readNotes.push(note);
      else if (isReportSr(bytes)) readReports.push(readReportSr(bytes));
    }
    expect(readNotes).toHaveLength(4);
    expect(readReports).toHaveLength(1);

    const thread = buildThread(readNotes, readReports);
    expect(thread.map((e) => [e.kind, e.side, e.author, e.summary])).toEqual([
      ['referral', 'referrer', 'Thabo Mbeki, MBChB', 'Distal radius fracture — displaced? Reduce here or transfer?'],
      ['consult', 'specialist', 'Amara Nwosu, MBBS, FCRad', 'Is the skin intact over the fracture? Please send a photo.'],
      ['answer', 'referrer', 'Thabo Mbeki, MBChB', 'Skin intact, moderate swelling; photo attached.'],
      ['report', 'specialist', 'Amara Nwosu, MBBS, FCRad', 'Closed displaced distal radius fracture: reduce and cast.'],
      ['outcome', 'referrer', 'Thabo Mbeki, MBChB', 'Reduced under haematoma block, cast; good position at 3 weeks.'],
    ]);
    expect(thread.map((e) => e.id)).toEqual([notes.referral, notes.consult, notes.answer, report.sr, notes.outcome].map((b) => b.sopInstanceUID));
    expect(thread.map((e) => e.answersId)).toEqual([undefined, notes.referral.sopInstanceUID, notes.consult.sopInstanceUID, notes.answer.sopInstanceUID, report.sr.sopInstanceUID]);
    expect(thread[1]!.status).toBe('more-info-needed');
    expect(threadStatus(thread)).toBe('outcome posted');
    expect(threadStatus(thread.slice(0, 2))).toBe('more information requested');

    // The photo sent with the answer is in the study, under the series the note names.
    const answerNote = readNotes.find((n) => n.kind === 'answer')!;
    expect(answerNote.attachments).toEqual([{ sopInstanceUID: photo.sopInstanceUID, sopClassUID: SopClass.VlPhotographicImage, seriesInstanceUID: photo.seriesInstanceUID }]);
    const photoBack = readCaseNote(await wadoInstance(photo.seriesInstanceUID, photo.sopInstanceUID));
    expect(photoBack).toBeUndefined();

    // The worklist's referral reader reads the stored referral note.
    const referralBack = await wadoInstance(notes.referral.seriesInstanceUID, notes.referral.sopInstanceUID);
    expect(readReferralNote(parseSrDocument(referralBack))).toMatchObject({ priority: 'urgent', requestedSpecialty: 'Orthopaedics', referringClinician: 'Thabo Mbeki' });
    // Filed with the case's patient.
    expect(readNotes.every((n) => n.studyInstanceUID === ct.studyInstanceUID)).toBe(true);
  });
});
