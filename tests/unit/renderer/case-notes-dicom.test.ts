// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { dicomParser } from '../../../src/renderer/lib/dicom/dicom-parser';
import { SopClass } from '../../../src/renderer/lib/dicom/referral-codes';
import { isReferralNote, parseSrDocument, readReferralNote } from '../../../src/renderer/lib/dicom/referral-sr';
import type { StudyContext } from '../../../src/renderer/lib/dicom/report-dicom-types';
import { buildReportInstances } from '../../../src/renderer/lib/dicom/report-dicom';
import { isReportSr } from '../../../src/renderer/lib/dicom/report-sr-reader';
import { buildCaseNote } from '../../../src/renderer/lib/dicom/case-note-dicom';
import { isCaseNoteTitle, readCaseNote } from '../../../src/renderer/lib/dicom/case-note-reader';
import type { CaseNoteInput, NoteReference } from '../../../src/renderer/lib/dicom/case-note-types';
import { generateReferralNote, generateReportSr } from '../../fixtures/referral-packet';

const STUDY_UID = '1.2.826.0.1.3680043.8.498.77';
const STUDY: StudyContext = {
  studyInstanceUID: STUDY_UID,
  patientName: 'NDLOVU^SIPHO',
  patientId: 'CASE-7',
  patientBirthDate: '19800214',
  patientSex: 'M',
  studyDate: '20261130',
  studyTime: '101500',
  studyId: '7',
  accessionNumber: 'ACC-7',
};
const REFERRER = { name: 'Thabo Mbeki', credentials: 'MBChB', organization: 'Lusikisiki District Clinic' };
const SPECIALIST = { name: 'Amara Nwosu', credentials: 'MBBS, FCRad', organization: 'Telerad Reading Centre' };
const T0 = Date.UTC(2026, 11, 1, 8, 30, 0);

const REFERRAL_REF: NoteReference = { sopInstanceUID: `${STUDY_UID}.900.1`, sopClassUID: SopClass.BasicTextSR, seriesInstanceUID: `${STUDY_UID}.900` };
const CONSULT_REF: NoteReference = { sopInstanceUID: `${STUDY_UID}.901.1`, sopClassUID: SopClass.BasicTextSR, seriesInstanceUID: `${STUDY_UID}.901` };
const PHOTO: NoteReference = { sopInstanceUID: `${STUDY_UID}.950.1`, sopClassUID: SopClass.VlPhotographicImage, seriesInstanceUID: `${STUDY_UID}.950` };
const PDF: NoteReference = { sopInstanceUID: `${STUDY_UID}.951.1`, sopClassUID: SopClass.EncapsulatedPdf, seriesInstanceUID: `${STUDY_UID}.951` };

const referralInput: CaseNoteInput = {
  kind: 'referral',
  study: STUDY,
  sopInstanceUID: REFERRAL_REF.sopInstanceUID,
  seriesInstanceUID: REFERRAL_REF.seriesInstanceUID,
  author: REFERRER,
  writtenAt: T0,
  referral: {
    clinicalQuestion: 'Distal radius fracture — displaced? Needs reduction?',
    history: 'Fell on outstretched hand yesterday. Swelling, pain on pronation.',
    priority: 'urgent',
    requestedSpecialty: 'Orthopaedics',
  },
};

const moreInfoInput: CaseNoteInput = {
  kind: 'consult',
  status: 'more-info-needed',
  question: 'Please send a lateral view of the wrist and a photo of the skin over the fracture.',
  study: STUDY,
  sopInstanceUID: CONSULT_REF.sopInstanceUID,
  seriesInstanceUID: CONSULT_REF.seriesInstanceUID,
  author: SPECIALIST,
  writtenAt: T0 + 3_600_000,
  sections: [{ id: 'opinion', label: 'Preliminary opinion', text: 'AP view only: fracture likely, angulation cannot be judged.' }],
  answers: REFERRAL_REF,
};

const answerInput: CaseNoteInput = {
  kind: 'answer',
  study: STUDY,
  sopInstanceUID: `${STUDY_UID}.902.1`,
  seriesInstanceUID: `${STUDY_UID}.902`,
  author: REFERRER,
  writtenAt: T0 + 7_200_000,
  sections: [{ id: 'answer', label: 'Answer', text: 'No lateral view possible today; photo of the wrist and the lab results attached.' }],
  answers: CONSULT_REF,
  attachments: [PHOTO, PDF],
};

const outcomeInput: CaseNoteInput = {
  kind: 'outcome',
  study: STUDY,
  sopInstanceUID: `${STUDY_UID}.903.1`,
  seriesInstanceUID: `${STUDY_UID}.903`,
  author: REFERRER,
  writtenAt: T0 + 14 * 86_400_000,
  timezoneOffsetMinutes: 120,
  sections: [{ id: 'outcome', label: 'Outcome', text: 'Closed reduction at the district hospital; cast for 6 weeks; good position on review.' }],
};

