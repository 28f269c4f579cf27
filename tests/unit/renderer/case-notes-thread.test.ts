// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { SopClass } from '../../../src/renderer/lib/dicom/referral-codes';
import type { ReadReport, StudyContext } from '../../../src/renderer/lib/dicom/report-dicom-types';
import { buildCaseNote } from '../../../src/renderer/lib/dicom/case-note-dicom';
import { readCaseNote } from '../../../src/renderer/lib/dicom/case-note-reader';
import type { CaseNote, CaseNoteInput } from '../../../src/renderer/lib/dicom/case-note-types';
import { buildThread, compareUids, summarize, threadStatus } from '../../../src/renderer/case-thread/thread-model';

const STUDY_UID = '1.2.826.0.1.3680043.8.498.78';
const STUDY: StudyContext = { studyInstanceUID: STUDY_UID, patientName: 'DLAMINI^NOMSA', patientId: 'CASE-8', studyId: '8' };
const REFERRER = { name: 'Thabo Mbeki', credentials: 'MBChB' };
const SPECIALIST = { name: 'Amara Nwosu', credentials: 'FCRad' };
const T0 = Date.UTC(2026, 11, 1, 8, 0, 0);
const HOUR = 3_600_000;

const uid = (series: number, n = 1): string => `${STUDY_UID}.${series}.${n}`;
const ref = (series: number, n = 1): { sopInstanceUID: string; sopClassUID: string; seriesInstanceUID: string } => ({
  sopInstanceUID: uid(series, n),
  sopClassUID: SopClass.BasicTextSR,
  seriesInstanceUID: `${STUDY_UID}.${series}`,
});

async function note(input: CaseNoteInput): Promise<CaseNote> {
  return readCaseNote((await buildCaseNote(input)).bytes)!;
}

const common = (series: number, at: number, n = 1): Pick<CaseNoteInput, 'study' | 'sopInstanceUID' | 'seriesInstanceUID' | 'writtenAt' | 'instanceNumber'> => ({
  study: STUDY,
  sopInstanceUID: uid(series, n),
  seriesInstanceUID: `${STUDY_UID}.${series}`,
  writtenAt: at,
  instanceNumber: n,
});

/** The conversation of the issue: referral → "more information needed" → answer with a photo → final report → outcome. */
async function conversation(): Promise<{ notes: CaseNote[]; report: ReadReport }> {
  const referral = await note({ ...common(900, T0), kind: 'referral', author: REFERRER, referral: { clinicalQuestion: 'Scaphoid fracture?', priority: 'urgent' } });
  const consult = await note({ ...common(901, T0 + HOUR), kind: 'consult', status: 'more-info-needed', question: 'Is there snuffbox tenderness?', author: SPECIALIST, answers: ref(900) });
  const answer = await note({
    ...common(902, T0 + 2 * HOUR),
    kind: 'answer',
    author: REFERRER,
    answers: ref(901),
    attachments: [{ sopInstanceUID: uid(950), sopClassUID: SopClass.VlPhotographicImage, seriesInstanceUID: `${STUDY_UID}.950` }],
    sections: [{ id: 'answer', label: 'Answer', text: 'Yes, marked snuffbox tenderness. Photo attached.' }],
  });
  const outcome = await note({ ...common(903, T0 + 30 * 24 * HOUR), kind: 'outcome', author: REFERRER, answers: ref(990), sections: [{ id: 'outcome', label: 'Outcome', text: 'Cast 8 weeks, united.' }] });
  const report: ReadReport = {
    sopInstanceUID: uid(990),
    studyInstanceUID: STUDY_UID,
    title: 'Wrist X-ray report',
    sections: [
      { label: 'Findings', text: 'Lucent line across the scaphoid waist.' },
      { label: 'Impression', text: 'Undisplaced scaphoid waist fracture.' },
    ],
    measurements: [],
    author: 'Amara Nwosu',
    authorCredentials: 'FCRad',
    contentDateTime: '2026-12-01T13:00:00+00:00',
    completionFlag: 'COMPLETE',
    verificationFlag: 'VERIFIED',
  };
  return { notes: [referral, consult, answer, outcome], report };
}

