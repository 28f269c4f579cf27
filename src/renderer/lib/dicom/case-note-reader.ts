import type { ReferralPriority } from '../clinical-types';
import { REFERRAL_CODES, URGENCY_CODES } from './referral-codes';
import { SR_CODES } from './report-sr-codes';
import { readSrTree, referencedSeries } from './sr-tree';
import type { SrContentItem, SrTree } from './sr-tree';
import { authorFromPersonName, isoDateTime, parseDicomDateTime, priorityInWords } from './sr-values';
import { Tag } from './tags';
import { SR_SOP_CLASSES, codeKeyOf, sameCode } from './vocabulary';
import type { CodeTriplet } from './vocabulary';
import { CONSULT_STATUS_CODES, NOTE_CODES, NOTE_PURPOSE_CODES, NOTE_TITLES } from './case-note-codes';
import type { CaseNote, CaseNoteKind, ConsultStatus, NoteReference, ReferralContent } from './case-note-types';

/**
 * Reading a case note back (ours, or a note another tool wrote with the same
 * titles) from its content tree (sr-tree.ts). Only the root's items are
 * read: a Basic Text SR note is flat, and the structured items are looked up
 * by concept, so their order does not matter.
 */

/**
 * Whether an SR's document title (root concept name) is one of a case
 * note's. For listing code that only has the title (referral-sr.ts's
 * SrDocument): a consult or progress note is a message, not a report.
 */
export function isCaseNoteTitle(title: { value?: string; scheme?: string } | undefined): boolean {
  return kindOfTitle(title) !== undefined;
}

function kindOfTitle(title: { value?: string; scheme?: string } | undefined): 'referral' | 'consult' | 'progress' | undefined {
  if (sameCode(title, NOTE_TITLES.referral)) return 'referral';
  if (sameCode(title, NOTE_TITLES.consult)) return 'consult';
  if (sameCode(title, NOTE_TITLES.progress)) return 'progress';
  return undefined;
}

/** Concepts read into their own fields rather than into the narrative sections. */
const STRUCTURED_TEXT: readonly CodeTriplet[] = [NOTE_CODES.informationRequested, REFERRAL_CODES.requestedSpecialty, REFERRAL_CODES.urgency];

/** What the root's items say, each concept's first item winning. */
interface NoteContent {
  sections: { label: string; text: string }[];
  referral: ReferralContent;
  attachments: NoteReference[];
  observer?: string;
  organization?: string;
  status?: ConsultStatus;
  purpose?: 'answer' | 'outcome';
  question?: string;
  answers?: NoteReference;
}

function readNoteContent(content: readonly SrContentItem[], seriesOf: Map<string, string>): NoteContent {
  const note: NoteContent = { sections: [], referral: {}, attachments: [] };
  const { referral } = note;
  for (const { valueType, relationship, concept, ...item } of content) {
    if (!concept) continue;
    if (valueType === 'PNAME' && sameCode(concept, REFERRAL_CODES.personObserverName)) note.observer ??= item.personName;
    else if (valueType === 'TEXT' && relationship === 'HAS OBS CONTEXT' && sameCode(concept, SR_CODES.personObserverOrganization)) note.organization ??= item.text;
    else if (valueType === 'CODE') {
      if (sameCode(concept, NOTE_CODES.consultStatus)) note.status ??= codeKeyOf(CONSULT_STATUS_CODES, item.code);
      else if (sameCode(concept, NOTE_CODES.notePurpose)) note.purpose ??= codeKeyOf(NOTE_PURPOSE_CODES, item.code);
      else if (sameCode(concept, REFERRAL_CODES.urgency)) referral.priority ??= codeKeyOf<ReferralPriority>(URGENCY_CODES, item.code);
    } else if (valueType === 'TEXT' && relationship === 'CONTAINS') {
      const { text } = item;
      if (text === undefined) continue;
      if (sameCode(concept, NOTE_CODES.informationRequested)) note.question ??= text;
      else if (sameCode(concept, REFERRAL_CODES.urgency)) referral.priority ??= priorityInWords(text);
      else if (sameCode(concept, REFERRAL_CODES.requestedSpecialty)) referral.requestedSpecialty ??= text;
      else if (!STRUCTURED_TEXT.some((c) => sameCode(concept, c))) {
        if (sameCode(concept, REFERRAL_CODES.clinicalQuestion)) referral.clinicalQuestion ??= text;
        else if (sameCode(concept, REFERRAL_CODES.history)) referral.history ??= text;
        note.sections.push({ label: concept.meaning, text });
      }
    } else if ((valueType === 'COMPOSITE' || valueType === 'IMAGE') && item.reference) {
      // The series comes from the evidence sequences: a COMPOSITE item names only the instance.
      const { sopInstanceUID, sopClassUID } = item.reference;
      const ref: NoteReference = { sopInstanceUID, sopClassUID, seriesInstanceUID: seriesOf.get(sopInstanceUID) ?? '' };
      if (sameCode(concept, NOTE_CODES.inReplyTo)) note.answers ??= ref;
      else if (sameCode(concept, NOTE_CODES.attachment)) note.attachments.push(ref);
    }
  }
  return note;
}

