import type { DataSet } from 'dicom-parser';
import { formatPersonName } from '../../../shared/dicom/dicomweb-json';
import type { ReferralPriority } from '../clinical-types';
import { parseDicom } from './dicom-parser';
import { decoderFor, items, readCode } from './sr-dataset';
import type { Decode } from './sr-dataset';
import { REFERRAL_CODES, URGENCY_CODES, sameCode } from './referral-codes';
import type { CodeTriplet } from './referral-codes';

/**
 * Reading an SR document's content tree with dicom-parser (small, already in
 * the bundle) rather than dcmjs (large): only the handful of attributes an SR
 * content item carries are needed.
 */

export interface SrCode {
  value: string;
  scheme: string;
  meaning: string;
}

export interface SrItem {
  relationship: string;
  valueType: string;
  concept?: SrCode;
  text?: string;
  code?: SrCode;
  /** DICOM PN as stored (`FAMILY^GIVEN^^PREFIX`). */
  personName?: string;
  children: SrItem[];
}

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

const T = {
  SpecificCharacterSet: 'x00080005',
  SOPClassUID: 'x00080016',
  SOPInstanceUID: 'x00080018',
  SeriesInstanceUID: 'x0020000e',
  ContentDate: 'x00080023',
  ContentTime: 'x00080033',
  ReferringPhysicianName: 'x00080090',
  CodeValue: 'x00080100',
  CodingSchemeDesignator: 'x00080102',
  CodeMeaning: 'x00080104',
  RelationshipType: 'x0040a010',
  ValueType: 'x0040a040',
  ConceptNameCodeSequence: 'x0040a043',
  AuthorObserverSequence: 'x0040a078',
  PersonName: 'x0040a123',
  TextValue: 'x0040a160',
  ConceptCodeSequence: 'x0040a168',
  ContentSequence: 'x0040a730',
} as const;





function readItems(ds: DataSet, decode: Decode, depth: number): SrItem[] {
  // A malicious or broken file could nest without end; real notes are a few levels deep.
  if (depth > 16) return [];
  return items(ds, T.ContentSequence).map((item) => {
    const out: SrItem = {
      relationship: decode(item, T.RelationshipType) ?? '',
      valueType: decode(item, T.ValueType) ?? '',
      children: readItems(item, decode, depth + 1),
    };
    const concept = readCode(items(item, T.ConceptNameCodeSequence)[0], decode);
    if (concept) out.concept = concept;
    const text = decode(item, T.TextValue);
    if (text !== undefined) out.text = text;
    const code = readCode(items(item, T.ConceptCodeSequence)[0], decode);
    if (code) out.code = code;
    const pn = decode(item, T.PersonName);
    if (pn) out.personName = pn;
    return out;
  });
}

/** Parses a Part 10 SR file. Throws when the bytes are not a DICOM file. */
export function parseSrDocument(bytes: ArrayBuffer | Uint8Array): SrDocument {
  const arr = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const ds = parseDicom(arr);
  const decode = decoderFor(ds.string(T.SpecificCharacterSet));
  const doc: SrDocument = {
    sopInstanceUID: decode(ds, T.SOPInstanceUID) ?? '',
    sopClassUID: decode(ds, T.SOPClassUID) ?? '',
    seriesInstanceUID: decode(ds, T.SeriesInstanceUID) ?? '',
    contentDateTime: `${decode(ds, T.ContentDate) ?? ''}${(decode(ds, T.ContentTime) ?? '').split('.')[0]}`,
    content: readItems(ds, decode, 0),
  };
  const title = readCode(items(ds, T.ConceptNameCodeSequence)[0], decode);
  if (title) doc.title = title;
  const referring = decode(ds, T.ReferringPhysicianName);
  if (referring) doc.referringPhysicianName = referring;
  const author = items(ds, T.AuthorObserverSequence)
    .map((a) => decode(a, T.PersonName))
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

function walk(list: readonly SrItem[], visit: (item: SrItem) => void): void {
  for (const item of list) {
    visit(item);
    walk(item.children, visit);
  }
}

function priorityOf(item: SrItem): ReferralPriority | undefined {
  if (item.code) {
    for (const [priority, c] of Object.entries(URGENCY_CODES) as [ReferralPriority, CodeTriplet][]) if (sameCode(item.code, c)) return priority;
  }
  const words = `${item.code?.meaning ?? ''} ${item.text ?? ''}`.toLowerCase();
  if (/\bstat\b|emergen/.test(words)) return 'STAT';
  if (/\burgent\b/.test(words)) return 'urgent';
  if (/\broutine\b/.test(words)) return 'routine';
  return undefined;
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
  walk(doc.content, (item) => {
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