describe('the thread of a case', () => {
  it('orders both sides in time, whatever order the notes arrive in, with side, author, summary and answer links', async () => {
    const { notes, report } = await conversation();
    const shuffled = [notes[3]!, notes[1]!, notes[0]!, notes[2]!];
    const thread = buildThread(shuffled, [report]);
    expect(thread.map((e) => [e.kind, e.side, e.author, e.summary])).toEqual([
      ['referral', 'referrer', 'Thabo Mbeki, MBChB', 'Scaphoid fracture?'],
      ['consult', 'specialist', 'Amara Nwosu, FCRad', 'Is there snuffbox tenderness?'],
      ['answer', 'referrer', 'Thabo Mbeki, MBChB', 'Yes, marked snuffbox tenderness. Photo attached.'],
      ['report', 'specialist', 'Amara Nwosu, FCRad', 'Undisplaced scaphoid waist fracture.'],
      ['outcome', 'referrer', 'Thabo Mbeki, MBChB', 'Cast 8 weeks, united.'],
    ]);
    expect(thread.map((e) => e.at)).toEqual([T0, T0 + HOUR, T0 + 2 * HOUR, T0 + 5 * HOUR, T0 + 30 * 24 * HOUR]);
    expect(thread.map((e) => e.answersId)).toEqual([undefined, uid(900), uid(901), uid(902), uid(990)]);
    // Notes name what they answer; the report's link is inferred (the referrer's latest question or answer before it).
    expect(thread.map((e) => e.answerInferred ?? false)).toEqual([false, false, false, true, false]);
    expect(thread[1]!.status).toBe('more-info-needed');
    expect(thread[2]!.attachments.map((a) => a.sopInstanceUID)).toEqual([uid(950)]);
    expect(buildThread(notes, [report])).toEqual(thread);
  });

  it('the status follows the conversation', async () => {
    const { notes, report } = await conversation();
    const [referral, consult, answer, outcome] = notes as [CaseNote, CaseNote, CaseNote, CaseNote];
    expect(threadStatus([])).toBe('awaiting specialist');
    expect(threadStatus(buildThread([referral], []))).toBe('awaiting specialist');
    expect(threadStatus(buildThread([referral, consult], []))).toBe('more information requested');
    expect(threadStatus(buildThread([referral, consult, answer], []))).toBe('awaiting specialist');
    expect(threadStatus(buildThread([referral, consult, answer], [report]))).toBe('reported');
    expect(threadStatus(buildThread(notes, [report]))).toBe('outcome posted');
    expect(threadStatus(buildThread([outcome, referral], []))).toBe('outcome posted');
    const finalConsult = await note({ ...common(901, T0 + 3 * HOUR, 2), kind: 'consult', status: 'final', author: SPECIALIST, sections: [{ id: 'impression', label: 'Impression', text: 'Scaphoid fracture.' }] });
    expect(threadStatus(buildThread([referral, consult, answer, finalConsult], []))).toBe('reported');
  });

  it('entries written in the same second are ordered by instance number, then by UID, the same every time', async () => {
    const at = T0 + HOUR;
    // Its UID sorts before the first's: only the instance number puts it second.
    const second = await note({ ...common(800, at, 2), kind: 'consult', status: 'final', author: SPECIALIST, sections: [{ id: 'x', label: 'X', text: 'second' }] });
    const first = await note({ ...common(901, at, 1), kind: 'consult', status: 'more-info-needed', question: 'first', author: SPECIALIST });
    // Same time and instance number: UIDs compared as numbers, component by component (…9.1 before …10.1).
    const byUidLater = await note({ ...common(10, at, 3), kind: 'answer', author: REFERRER, sections: [{ id: 'x', label: 'X', text: 'uid .10' }] });
    const byUidEarlier = await note({ ...common(9, at, 3), kind: 'answer', author: REFERRER, sections: [{ id: 'x', label: 'X', text: 'uid .9' }] });
    const orders = [
      [second, byUidLater, first, byUidEarlier],
      [byUidEarlier, first, byUidLater, second],
      [first, second, byUidEarlier, byUidLater],
    ];
    for (const order of orders) {
      expect(buildThread(order, []).map((e) => e.summary)).toEqual(['first', 'second', 'uid .9', 'uid .10']);
    }
  });

  it('an instance listed twice appears once; undated entries go last', async () => {
    const { notes, report } = await conversation();
    const undated: ReadReport = { ...report, sopInstanceUID: uid(992) };
    delete undated.contentDateTime;
    const thread = buildThread([...notes, notes[0]!], [report, report, undated]);
    expect(thread).toHaveLength(6);
    expect(thread.at(-1)!.id).toBe(uid(992));
    expect(thread.at(-1)!.at).toBeUndefined();
  });

  it('a report dated without an offset is read as UTC, not in the machine time zone', () => {
    const [entry] = buildThread([], [{ sopInstanceUID: uid(990), studyInstanceUID: STUDY_UID, title: 'R', sections: [], measurements: [], contentDateTime: '2026-12-01T13:00:00' }]);
    expect(entry!.at).toBe(Date.UTC(2026, 11, 1, 13, 0, 0));
  });
});

describe('thread helpers', () => {
  it('summaries are one line, cut at a word with an ellipsis', () => {
    expect(summarize('  two\n lines ')).toBe('two lines');
    const long = 'word '.repeat(60);
    const s = summarize(long, 40);
    expect(s.length).toBeLessThanOrEqual(40);
    expect(s).toMatch(/^word( word)*…$/);
  });

  it('UIDs compare numerically by component', () => {
    expect(['1.2.10', '1.2.9', '1.2.9.1', '1.10'].sort(compareUids)).toEqual(['1.2.9', '1.2.9.1', '1.2.10', '1.10']);
  });
});
