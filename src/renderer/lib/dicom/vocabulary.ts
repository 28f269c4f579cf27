/**
 * The DICOM vocabulary the app's objects share: the SOP classes it reads
 * and writes, and the code triplets more than one kind of document uses
 * (titles, observer context, priorities). Each document's own codes are in
 * referral-codes.ts, report-sr-codes.ts and case-note-codes.ts, which take
 * the shared ones from here, so a code is written down once.
 */

/** A coded concept: Code Value (0008,0100), Coding Scheme Designator (0008,0102), Code Meaning (0008,0104). */
export interface CodeTriplet {
  value: string;
  scheme: string;
  meaning: string;
}

/** Our coding scheme for what PS3.16 has no code for (PS3.16 §8.2: designators starting with "99" are local). */
export const PRIVATE_SCHEME = '99TELERAD';

/** Two codes mean the same when value and scheme match; the meaning is only a label. */
export function sameCode(a: { value?: string; scheme?: string } | undefined, b: CodeTriplet): boolean {
  return a?.value === b.value && a.scheme === b.scheme;
}

/** The key under which `table` holds `code` (first match), or undefined. */
export function codeKeyOf<K extends string>(table: Record<K, CodeTriplet>, code: CodeTriplet | undefined): K | undefined {
  return (Object.entries(table) as [K, CodeTriplet][]).find(([, c]) => sameCode(code, c))?.[0];
}

/** SOP classes the app reads or writes (PS3.4 Annex B). */
export const SopClass = {
  BasicTextSR: '1.2.840.10008.5.1.4.1.1.88.11',
  EnhancedSR: '1.2.840.10008.5.1.4.1.1.88.22',
  ComprehensiveSR: '1.2.840.10008.5.1.4.1.1.88.33',
  Comprehensive3DSR: '1.2.840.10008.5.1.4.1.1.88.34',
  EncapsulatedPdf: '1.2.840.10008.5.1.4.1.1.104.1',
  VlPhotographicImage: '1.2.840.10008.5.1.4.1.1.77.1.4',
  SecondaryCapture: '1.2.840.10008.5.1.4.1.1.7',
} as const;

/** The SR classes whose content tree the readers walk. */
export const SR_SOP_CLASSES: ReadonlySet<string> = new Set([
  SopClass.BasicTextSR,
  SopClass.EnhancedSR,
  SopClass.ComprehensiveSR,
  SopClass.Comprehensive3DSR,
]);

/** The classes a referral's photos come in. */
export const PHOTO_SOP_CLASSES: ReadonlySet<string> = new Set([SopClass.VlPhotographicImage, SopClass.SecondaryCapture]);

/** Document titles: the concept name of an SR's root CONTAINER says what the document is. */
export const DOCUMENT_TITLES = {
  referralNote: { value: '57133-1', scheme: 'LN', meaning: 'Referral note' },
  consultNote: { value: '11488-4', scheme: 'LN', meaning: 'Consult note' },
  progressNote: { value: '11506-3', scheme: 'LN', meaning: 'Progress note' },
  imagingMeasurementReport: { value: '126000', scheme: 'DCM', meaning: 'Imaging Measurement Report' },
} as const satisfies Record<string, CodeTriplet>;

/** Observer context (TID 1002): who wrote a note or a report. */
export const OBSERVER_CODES = {
  observerType: { value: '121005', scheme: 'DCM', meaning: 'Observer Type' },
  person: { value: '121006', scheme: 'DCM', meaning: 'Person' },
  personObserverName: { value: '121008', scheme: 'DCM', meaning: 'Person Observer Name' },
  personObserverOrganization: { value: '121009', scheme: 'DCM', meaning: "Person Observer's Organization Name" },
} as const satisfies Record<string, CodeTriplet>;

/** How soon: a referral's urgency and a report's result priority take the same three values. */
export const PRIORITY_VALUE_CODES = {
  stat: { value: 'STAT', scheme: PRIVATE_SCHEME, meaning: 'STAT' },
  urgent: { value: 'URGENT', scheme: PRIVATE_SCHEME, meaning: 'Urgent' },
  routine: { value: 'ROUTINE', scheme: PRIVATE_SCHEME, meaning: 'Routine' },
} as const satisfies Record<string, CodeTriplet>;