/** The author: the observer context, else the Author Observer Sequence (with its institution). */
function authorOf(tree: SrTree, content: NoteContent): CaseNote['author'] {
  const authorObserver = tree.sequence(Tag.AuthorObserverSequence)[0];
  const pn = content.observer ?? (authorObserver && tree.decode(authorObserver, Tag.PersonName));
  if (!pn) return undefined;
  const org = content.organization ?? (authorObserver && tree.decode(authorObserver, Tag.InstitutionName));
  return { ...authorFromPersonName(pn), ...(org ? { organization: org } : {}) };
}

/**
 * What a case note says, or undefined when the bytes are not one: not
 * DICOM, not an SR, or an SR with another title (a report, a measurement
 * SR). Never throws.
 */
export function readCaseNote(bytes: ArrayBuffer | Uint8Array): CaseNote | undefined {
  let tree: SrTree;
  try {
    tree = readSrTree(bytes, { maxDepth: 0 });
  } catch {
    return undefined;
  }
  const sopClassUID = tree.header(Tag.SOPClassUID) ?? '';
  if (!SR_SOP_CLASSES.has(sopClassUID)) return undefined;
  const { title } = tree;
  const titleKind = kindOfTitle(title);
  if (!title || !titleKind) return undefined;

  const seriesOf = referencedSeries(tree, [Tag.CurrentRequestedProcedureEvidenceSequence, Tag.PertinentOtherEvidenceSequence]);
  const content = readNoteContent(tree.content, seriesOf);
  const { purpose, answers, status, question } = content;

  // A progress note that says neither: one answering something is an answer, else an outcome.
  const kind: CaseNoteKind = titleKind === 'progress' ? (purpose ?? (answers ? 'answer' : 'outcome')) : titleKind;
  const offset = tree.header(Tag.TimezoneOffsetFromUTC);
  const date = tree.header(Tag.ContentDate);
  const time = tree.header(Tag.ContentTime);
  const note: CaseNote = {
    kind,
    sopInstanceUID: tree.header(Tag.SOPInstanceUID) ?? '',
    sopClassUID,
    seriesInstanceUID: tree.header(Tag.SeriesInstanceUID) ?? '',
    studyInstanceUID: tree.header(Tag.StudyInstanceUID) ?? '',
    title: title.meaning,
    sections: content.sections,
    attachments: content.attachments,
  };
  const instanceNumber = Number.parseInt(tree.header(Tag.InstanceNumber) ?? '', 10);
  if (Number.isFinite(instanceNumber)) note.instanceNumber = instanceNumber;
  const author = authorOf(tree, content);
  if (author) note.author = author;
  const iso = isoDateTime(date, time, offset);
  if (iso) note.contentDateTime = iso;
  const ms = date ? parseDicomDateTime(`${date}${(time ?? '').split('.')[0]}`, offset) : undefined;
  if (ms !== undefined && Number.isFinite(ms)) note.writtenAt = ms;
  if (kind === 'referral') note.referral = content.referral;
  const completion = tree.header(Tag.CompletionFlag);
  if (kind === 'consult') note.status = status ?? (completion === 'PARTIAL' && question ? 'more-info-needed' : 'final');
  if (question) note.question = question;
  if (completion) note.completionFlag = completion;
  if (answers) note.answers = answers;
  return note;
}
