import type * as DcmjsModule from 'dcmjs';
import type { SrCodedConcept } from 'dcmjs';
import { PRIVATE_SCHEME, REFERRAL_CODES, SopClass, URGENCY_CODES } from './referral-codes';
import type { CodeTriplet } from './referral-codes';
import { MANUFACTURER, authorPersonName, dicomDateTime, evidence, writePart10 } from './report-dicom';
import type { BuiltInstance } from './report-dicom-types';
import { validUid } from './uid';
import { SR_CODES, sectionCode } from './report-sr-codes';
import { CONSULT_STATUS_CODES, NOTE_CODES, NOTE_PURPOSE_CODES, NOTE_SERIES_NUMBERS, NOTE_TITLES } from './case-note-codes';
import type { CaseNoteInput, CaseNoteKind, NoteReference } from './case-note-types';

/**
 * A case note as DICOM: a Basic Text SR in the case's study, titled by its
 * kind (referral 57133-1, consult 11488-4, progress 11506-3), with the
 * author as observer context, the narrative as TEXT items, the structured
 * fields (urgency, consult status, note purpose) as CODE items, and COMPOSITE
 * references to the note it answers and to the photos and PDFs sent with it.
 *
 * Why "In reply to" is a COMPOSITE content item and not the Predecessor
 * Documents Sequence: PS3.3 C.17.2 defines predecessors as documents whose
 * content this one includes or supersedes (a revision or an addendum), and
 * readers act on that — our own report reader takes a predecessor as the
 * report an addendum corrects, and a PACS may hide superseded documents. A
 * reply supersedes nothing: the question stays valid next to its answer.
 * A COMPOSITE item with its own concept name says "this answers that"
 * without that meaning, is allowed in Basic Text SR, and, as every
 * referenced instance must be, is listed in the Current Requested Procedure
 * Evidence Sequence.
 *
 * Deterministic: every UID and date comes from the input, so a retried
 * upload sends exactly the bytes of the first one.
 */

type Dataset = Record<string, unknown>;
type Dcmjs = typeof DcmjsModule;
type Sr = Dcmjs['sr'];

/** dcmjs is large: loaded when the first note is built, not with the app (as report-dicom.ts does). */
async function loadSr(): Promise<Sr> {
  const mod = (await import('dcmjs')) as Dcmjs & { default?: Dcmjs };
  return (mod.sr ? mod : (mod.default ?? mod)).sr;
}

const TITLE_OF: Record<CaseNoteKind, CodeTriplet> = {
  referral: NOTE_TITLES.referral,
  consult: NOTE_TITLES.consult,
  answer: NOTE_TITLES.progress,
  outcome: NOTE_TITLES.progress,
};

const SERIES_DESCRIPTION: Record<CaseNoteKind, string> = {
  referral: 'Referral note',
  consult: 'Consult note',
  answer: 'Progress note (answer)',
  outcome: 'Progress note (outcome)',
};


/** LO values hold no backslash (it separates values) or control characters, and are bounded. */
function loValue(s: string, max = 64): string {
  return s.replace(/\\/g, '/').replace(/\p{Cc}/gu, ' ').trim().slice(0, max);
}

/** Refuses input that would make an invalid or misleading note, naming every problem (the caller shows and logs it). */
function assertBuildable(input: CaseNoteInput): void {
  const problems: string[] = [];
  const uids: [string, string | undefined][] = [
    ['study', input.study.studyInstanceUID],
    ['note SOP instance', input.sopInstanceUID],
    ['note series', input.seriesInstanceUID],
  ];
  if (input.answers) uids.push(['answered note SOP instance', input.answers.sopInstanceUID], ['answered note SOP class', input.answers.sopClassUID], ['answered note series', input.answers.seriesInstanceUID]);
  for (const [i, a] of (input.attachments ?? []).entries()) {
    uids.push([`attachment ${i + 1} SOP instance`, a.sopInstanceUID], [`attachment ${i + 1} SOP class`, a.sopClassUID], [`attachment ${i + 1} series`, a.seriesInstanceUID]);
  }
  for (const [what, uid] of uids) if (!validUid(uid)) problems.push(`${what} UID "${uid ?? ''}" is not a valid DICOM UID`);
  if (input.answers?.sopInstanceUID === input.sopInstanceUID) problems.push('a note cannot answer itself');
  if (!Number.isFinite(input.writtenAt)) problems.push('the time the note was written is missing');
  if (!input.author.name.trim()) problems.push('the note has no author');
  if (!input.study.patientId && !input.study.patientName) problems.push('the study has no patient name or ID');
  if (input.kind === 'consult' && input.status === 'more-info-needed' && !input.question.trim()) problems.push('a request for more information needs the question');
  if (input.instanceNumber !== undefined && (!Number.isInteger(input.instanceNumber) || input.instanceNumber < 1)) problems.push('the instance number must be a positive integer');
  if (problems.length > 0) throw new Error(`Cannot build the ${SERIES_DESCRIPTION[input.kind].toLowerCase()}: ${problems.join('; ')}`);
}

