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

export interface CodeTriplet {
  value: string;
  scheme: string;
  meaning: string;
}

export const PRIVATE_SCHEME = '99TELERAD';

export const REFERRAL_CODES = {
  documentTitle: { value: '57133-1', scheme: 'LN', meaning: 'Referral note' },
  clinicalQuestion: { value: '55752-0', scheme: 'LN', meaning: 'Clinical information' },
  history: { value: '11329-0', scheme: 'LN', meaning: 'History general' },
  requestedSpecialty: { value: 'SPECIALTY', scheme: PRIVATE_SCHEME, meaning: 'Requested specialty' },
  urgency: { value: 'URGENCY', scheme: PRIVATE_SCHEME, meaning: 'Urgency' },
  personObserverName: { value: '121008', scheme: 'DCM', meaning: 'Person Observer Name' },
  observerType: { value: '121005', scheme: 'DCM', meaning: 'Observer Type' },
  person: { value: '121006', scheme: 'DCM', meaning: 'Person' },
} as const satisfies Record<string, CodeTriplet>;

export const URGENCY_CODES = {
  STAT: { value: 'STAT', scheme: PRIVATE_SCHEME, meaning: 'STAT' },
  urgent: { value: 'URGENT', scheme: PRIVATE_SCHEME, meaning: 'Urgent' },
  routine: { value: 'ROUTINE', scheme: PRIVATE_SCHEME, meaning: 'Routine' },
} as const satisfies Record<string, CodeTriplet>;

/** SOP classes the referral reader looks at (PS3.4 Annex B). */
export const SopClass = {
  BasicTextSR: '1.2.840.10008.5.1.4.1.1.88.11',
  EnhancedSR: '1.2.840.10008.5.1.4.1.1.88.22',
  ComprehensiveSR: '1.2.840.10008.5.1.4.1.1.88.33',
  Comprehensive3DSR: '1.2.840.10008.5.1.4.1.1.88.34',
  EncapsulatedPdf: '1.2.840.10008.5.1.4.1.1.104.1',
  VlPhotographicImage: '1.2.840.10008.5.1.4.1.1.77.1.4',
  SecondaryCapture: '1.2.840.10008.5.1.4.1.1.7',
} as const;

export const SR_SOP_CLASSES: ReadonlySet<string> = new Set([
  SopClass.BasicTextSR,
  SopClass.EnhancedSR,
  SopClass.ComprehensiveSR,
  SopClass.Comprehensive3DSR,
]);

export const PHOTO_SOP_CLASSES: ReadonlySet<string> = new Set([SopClass.VlPhotographicImage, SopClass.SecondaryCapture]);

export function sameCode(a: { value?: string; scheme?: string } | undefined, b: CodeTriplet): boolean {
  return a?.value === b.value && a.scheme === b.scheme;
}
