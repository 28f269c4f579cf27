import { formatPersonName } from '../../../shared/dicom/dicomweb-json';
import type { ReferralPriority } from '../clinical-types';
import { NotDicomError, readSrTree, walkContent } from './sr-tree';
import type { SrContentItem, SrTree } from './sr-tree';
import { priorityInWords } from './sr-values';
import { Tag } from './tags';
import { REFERRAL_CODES, URGENCY_CODES } from './referral-codes';
import { codeKeyOf, sameCode } from './vocabulary';
import type { CodeTriplet } from './vocabulary';

/**
 * A referral note read from its SR: the document's header and its content
 * tree (sr-tree.ts), then the note's fields looked up by concept.
 */

export type SrCode = CodeTriplet;

/** A content item of the tree; its text values are read whatever its value type. */
export type SrItem = SrContentItem;

export interface SrDocument {
  sopInstanceUID: string;
  sopClassUID: string;
  seriesInstanceUID: string;
  /** Concept Name of the root CONTAINER: the document title. */
  title?: SrCode;
  /** `YYYYMMDDHHMMSS` from ContentDate/ContentTime, for choosing the latest of two notes. */
  contentDateTime: string;
  referringPhysicianName?: string;
  authorName?: string;
  content: SrItem[];
}

/** Deep enough for notes that group items in sub-containers; real notes are a few levels deep. */
const REFERRAL_NOTE_MAX_DEPTH = 16;

/** Parses a Part 10 SR file. Throws when the bytes are not a DICOM file. */
export function parseSrDocument(bytes: ArrayBuffer | Uint8Array): SrDocument {
  let tree: SrTree;
  try {
    tree = readSrTree(bytes, { maxDepth: REFERRAL_NOTE_MAX_DEPTH });
  } catch (err) {
    // What this function has always thrown is dicom-parser's own `{ exception, dataSet }`: kept for its callers.
    throw err instanceof NotDicomError ? err.cause : err;
  }
  const doc: SrDocument = {
    sopInstanceUID: tree.header(Tag.SOPInstanceUID) ?? '',
    sopClassUID: tree.header(Tag.SOPClassUID) ?? '',
    seriesInstanceUID: tree.header(Tag.SeriesInstanceUID) ?? '',
    contentDateTime: `${tree.header(Tag.ContentDate) ?? ''}${(tree.header(Tag.ContentTime) ?? '').split('.')[0]}`,
    content: tree.content,
  };
  if (tree.title) doc.title = tree.title;
  const referring = tree.header(Tag.ReferringPhysicianName);
  if (referring) doc.referringPhysicianName = referring;
  const author = tree
    .sequence(Tag.AuthorObserverSequence)
    .map((a) => tree.decode(a, Tag.PersonName))
    .find(Boolean);
  if (author) doc.authorName = author;
  return doc;
}

export function isReferralNote(doc: Pick<SrDocument, 'title'>): boolean {
  return sameCode(doc.title, REFERRAL_CODES.documentTitle);
}

/** What a referral note says; every field is optional (a note may leave any of them out). */
export interface ReferralNoteFields {
  priority?: ReferralPriority;
  clinicalQuestion?: string;
  history?: string;
  referringClinician?: string;
  requestedSpecialty?: string;
}

/** Other codes that mean the same item, for notes written by other tools. */
const CLINICAL_QUESTION_CODES: readonly CodeTriplet[] = [
  REFERRAL_CODES.clinicalQuestion,
  { value: '42349-1', scheme: 'LN', meaning: 'Reason for referral' },
];

function priorityOf(item: SrItem): ReferralPriority | undefined {
  return codeKeyOf<ReferralPriority>(URGENCY_CODES, item.code) ?? priorityInWords(`${item.code?.meaning ?? ''} ${item.text ?? ''}`);
}

/**
 * The fields of a referral note, or undefined when the document is not one
 * (its title is not LOINC 57133-1). The first item of each concept wins,
 * searched depth first, so notes that group items in sub-containers
 * (Comprehensive SR) read the same.
 */
export function readReferralNote(doc: SrDocument): ReferralNoteFields | undefined {
  if (!isReferralNote(doc)) return undefined;
  const fields: ReferralNoteFields = {};
  let observer: string | undefined;
  walkContent(doc.content, (item) => {
    const c = item.concept;
    if (!c) return;
    if (item.text && !fields.clinicalQuestion && CLINICAL_QUESTION_CODES.some((q) => sameCode(c, q))) fields.clinicalQuestion = item.text;
    else if (item.text && !fields.history && sameCode(c, REFERRAL_CODES.history)) fields.history = item.text;
    else if (item.text && !fields.requestedSpecialty && sameCode(c, REFERRAL_CODES.requestedSpecialty)) fields.requestedSpecialty = item.text;
    else if (!fields.priority && sameCode(c, REFERRAL_CODES.urgency)) {
      const p = priorityOf(item);
      if (p) fields.priority = p;
    } else if (!observer && item.personName && sameCode(c, REFERRAL_CODES.personObserverName)) observer = item.personName;
  });
  const clinician = observer ?? doc.authorName ?? doc.referringPhysicianName;
  if (clinician) fields.referringClinician = formatClinician(clinician);
  return fields;
}

/** "MBEKI^THABO^^DR" → "DR MBEKI, THABO": the list format, with the prefix a referral letter shows. */
export function formatClinician(pn: string): string {
  const prefix = pn.split('=')[0]!.split('^')[3]?.trim();
  const name = formatPersonName(pn);
  return prefix ? `${prefix} ${name}` : name;
}