function concept(sr: Sr, c: CodeTriplet): SrCodedConcept {
  return new sr.coding.CodedConcept({ value: c.value, schemeDesignator: c.scheme, meaning: c.meaning });
}

function text(sr: Sr, name: CodeTriplet, value: string, relationship = sr.valueTypes.RelationshipTypes.CONTAINS): Dataset {
  return new sr.valueTypes.TextContentItem({ name: concept(sr, name), value, relationshipType: relationship });
}

function code(sr: Sr, name: CodeTriplet, value: CodeTriplet, relationship = sr.valueTypes.RelationshipTypes.CONTAINS): Dataset {
  return new sr.valueTypes.CodeContentItem({ name: concept(sr, name), value: concept(sr, value), relationshipType: relationship });
}

/**
 * A COMPOSITE item as a plain dataset: dcmjs 0.52's CompositeContentItem
 * writes its reference under a misspelt keyword ("ReferenceSOPSequence"),
 * which is not a DICOM attribute and would be dropped from the file.
 */
function composite(name: CodeTriplet, ref: NoteReference): Dataset {
  return {
    RelationshipType: 'CONTAINS',
    ValueType: 'COMPOSITE',
    ConceptNameCodeSequence: [{ CodeValue: name.value, CodingSchemeDesignator: name.scheme, CodeMeaning: name.meaning }],
    ReferencedSOPSequence: [{ ReferencedSOPClassUID: ref.sopClassUID, ReferencedSOPInstanceUID: ref.sopInstanceUID }],
  };
}

function contentTree(sr: Sr, input: CaseNoteInput): Dataset[] {
  const R = sr.valueTypes.RelationshipTypes;
  const items: Dataset[] = [
    code(sr, SR_CODES.language, SR_CODES.english, R.HAS_CONCEPT_MOD),
    // TID 1002 observer context: the author. The referral reader takes this PNAME as the referring clinician.
    code(sr, REFERRAL_CODES.observerType, REFERRAL_CODES.person, R.HAS_OBS_CONTEXT),
    new sr.valueTypes.PNameContentItem({
      name: concept(sr, REFERRAL_CODES.personObserverName),
      value: authorPersonName({ name: input.author.name, credentials: input.author.credentials ?? '' }),
      relationshipType: R.HAS_OBS_CONTEXT,
    }),
  ];
  const organization = loValue(input.author.organization ?? '');
  if (organization) items.push(text(sr, SR_CODES.personObserverOrganization, organization, R.HAS_OBS_CONTEXT));

  switch (input.kind) {
    case 'referral': {
      // The items and codes the worklist's referral reader (referral-sr.ts) reads.
      const r = input.referral;
      if (r.priority) items.push(code(sr, REFERRAL_CODES.urgency, URGENCY_CODES[r.priority]));
      if (r.clinicalQuestion?.trim()) items.push(text(sr, REFERRAL_CODES.clinicalQuestion, r.clinicalQuestion.trim()));
      if (r.history?.trim()) items.push(text(sr, REFERRAL_CODES.history, r.history.trim()));
      if (r.requestedSpecialty?.trim()) items.push(text(sr, REFERRAL_CODES.requestedSpecialty, loValue(r.requestedSpecialty, 1024)));
      break;
    }
    case 'consult':
      items.push(code(sr, NOTE_CODES.consultStatus, CONSULT_STATUS_CODES[input.status]));
      if (input.status === 'more-info-needed') items.push(text(sr, NOTE_CODES.informationRequested, input.question.trim()));
      break;
    case 'answer':
    case 'outcome':
      items.push(code(sr, NOTE_CODES.notePurpose, NOTE_PURPOSE_CODES[input.kind]));
      break;
  }
  for (const section of input.sections ?? []) {
    const body = section.text.trim();
    if (body) items.push(text(sr, sectionCode(section.id, section.label), body));
  }
  if (input.answers) items.push(composite(NOTE_CODES.inReplyTo, input.answers));
  for (const a of input.attachments ?? []) items.push(composite(NOTE_CODES.attachment, a));
  return items;
}

