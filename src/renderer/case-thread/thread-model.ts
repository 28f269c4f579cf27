import type { ReadReport } from '../lib/dicom/report-dicom-types';
import type { CaseNote, ConsultStatus, NoteAuthor, NoteReference } from '../lib/dicom/case-note-types';

/**
 * The conversation around a case as one list in time order, the same on
 * both sides: referral note → consult ("more information needed") →
 * referrer's answer → final report → outcome note, from the notes
 * (readCaseNote) and the signed reports (readReportSr) of the study.
 */

export type ThreadEntryKind = 'referral' | 'consult' | 'answer' | 'report' | 'outcome';
export type ThreadSide = 'referrer' | 'specialist';
export type ThreadStatus = 'awaiting specialist' | 'more information requested' | 'reported' | 'outcome posted';

export interface ThreadEntry {
  /** The SOP Instance UID of the note or report. */
  id: string;
  kind: ThreadEntryKind;
  side: ThreadSide;
  title: string;
  author?: string;
  /** Epoch ms; undefined when the document has no content date (such entries go last). */
  at?: number;
  /** One line for the list: the question asked, the answer, the impression. */
  summary: string;
  /** Consult notes only. */
  status?: ConsultStatus;
  /**
   * The entry this one answers. Notes say it themselves ("In reply to"); a
   * report SR does not, so a report is linked to the referrer's latest
   * entry before it (the referral, or the answer to a question).
   */
  answersId?: string;
  /** True when `answersId` was inferred (reports), not read from the document. */
  answerInferred?: boolean;
  attachments: NoteReference[];
}

const SIDE: Record<ThreadEntryKind, ThreadSide> = {
  referral: 'referrer',
  answer: 'referrer',
  outcome: 'referrer',
  consult: 'specialist',
  report: 'specialist',
};

const SUMMARY_MAX = 160;

/** The first line worth showing, cut at a word boundary. */
export function summarize(text: string | undefined, max = SUMMARY_MAX): string {
  const flat = (text ?? '').replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

function authorLabel(author: NoteAuthor | undefined): string | undefined {
  if (!author) return undefined;
  return author.credentials ? `${author.name}, ${author.credentials}` : author.name;
}

/** ISO 8601 → epoch ms; a date-time without an offset is taken as UTC (Date.parse would take local time). */
function isoToMs(iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const withZone = /([+-]\d{2}:\d{2}|Z)$/.test(iso) ? iso : `${iso}Z`;
  const ms = Date.parse(withZone);
  return Number.isFinite(ms) ? ms : undefined;
}

function noteSummary(note: CaseNote): string {
  if (note.kind === 'consult' && note.status === 'more-info-needed' && note.question) return summarize(note.question);
  if (note.kind === 'referral' && note.referral?.clinicalQuestion) return summarize(note.referral.clinicalQuestion);
  return summarize(note.sections[0]?.text);
}

function reportSummary(report: ReadReport): string {
  const pick = (label: string): string | undefined => report.sections.find((s) => s.label.toLowerCase() === label)?.text;
  return summarize(pick('impression') ?? pick('conclusion') ?? report.sections[0]?.text);
}

/** UIDs compared component by component as numbers, so 1.2.10 comes after 1.2.9. */
export function compareUids(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x.length !== y.length) return x.length - y.length;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

interface Sortable {
  entry: ThreadEntry;
  instanceNumber: number;
}

function compare(a: Sortable, b: Sortable): number {
  const ta = a.entry.at ?? Number.POSITIVE_INFINITY;
  const tb = b.entry.at ?? Number.POSITIVE_INFINITY;
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a.instanceNumber !== b.instanceNumber) return a.instanceNumber - b.instanceNumber;
  return compareUids(a.entry.id, b.entry.id);
}

/**
 * One thread in time order across both sides. Entries written in the same
 * second are ordered by Instance Number, then by UID, so both sides (and
 * every refresh) show the same order. An instance read twice (a note that is
 * also listed as a report) appears once.
 */
export function buildThread(notes: readonly CaseNote[], reports: readonly ReadReport[]): ThreadEntry[] {
  const seen = new Set<string>();
  const list: Sortable[] = [];
  for (const note of notes) {
    if (!note.sopInstanceUID || seen.has(note.sopInstanceUID)) continue;
    seen.add(note.sopInstanceUID);
    const entry: ThreadEntry = {
      id: note.sopInstanceUID,
      kind: note.kind,
      side: SIDE[note.kind],
      title: note.title,
      summary: noteSummary(note),
      attachments: note.attachments,
    };
    const author = authorLabel(note.author);
    if (author) entry.author = author;
    const at = note.writtenAt ?? isoToMs(note.contentDateTime);
    if (at !== undefined) entry.at = at;
    if (note.status) entry.status = note.status;
    if (note.answers) entry.answersId = note.answers.sopInstanceUID;
    list.push({ entry, instanceNumber: note.instanceNumber ?? 0 });
  }
  for (const report of reports) {
    if (!report.sopInstanceUID || seen.has(report.sopInstanceUID)) continue;
    seen.add(report.sopInstanceUID);
    const entry: ThreadEntry = { id: report.sopInstanceUID, kind: 'report', side: 'specialist', title: report.title, summary: reportSummary(report), attachments: [] };
    const author = report.author ? authorLabel({ name: report.author, ...(report.authorCredentials ? { credentials: report.authorCredentials } : {}) }) : undefined;
    if (author) entry.author = author;
    const at = isoToMs(report.contentDateTime);
    if (at !== undefined) entry.at = at;
    list.push({ entry, instanceNumber: 0 });
  }
  const entries = list.sort(compare).map((s) => s.entry);
  // A report answers the referrer's latest entry before it (the referral, or the answer to a question).
  let lastReferrerAsk: string | undefined;
  for (const e of entries) {
    if (e.kind === 'report' && lastReferrerAsk) {
      e.answersId = lastReferrerAsk;
      e.answerInferred = true;
    }
    if (e.kind === 'referral' || e.kind === 'answer') lastReferrerAsk = e.id;
  }
  return entries;
}

/**
 * Where the case stands, from its latest entry: a referral or an answer
 * waits for the specialist; a consult asking for more waits for the
 * referrer; a final consult or a report is reported; an outcome note is
 * the last word. An empty thread is a case nobody has answered yet.
 */
export function threadStatus(entries: readonly ThreadEntry[]): ThreadStatus {
  const last = entries[entries.length - 1];
  if (!last) return 'awaiting specialist';
  switch (last.kind) {
    case 'referral':
    case 'answer':
      return 'awaiting specialist';
    case 'consult':
      return last.status === 'more-info-needed' ? 'more information requested' : 'reported';
    case 'report':
      return 'reported';
    case 'outcome':
      return 'outcome posted';
  }
}
