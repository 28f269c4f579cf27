import type { ReferralPriority } from '../clinical-types';
import type { StudyContext } from './report-dicom-types';

/**
 * The notes of a case's conversation, both sides:
 * - referral: the referrer's first note (LOINC 57133-1);
 * - consult: the specialist's note (LOINC 11488-4), either asking for more
 *   information or giving a final opinion;
 * - answer: the referrer's reply to a consult that asked for more (a
 *   progress note, LOINC 11506-3, purpose ANSWER);
 * - outcome: what happened to the patient, posted by the referrer later (a
 *   progress note, purpose OUTCOME).
 * A signed report (TID 1500 SR, issue 6) is the other kind of entry in the thread.
 */
export type CaseNoteKind = 'referral' | 'consult' | 'answer' | 'outcome';

/** A consult note either asks the referrer for more, or is the specialist's final opinion. */
export type ConsultStatus = 'more-info-needed' | 'final';

/** Another instance a note points at: the note it answers, or an attachment (photo, PDF). */
export interface NoteReference {
  sopInstanceUID: string;
  sopClassUID: string;
  /** Known when building (the caller made the instance); read back from the evidence sequence. */
  seriesInstanceUID: string;
}

export interface NoteSection {
  /** A stable id ("findings", "opinion"…): a standard code when one exists (report-sr-codes.ts sectionCode), else a local one. */
  id: string;
  label: string;
  text: string;
}

/** The author as the profile holds it: the name as typed, credentials and organisation optional. */
export interface NoteAuthor {
  name: string;
  credentials?: string;
  organization?: string;
}

interface CaseNoteInputBase {
  study: StudyContext;
  /** Made once by the caller (when the note is saved), so a resent note is the same instance. */
  sopInstanceUID: string;
  seriesInstanceUID: string;
  /** Default 1. Orders notes written in the same second. */
  instanceNumber?: number;
  author: NoteAuthor;
  /** Epoch ms: the content date and time. */
  writtenAt: number;
  /** Minutes east of UTC the dates are written in; default 0 (UTC), so bytes do not depend on the machine. */
  timezoneOffsetMinutes?: number;
  /** Free-text sections, in order; empty ones are left out. */
  sections?: NoteSection[];
  /** The note or report this one answers (a COMPOSITE "In reply to" item). */
  answers?: NoteReference;
  /** Photos and PDFs sent with the note, in the same study (COMPOSITE "Attachment" items). */
  attachments?: NoteReference[];
}

export interface ReferralContent {
  clinicalQuestion?: string;
  history?: string;
  priority?: ReferralPriority;
  requestedSpecialty?: string;
}

export type CaseNoteInput =
  | (CaseNoteInputBase & { kind: 'referral'; referral: ReferralContent })
  | (CaseNoteInputBase & { kind: 'consult'; status: 'final' })
  | (CaseNoteInputBase & { kind: 'consult'; status: 'more-info-needed'; /** What the specialist needs to know. */ question: string })
  | (CaseNoteInputBase & { kind: 'answer' | 'outcome' });

/** A case note read back from its SR. */
export interface CaseNote {
  kind: CaseNoteKind;
  sopInstanceUID: string;
  sopClassUID: string;
  seriesInstanceUID: string;
  studyInstanceUID: string;
  instanceNumber?: number;
  /** The document title's meaning ("Consult note"). */
  title: string;
  author?: NoteAuthor;
  /** ISO 8601 with the offset when the SR has one (`2026-12-01T14:00:00+00:00`). */
  contentDateTime?: string;
  /** Epoch ms of the content date-time (UTC when the SR gives no offset). */
  writtenAt?: number;
  /** The narrative, in document order; structured items are in their own fields. */
  sections: { label: string; text: string }[];
  /** Referral notes: what the worklist's referral reader reads too. */
  referral?: ReferralContent;
  /** Consult notes. */
  status?: ConsultStatus;
  /** Consult notes asking for more: the question. */
  question?: string;
  /** CompletionFlag: PARTIAL while the specialist waits for more information. */
  completionFlag?: string;
  answers?: NoteReference;
  attachments: NoteReference[];
}