describe('case notes as Basic Text SR documents', () => {
  it('a referral note reads back with its question, history, urgency, specialty and author', async () => {
    const built = await buildCaseNote(referralInput);
    expect(built).toMatchObject({ sopInstanceUID: REFERRAL_REF.sopInstanceUID, seriesInstanceUID: REFERRAL_REF.seriesInstanceUID, sopClassUID: SopClass.BasicTextSR });
    const note = readCaseNote(built.bytes)!;
    expect(note).toMatchObject({
      kind: 'referral',
      title: 'Referral note',
      studyInstanceUID: STUDY_UID,
      instanceNumber: 1,
      author: REFERRER,
      contentDateTime: '2026-12-01T08:30:00+00:00',
      writtenAt: T0,
      completionFlag: 'COMPLETE',
      referral: referralInput.referral,
      attachments: [],
    });
    expect(note.sections).toEqual([
      { label: 'Clinical information', text: 'Distal radius fracture — displaced? Needs reduction?' },
      { label: 'History general', text: 'Fell on outstretched hand yesterday. Swelling, pain on pronation.' },
    ]);
    expect(note.answers).toBeUndefined();
    expect(note.status).toBeUndefined();
  });

  it("the worklist's referral reader reads a built referral note unchanged", async () => {
    const doc = parseSrDocument((await buildCaseNote(referralInput)).bytes);
    expect(isReferralNote(doc)).toBe(true);
    expect(readReferralNote(doc)).toEqual({
      priority: 'urgent',
      clinicalQuestion: 'Distal radius fracture — displaced? Needs reduction?',
      history: 'Fell on outstretched hand yesterday. Swelling, pain on pronation.',
      requestedSpecialty: 'Orthopaedics',
      referringClinician: 'Thabo Mbeki',
    });
    expect(doc.contentDateTime).toBe('20261201083000');
  });

  it('a consult asking for more information carries the question, status "more information needed", PARTIAL, and the note it answers', async () => {
    const built = await buildCaseNote(moreInfoInput);
    const note = readCaseNote(built.bytes)!;
    expect(note).toMatchObject({
      kind: 'consult',
      title: 'Consult note',
      status: 'more-info-needed',
      question: 'Please send a lateral view of the wrist and a photo of the skin over the fracture.',
      completionFlag: 'PARTIAL',
      author: SPECIALIST,
      answers: REFERRAL_REF,
    });
    // The question is a field of its own, not repeated in the narrative.
    expect(note.sections).toEqual([{ label: 'Preliminary opinion', text: 'AP view only: fracture likely, angulation cannot be judged.' }]);
    // Not a referral note: the worklist does not take it for one.
    expect(readReferralNote(parseSrDocument(built.bytes))).toBeUndefined();
  });

  it('a final consult opinion is COMPLETE and has no question', async () => {
    const note = readCaseNote(
      (
        await buildCaseNote({
          kind: 'consult',
          status: 'final',
          study: STUDY,
          sopInstanceUID: `${STUDY_UID}.901.2`,
          seriesInstanceUID: `${STUDY_UID}.901`,
          instanceNumber: 2,
          author: SPECIALIST,
          writtenAt: T0 + 9_000_000,
          sections: [{ id: 'impression', label: 'Impression', text: 'Dorsally angulated distal radius fracture: reduce and cast.' }],
        })
      ).bytes,
    )!;
    expect(note).toMatchObject({ kind: 'consult', status: 'final', completionFlag: 'COMPLETE', instanceNumber: 2 });
    expect(note.question).toBeUndefined();
    expect(note.sections).toEqual([{ label: 'Impression', text: 'Dorsally angulated distal radius fracture: reduce and cast.' }]);
  });

  it("the referrer's answer points at the consult it answers and at each new attachment, with their series", async () => {
    const built = await buildCaseNote(answerInput);
    const note = readCaseNote(built.bytes)!;
    expect(note).toMatchObject({ kind: 'answer', title: 'Progress note', answers: CONSULT_REF, attachments: [PHOTO, PDF], author: REFERRER });
    // Every referenced instance is listed as evidence (PS3.3 C.17.2.3), grouped by series.
    const ds = dicomParser.parseDicom(new Uint8Array(built.bytes));
    const evidence = ds.elements['x0040a375']!.items![0]!.dataSet!;
    expect(evidence.string('x0020000d')).toBe(STUDY_UID);
    const series = evidence.elements['x00081115']!.items!.map((i) => i.dataSet!.string('x0020000e'));
    expect(series).toEqual([CONSULT_REF.seriesInstanceUID, PHOTO.seriesInstanceUID, PDF.seriesInstanceUID]);
    // A reply is not a revision: no Predecessor Documents Sequence.
    expect(ds.elements['x0040a360']).toBeUndefined();
  });

  it('an outcome note reads back as an outcome, in the time zone it was written in', async () => {
    const note = readCaseNote((await buildCaseNote(outcomeInput)).bytes)!;
    expect(note).toMatchObject({ kind: 'outcome', title: 'Progress note', contentDateTime: '2026-12-15T10:30:00+02:00', writtenAt: outcomeInput.writtenAt });
    expect(note.sections[0]!.text).toMatch(/^Closed reduction/);
    expect(note.answers).toBeUndefined();
  });

  it('the same input gives the same bytes; another UID gives other bytes', async () => {
    for (const input of [referralInput, moreInfoInput, answerInput, outcomeInput]) {
      const a = new Uint8Array((await buildCaseNote(input)).bytes);
      const b = new Uint8Array((await buildCaseNote(structuredClone(input))).bytes);
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    }
    const other = await buildCaseNote({ ...outcomeInput, sopInstanceUID: `${STUDY_UID}.903.2` });
    expect(Buffer.from(new Uint8Array(other.bytes)).equals(Buffer.from(new Uint8Array((await buildCaseNote(outcomeInput)).bytes)))).toBe(false);
  });

  it('keeps any character in names and text (UTF-8)', async () => {
    const note = readCaseNote(
      (
        await buildCaseNote({
          ...outcomeInput,
          author: { name: 'Zoë Ngọc-Ánh', organization: 'Clínica São José' },
          sections: [{ id: 'outcome', label: 'Outcome', text: 'Guérie — 治愈. Follow-up in 3 months.' }],
        })
      ).bytes,
    )!;
    expect(note.author).toEqual({ name: 'Zoë Ngọc-Ánh', organization: 'Clínica São José' });
    expect(note.sections).toEqual([{ label: 'Outcome', text: 'Guérie — 治愈. Follow-up in 3 months.' }]);
  });

  it('refuses input that would make a broken note, naming every problem', async () => {
    await expect(buildCaseNote({ ...moreInfoInput, question: '  ' } as CaseNoteInput)).rejects.toThrow(/needs the question/);
    await expect(buildCaseNote({ ...answerInput, answers: { ...CONSULT_REF, sopInstanceUID: 'not-a-uid' }, author: { name: ' ' } })).rejects.toThrow(
      /answered note SOP instance UID "not-a-uid" is not a valid DICOM UID; the note has no author/,
    );
    await expect(buildCaseNote({ ...answerInput, answers: { ...CONSULT_REF, sopInstanceUID: answerInput.sopInstanceUID } })).rejects.toThrow(/cannot answer itself/);
    await expect(buildCaseNote({ ...outcomeInput, writtenAt: Number.NaN })).rejects.toThrow(/time the note was written/);
  });
});

