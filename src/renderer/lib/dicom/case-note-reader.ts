import type { DataSet } from 'dicom-parser';
import { formatPersonName } from '../../../shared/dicom/dicomweb-json';
import type { ReferralPriority } from '../clinical-types';
import { parseDicom } from './dicom-parser';
import { decoderFor, items, readCode } from './sr-dataset';
import { REFERRAL_CODES, SR_SOP_CLASSES, URGENCY_CODES, sameCode } from './referral-codes';
import type { CodeTriplet } from './referral-codes';
import { SR_CODES } from './report-sr-codes';
import { parseDicomDateTime } from './report-sr-reader';
import { CONSULT_STATUS_CODES, NOTE_CODES, NOTE_PURPOSE_CODES, NOTE_TITLES } from './case-note-codes';
import type { CaseNote, CaseNoteKind, ConsultStatus, NoteAuthor, NoteReference, ReferralContent } from './case-note-types';

/**
 * Reading a case note back (ours, or a note another tool wrote with the same
 * titles) with dicom-parser, already in the bundle. Only the root's items
 * are read: a Basic Text SR note is flat, and the structured items are
 * looked up by concept, so their order does not matter.
 */

const T = {
  SpecificCharacterSet: 'x00080005',
  SOPClassUID: 'x00080016',
  SOPInstanceUID: 'x00080018',
  ContentDate: 'x00080023',
  ContentTime: 'x00080033',
  TimezoneOffsetFromUTC: 'x00080201',
  InstitutionName: 'x00080080',
  CodeValue: 'x00080100',
  CodingSchemeDesignator: 'x00080102',
  CodeMeaning: 'x00080104',
  ReferencedSeriesSequence: 'x00081115',
  ReferencedSOPClassUID: 'x00081150',
  ReferencedSOPInstanceUID: 'x00081155',
  ReferencedSOPSequence: 'x00081199',
  StudyInstanceUID: 'x0020000d',
  SeriesInstanceUID: 'x0020000e',
  InstanceNumber: 'x00200013',
  RelationshipType: 'x0040a010',
  ValueType: 'x0040a040',
  ConceptNameCodeSequence: 'x0040a043',
  AuthorObserverSequence: 'x0040a078',
  PersonName: 'x0040a123',
  TextValue: 'x0040a160',
  ConceptCodeSequence: 'x0040a168',
  CurrentRequestedProcedureEvidenceSequence: 'x0040a375',
  PertinentOtherEvidenceSequence: 'x0040a385',
  CompletionFlag: 'x0040a491',
  ContentSequence: 'x0040a730',
} as const;





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

/** `name^^^^credentials` (ours) → name and credentials; anyone else's PN is formatted as a name. */
function authorOf(pn: string): NoteAuthor {
  const [family = '', given = '', middle = '', , suffix = ''] = pn.split('=')[0]!.split('^');
  const name = given || middle ? formatPersonName(pn) : family.trim();
  return suffix.trim() ? { name, credentials: suffix.trim() } : { name };
}

function keyOf<K extends string>(table: Record<K, CodeTriplet>, code: CodeTriplet | undefined): K | undefined {
  return (Object.entries(table) as [K, CodeTriplet][]).find(([, c]) => sameCode(code, c))?.[0];
}

function isoOf(date: string | undefined, time: string | undefined, offset: string | undefined): string | undefined {
  if (!date || !/^\d{8}$/.test(date)) return undefined;
  const t = (time ?? '').split('.')[0]!.padEnd(6, '0');
  const base = `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}`;
  const z = offset && /^([+-])(\d{2})(\d{2})$/.exec(offset);
  return z ? `${base}${z[1]}${z[2]}:${z[3]}` : base;
}

/** An urgency written as text by another tool ("stat", "Urgent"), read as the referral reader does. */
function priorityInWords(text: string): ReferralPriority | undefined {
  const words = text.toLowerCase();
  if (/\bstat\b|emergen/.test(words)) return 'STAT';
  if (/\burgent\b/.test(words)) return 'urgent';
  if (/\broutine\b/.test(words)) return 'routine';
  return undefined;
}

/** Concepts read into their own fields rather than into the narrative sections. */
const STRUCTURED_TEXT: readonly CodeTriplet[] = [NOTE_CODES.informationRequested, REFERRAL_CODES.requestedSpecialty, REFERRAL_CODES.urgency];

/**
 * What a case note says, or undefined when the bytes are not one: not
 * DICOM, not an SR, or an SR with another title (a report, a measurement
 * SR). Never throws.
 */