/** The note as a naturalized dataset (exported for tests that look at single attributes). */
export async function buildCaseNoteDataset(input: CaseNoteInput): Promise<Dataset> {
  assertBuildable(input);
  const sr = await loadSr();
  const s = input.study;
  const when = dicomDateTime(input.writtenAt, input.timezoneOffsetMinutes ?? 0);
  const title = TITLE_OF[input.kind];
  const author = authorPersonName({ name: input.author.name, credentials: input.author.credentials ?? '' });
  const organization = loValue(input.author.organization ?? '');
  const refs = [...(input.answers ? [input.answers] : []), ...(input.attachments ?? [])];
  const ds: Dataset = {
    // dcmjs writes strings as UTF-8; say so (names and narrative may hold any character).
    SpecificCharacterSet: 'ISO_IR 192',
    InstanceCreationDate: when.date,
    InstanceCreationTime: when.time,
    TimezoneOffsetFromUTC: when.offset,
    SOPClassUID: SopClass.BasicTextSR,
    SOPInstanceUID: input.sopInstanceUID,
    StudyDate: s.studyDate ?? '',
    StudyTime: s.studyTime ?? '',
    AccessionNumber: s.accessionNumber ?? '',
    Modality: 'SR',
    Manufacturer: MANUFACTURER,
    ReferringPhysicianName: s.referringPhysicianName ?? '',
    ...(s.studyDescription ? { StudyDescription: s.studyDescription } : {}),
    SeriesDescription: SERIES_DESCRIPTION[input.kind],
    PatientName: s.patientName,
    PatientID: s.patientId,
    PatientBirthDate: s.patientBirthDate ?? '',
    PatientSex: s.patientSex ?? '',
    StudyInstanceUID: s.studyInstanceUID,
    SeriesInstanceUID: input.seriesInstanceUID,
    StudyID: s.studyId ?? '',
    SeriesNumber: NOTE_SERIES_NUMBERS[input.kind],
    InstanceNumber: input.instanceNumber ?? 1,
    SeriesDate: when.date,
    SeriesTime: when.time,
    ContentDate: when.date,
    ContentTime: when.time,
    ReferencedPerformedProcedureStepSequence: [],
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [{ CodeValue: title.value, CodingSchemeDesignator: title.scheme, CodeMeaning: title.meaning }],
    ContinuityOfContent: 'SEPARATE',
    CodingSchemeIdentificationSequence: [{ CodingSchemeDesignator: PRIVATE_SCHEME, CodingSchemeName: 'Telerad local codes', CodingSchemeResponsibleOrganization: MANUFACTURER }],
    AuthorObserverSequence: [
      {
        ObserverType: 'PSN',
        PersonName: author,
        PersonIdentificationCodeSequence: [],
        // Both Type 2 in the Identified Person or Device Macro: empty when the profile names no organisation.
        InstitutionName: organization,
        InstitutionCodeSequence: [],
      },
    ],
    // A request for more information is an open question: the specialist's opinion is not complete yet.
    CompletionFlag: input.kind === 'consult' && input.status === 'more-info-needed' ? 'PARTIAL' : 'COMPLETE',
    // Notes are messages, not signed documents (the signed report is the TID 1500 SR).
    VerificationFlag: 'UNVERIFIED',
    PerformedProcedureCodeSequence: [],
    ContentSequence: contentTree(sr, input),
  };
  if (refs.length > 0) ds['CurrentRequestedProcedureEvidenceSequence'] = [evidence(s.studyInstanceUID, refs)];
  return ds;
}

/** How another note points at this one (its "In reply to"): a built note, a read note, or a report's SR. */
export function noteReferenceOf(instance: Pick<BuiltInstance, 'sopInstanceUID' | 'sopClassUID' | 'seriesInstanceUID'>): NoteReference {
  return { sopInstanceUID: instance.sopInstanceUID, sopClassUID: instance.sopClassUID, seriesInstanceUID: instance.seriesInstanceUID };
}

/** The note as a Part 10 file ready for STOW-RS (explicit VR little endian). Same input, same bytes. */
export async function buildCaseNote(input: CaseNoteInput): Promise<BuiltInstance> {
  const bytes = await writePart10(await buildCaseNoteDataset(input));
  return { sopInstanceUID: input.sopInstanceUID, sopClassUID: SopClass.BasicTextSR, seriesInstanceUID: input.seriesInstanceUID, bytes };
}