describe('what is not a case note', () => {
  it('listing code that has only the SR title can tell notes from reports', async () => {
    for (const input of [referralInput, moreInfoInput, answerInput, outcomeInput]) {
      expect(isCaseNoteTitle(parseSrDocument((await buildCaseNote(input)).bytes).title)).toBe(true);
    }
    expect(isCaseNoteTitle({ value: '126000', scheme: 'DCM' })).toBe(false);
    expect(isCaseNoteTitle(parseSrDocument(generateReportSr({ studyInstanceUID: STUDY_UID, patientName: 'X', patientId: 'Y' }).bytes).title)).toBe(false);
    expect(isCaseNoteTitle(undefined)).toBe(false);
  });

  it('a report SR, a report from another tool, and bytes that are not DICOM read as undefined', async () => {
    const report = await buildReportInstances({
      kind: 'report',
      title: 'Wrist X-ray report',
      sections: [{ id: 'impression', label: 'Impression' }],
      text: { impression: 'Distal radius fracture.' },
      priority: 'urgent',
      measurements: [],
      keyImages: [],
      author: { name: SPECIALIST.name, credentials: SPECIALIST.credentials },
      signedAt: T0,
      study: STUDY,
      srSopInstanceUID: `${STUDY_UID}.990.1`,
      srSeriesInstanceUID: `${STUDY_UID}.990`,
      pdfSopInstanceUID: `${STUDY_UID}.991.1`,
      pdfSeriesInstanceUID: `${STUDY_UID}.991`,
    });
    expect(isReportSr(report.sr.bytes)).toBe(true);
    expect(readCaseNote(report.sr.bytes)).toBeUndefined();
    expect(readCaseNote(report.pdf.bytes)).toBeUndefined();
    expect(readCaseNote(generateReportSr({ studyInstanceUID: STUDY_UID, patientName: 'X', patientId: 'Y' }).bytes)).toBeUndefined();
    expect(readCaseNote(new TextEncoder().encode('%PDF-1.7 not dicom'))).toBeUndefined();
    expect(readCaseNote(new Uint8Array(0))).toBeUndefined();
  });

  it("reads another tool's referral note (no purpose, author only in the observer context)", () => {
    const other = generateReferralNote({
      studyInstanceUID: STUDY_UID,
      patientName: 'NDLOVU^SIPHO',
      patientId: 'CASE-7',
      priority: 'STAT',
      clinicalQuestion: 'Pneumothorax?',
      referringClinician: 'MBEKI^THABO^^DR',
      urgencyAsText: true,
    });
    const note = readCaseNote(other.bytes)!;
    expect(note.kind).toBe('referral');
    expect(note.referral).toEqual({ clinicalQuestion: 'Pneumothorax?', priority: 'STAT' });
    expect(note.author).toEqual({ name: 'MBEKI, THABO' });
  });
});