export function readCaseNote(bytes: ArrayBuffer | Uint8Array): CaseNote | undefined {
  let ds: DataSet;
  try {
    ds = parseDicom(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  } catch {
    return undefined;
  }
  const decode = decoderFor(ds.string(T.SpecificCharacterSet));
  const sopClassUID = decode(ds, T.SOPClassUID) ?? '';
  if (!SR_SOP_CLASSES.has(sopClassUID)) return undefined;
  const title = readCode(items(ds, T.ConceptNameCodeSequence)[0], decode);
  const titleKind = kindOfTitle(title);
  if (!title || !titleKind) return undefined;

  // The series of every referenced instance, from the evidence sequences (a COMPOSITE item names only the instance).
  const seriesOf = new Map<string, string>();
  for (const tag of [T.CurrentRequestedProcedureEvidenceSequence, T.PertinentOtherEvidenceSequence]) {
    for (const study of items(ds, tag)) {
      for (const series of items(study, T.ReferencedSeriesSequence)) {
        const seriesUID = decode(series, T.SeriesInstanceUID) ?? '';
        for (const sop of items(series, T.ReferencedSOPSequence)) {
          const uid = decode(sop, T.ReferencedSOPInstanceUID);
          if (uid) seriesOf.set(uid, seriesUID);
        }
      }
    }
  }
  const referenceOf = (item: DataSet): NoteReference | undefined => {
    const sop = items(item, T.ReferencedSOPSequence)[0];
    const uid = sop && decode(sop, T.ReferencedSOPInstanceUID);
    if (!sop || !uid) return undefined;
    return { sopInstanceUID: uid, sopClassUID: decode(sop, T.ReferencedSOPClassUID) ?? '', seriesInstanceUID: seriesOf.get(uid) ?? '' };
  };

  const sections: { label: string; text: string }[] = [];
  const referral: ReferralContent = {};
  const attachments: NoteReference[] = [];
  let observer: string | undefined;
  let organization: string | undefined;
  let status: ConsultStatus | undefined;
  let purpose: 'answer' | 'outcome' | undefined;
  let question: string | undefined;
  let answers: NoteReference | undefined;
  for (const item of items(ds, T.ContentSequence)) {
    const valueType = decode(item, T.ValueType);
    const relationship = decode(item, T.RelationshipType);
    const concept = readCode(items(item, T.ConceptNameCodeSequence)[0], decode);
    if (!concept) continue;
    if (valueType === 'PNAME' && sameCode(concept, REFERRAL_CODES.personObserverName)) observer ??= decode(item, T.PersonName);
    else if (valueType === 'TEXT' && relationship === 'HAS OBS CONTEXT' && sameCode(concept, SR_CODES.personObserverOrganization)) organization ??= decode(item, T.TextValue);
    else if (valueType === 'CODE') {
      const value = readCode(items(item, T.ConceptCodeSequence)[0], decode);
      if (sameCode(concept, NOTE_CODES.consultStatus)) status ??= keyOf(CONSULT_STATUS_CODES, value);
      else if (sameCode(concept, NOTE_CODES.notePurpose)) purpose ??= keyOf(NOTE_PURPOSE_CODES, value);
      else if (sameCode(concept, REFERRAL_CODES.urgency)) referral.priority ??= keyOf<ReferralPriority>(URGENCY_CODES, value);
    } else if (valueType === 'TEXT' && relationship === 'CONTAINS') {
      const text = decode(item, T.TextValue);
      if (text === undefined) continue;
      if (sameCode(concept, NOTE_CODES.informationRequested)) question ??= text;
      else if (sameCode(concept, REFERRAL_CODES.urgency)) referral.priority ??= priorityInWords(text);
      else if (sameCode(concept, REFERRAL_CODES.requestedSpecialty)) referral.requestedSpecialty ??= text;
      else if (!STRUCTURED_TEXT.some((c) => sameCode(concept, c))) {
        if (sameCode(concept, REFERRAL_CODES.clinicalQuestion)) referral.clinicalQuestion ??= text;
        else if (sameCode(concept, REFERRAL_CODES.history)) referral.history ??= text;
        sections.push({ label: concept.meaning, text });
      }
    } else if (valueType === 'COMPOSITE' || valueType === 'IMAGE') {
      const ref = referenceOf(item);
      if (!ref) continue;
      if (sameCode(concept, NOTE_CODES.inReplyTo)) answers ??= ref;
      else if (sameCode(concept, NOTE_CODES.attachment)) attachments.push(ref);
    }
  }

  // A progress note that says neither: one answering something is an answer, else an outcome.
  const kind: CaseNoteKind = titleKind === 'progress' ? (purpose ?? (answers ? 'answer' : 'outcome')) : titleKind;
  const offset = decode(ds, T.TimezoneOffsetFromUTC);
  const date = decode(ds, T.ContentDate);
  const time = decode(ds, T.ContentTime);
  const note: CaseNote = {
    kind,
    sopInstanceUID: decode(ds, T.SOPInstanceUID) ?? '',
    sopClassUID,
    seriesInstanceUID: decode(ds, T.SeriesInstanceUID) ?? '',
    studyInstanceUID: decode(ds, T.StudyInstanceUID) ?? '',
    title: title.meaning,
    sections,
    attachments,
  };
  const instanceNumber = Number.parseInt(decode(ds, T.InstanceNumber) ?? '', 10);
  if (Number.isFinite(instanceNumber)) note.instanceNumber = instanceNumber;
  const authorObserver = items(ds, T.AuthorObserverSequence)[0];
  const pn = observer ?? (authorObserver && decode(authorObserver, T.PersonName));
  if (pn) {
    const org = organization ?? (authorObserver && decode(authorObserver, T.InstitutionName));
    note.author = { ...authorOf(pn), ...(org ? { organization: org } : {}) };
  }
  const iso = isoOf(date, time, offset);
  if (iso) note.contentDateTime = iso;
  const ms = date ? parseDicomDateTime(`${date}${(time ?? '').split('.')[0]}`, offset) : undefined;
  if (ms !== undefined && Number.isFinite(ms)) note.writtenAt = ms;
  if (kind === 'referral') note.referral = referral;
  if (kind === 'consult') note.status = status ?? (decode(ds, T.CompletionFlag) === 'PARTIAL' && question ? 'more-info-needed' : 'final');
  if (question) note.question = question;
  const completion = decode(ds, T.CompletionFlag);
  if (completion) note.completionFlag = completion;
  if (answers) note.answers = answers;
  return note;
}
