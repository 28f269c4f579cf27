import { DOCUMENT_TITLES, PRIVATE_SCHEME } from './vocabulary';
import type { CodeTriplet } from './vocabulary';

/**
 * The codes of a case note (the conversation around a referral), in one
 * table shared by the builder (case-note-dicom.ts) and the reader
 * (case-note-reader.ts), so the two cannot drift apart. The referral note's
 * own items (question, history, urgency, specialty, observer) come from
 * referral-codes.ts, so the worklist's referral reader reads our notes
 * unchanged.
 *
 * | item                     | value type | concept name (value, scheme, meaning)                    |
 * | ------------------------ | ---------- | -------------------------------------------------------- |
 * | title: referral note     | CONTAINER  | 57133-1, LN, "Referral note" (referral-codes.ts)         |
 * | title: consult note      | CONTAINER  | 11488-4, LN, "Consult note"                              |
 * | title: progress note     | CONTAINER  | 11506-3, LN, "Progress note" (an answer or an outcome)   |
 * | consult status           | CODE       | CONSULTSTATUS, 99TELERAD; value MOREINFO or FINAL        |
 * | information requested    | TEXT       | INFOREQUEST, 99TELERAD: the specialist's question        |
 * | note purpose             | CODE       | NOTEPURPOSE, 99TELERAD; value ANSWER or OUTCOME          |
 * | in reply to              | COMPOSITE  | INREPLYTO, 99TELERAD: the note or report answered        |
 * | attachment               | COMPOSITE  | ATTACHMENT, 99TELERAD: a photo or PDF sent with the note |
 *
 * PS3.16 has no codes for a consult's "more information needed" state or a
 * reply link, hence the local scheme (PS3.16 §8.2: designators starting with
 * "99" are local). Code values are SH (at most 16 characters).
 */
export const NOTE_TITLES = {
  referral: DOCUMENT_TITLES.referralNote,
  consult: DOCUMENT_TITLES.consultNote,
  progress: DOCUMENT_TITLES.progressNote,
} as const satisfies Record<string, CodeTriplet>;

export const NOTE_CODES = {
  consultStatus: { value: 'CONSULTSTATUS', scheme: PRIVATE_SCHEME, meaning: 'Consult status' },
  informationRequested: { value: 'INFOREQUEST', scheme: PRIVATE_SCHEME, meaning: 'Information requested' },
  notePurpose: { value: 'NOTEPURPOSE', scheme: PRIVATE_SCHEME, meaning: 'Note purpose' },
  inReplyTo: { value: 'INREPLYTO', scheme: PRIVATE_SCHEME, meaning: 'In reply to' },
  attachment: { value: 'ATTACHMENT', scheme: PRIVATE_SCHEME, meaning: 'Attachment' },
} as const satisfies Record<string, CodeTriplet>;

export const CONSULT_STATUS_CODES = {
  'more-info-needed': { value: 'MOREINFO', scheme: PRIVATE_SCHEME, meaning: 'More information needed' },
  final: { value: 'FINAL', scheme: PRIVATE_SCHEME, meaning: 'Final opinion' },
} as const satisfies Record<string, CodeTriplet>;

export const NOTE_PURPOSE_CODES = {
  answer: { value: 'ANSWER', scheme: PRIVATE_SCHEME, meaning: 'Answer to a request for information' },
  outcome: { value: 'OUTCOME', scheme: PRIVATE_SCHEME, meaning: 'Patient outcome' },
} as const satisfies Record<string, CodeTriplet>;

/** Series Number of each kind of note, so a PACS lists them apart from images and reports (990/991). */
export const NOTE_SERIES_NUMBERS = {
  referral: 900,
  consult: 901,
  answer: 902,
  outcome: 903,
} as const;
