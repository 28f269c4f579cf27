/**
 * The codes of a referral note, in one table shared by the reader and the
 * fixture generator (tests/fixtures/referral-packet.ts), so the two cannot
 * drift apart.
 *
 * | item                 | value type | concept name (value, scheme, meaning)        | why this code                                  |
 * | -------------------- | ---------- | -------------------------------------------- | ---------------------------------------------- |
 * | document title       | CONTAINER  | 57133-1, LN, "Referral note"                 | LOINC; named by the design                     |
 * | clinical question    | TEXT       | 55752-0, LN, "Clinical information"          | LOINC section for the reason/question          |
 * | history              | TEXT       | 11329-0, LN, "History general"               | LOINC                                          |
 * | requested specialty  | TEXT       | SPECIALTY, 99TELERAD, "Requested specialty"  | no LOINC/DCM code found: private scheme        |
 * | urgency              | CODE       | URGENCY, 99TELERAD, "Urgency"                | private; value one of the three codes below    |
 * |   value STAT         |            | STAT, 99TELERAD, "STAT"                      |                                                |
 * |   value urgent       |            | URGENT, 99TELERAD, "Urgent"                  |                                                |
 * |   value routine      |            | ROUTINE, 99TELERAD, "Routine"                | (a TEXT urgency "stat"/"urgent"/"routine" is   |
 * |                      |            |                                              |  read too, for notes written by other tools)   |
 * | referring clinician  | PNAME      | 121008, DCM, "Person Observer Name"          | DICOM observer context (HAS OBS CONTEXT); the  |
 * |                      |            |                                              | reader falls back to Author Observer Sequence, |
 * |                      |            |                                              | then to ReferringPhysicianName                 |
 *
 * 99TELERAD is a private coding scheme (PS3.16 §8.2: designators starting
 * with "99" are local); a site that has its own codes maps them here.
 */

import { DOCUMENT_TITLES, OBSERVER_CODES, PRIORITY_VALUE_CODES, PRIVATE_SCHEME } from './vocabulary';
import type { CodeTriplet } from './vocabulary';

// The shared vocabulary, under the names this module has always offered.
export { PHOTO_SOP_CLASSES, PRIVATE_SCHEME, SR_SOP_CLASSES, SopClass, sameCode } from './vocabulary';
export type { CodeTriplet } from './vocabulary';

export const REFERRAL_CODES = {
  documentTitle: DOCUMENT_TITLES.referralNote,
  clinicalQuestion: { value: '55752-0', scheme: 'LN', meaning: 'Clinical information' },
  history: { value: '11329-0', scheme: 'LN', meaning: 'History general' },
  requestedSpecialty: { value: 'SPECIALTY', scheme: PRIVATE_SCHEME, meaning: 'Requested specialty' },
  urgency: { value: 'URGENCY', scheme: PRIVATE_SCHEME, meaning: 'Urgency' },
  personObserverName: OBSERVER_CODES.personObserverName,
  observerType: OBSERVER_CODES.observerType,
  person: OBSERVER_CODES.person,
} as const satisfies Record<string, CodeTriplet>;

/** Keyed by ReferralPriority. */
export const URGENCY_CODES = {
  STAT: PRIORITY_VALUE_CODES.stat,
  urgent: PRIORITY_VALUE_CODES.urgent,
  routine: PRIORITY_VALUE_CODES.routine,
} as const satisfies Record<string, CodeTriplet>;
