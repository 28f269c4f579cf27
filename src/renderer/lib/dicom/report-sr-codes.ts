import type { ReportPriority } from '../clinical-types';
import { DOCUMENT_TITLES, OBSERVER_CODES, PRIORITY_VALUE_CODES, PRIVATE_SCHEME } from './vocabulary';
import type { CodeTriplet } from './vocabulary';

/**
 * The codes of a report SR (TID 1500), in one table shared by the builder
 * (report-dicom.ts) and the reader (report-sr-reader.ts), so the two cannot
 * drift apart. Standard codes (DCM, SCT, UCUM, LOINC) where PS3.16 has one;
 * 99TELERAD (local, PS3.16 §8.2) where it has none.
 */
export const SR_CODES = {
  imagingMeasurementReport: DOCUMENT_TITLES.imagingMeasurementReport,
  language: { value: '121049', scheme: 'DCM', meaning: 'Language of Content Item and Descendants' },
  english: { value: 'en', scheme: 'RFC5646', meaning: 'English' },
  ...OBSERVER_CODES,
  procedureReported: { value: '121058', scheme: 'DCM', meaning: 'Procedure reported' },
  imagingProcedure: { value: '363679005', scheme: 'SCT', meaning: 'Imaging procedure' },
  imageLibrary: { value: '111028', scheme: 'DCM', meaning: 'Image Library' },
  imageLibraryGroup: { value: '126200', scheme: 'DCM', meaning: 'Image Library Group' },
  imagingMeasurements: { value: '126010', scheme: 'DCM', meaning: 'Imaging Measurements' },
  qualitativeEvaluations: { value: 'C0034375', scheme: 'UMLS', meaning: 'Qualitative Evaluations' },
  measurementGroup: { value: '125007', scheme: 'DCM', meaning: 'Measurement Group' },
  trackingIdentifier: { value: '112039', scheme: 'DCM', meaning: 'Tracking Identifier' },
  trackingUid: { value: '112040', scheme: 'DCM', meaning: 'Tracking Unique Identifier' },
  imageRegion: { value: '111030', scheme: 'DCM', meaning: 'Image Region' },
  keyImage: { value: 'KEYIMAGE', scheme: PRIVATE_SCHEME, meaning: 'Key image' },
  comment: { value: '121106', scheme: 'DCM', meaning: 'Comment' },
  resultPriority: { value: 'PRIORITY', scheme: PRIVATE_SCHEME, meaning: 'Result priority' },
  criticalFinding: { value: 'CRITICAL', scheme: PRIVATE_SCHEME, meaning: 'Critical finding communicated to' },
  criticalCommunicatedAt: { value: 'CRITICALAT', scheme: PRIVATE_SCHEME, meaning: 'Critical finding communicated at' },
} as const satisfies Record<string, CodeTriplet>;

export const PRIORITY_CODES: Record<ReportPriority, CodeTriplet> = {
  routine: PRIORITY_VALUE_CODES.routine,
  urgent: PRIORITY_VALUE_CODES.urgent,
  stat: PRIORITY_VALUE_CODES.stat,
};

/**
 * Narrative sections with a standard code (DCM, PS3.16 CID 7001 "Diagnostic
 * Imaging Report Headings" and friends); any other section is written with a
 * 99TELERAD code whose meaning is its label.
 */
export const SECTION_CODES: Readonly<Record<string, CodeTriplet>> = {
  findings: { value: '121070', scheme: 'DCM', meaning: 'Findings' },
  impression: { value: '121073', scheme: 'DCM', meaning: 'Impression' },
  recommendation: { value: '121075', scheme: 'DCM', meaning: 'Recommendation' },
  recommendations: { value: '121075', scheme: 'DCM', meaning: 'Recommendation' },
  history: { value: '121060', scheme: 'DCM', meaning: 'History' },
  conclusion: { value: '121076', scheme: 'DCM', meaning: 'Conclusion' },
  comparison: { value: '121064', scheme: 'DCM', meaning: 'Current Procedure Descriptions' },
};

/** The concept of a section: its standard code when it has one, else a local code named by its label. */
export function sectionCode(id: string, label: string): CodeTriplet {
  const std = SECTION_CODES[id];
  if (std && std.meaning.toLowerCase() === label.trim().toLowerCase()) return std;
  // A local code's value is at most 16 characters (SH); the label carries the meaning.
  const value = `S-${id.toUpperCase().replace(/[^A-Z0-9]/g, '')}`.slice(0, 16);
  return { value, scheme: PRIVATE_SCHEME, meaning: label.slice(0, 64) };
}

/** Measurement concepts (SCT) and units (UCUM), PS3.16 CID 7470/7471/7472/7473 and CID 7181. */
export const MEASUREMENT_CODES = {
  length: { value: '410668003', scheme: 'SCT', meaning: 'Length' },
  area: { value: '42798000', scheme: 'SCT', meaning: 'Area' },
  mean: { value: '373098007', scheme: 'SCT', meaning: 'Mean' },
  stdDev: { value: '386136009', scheme: 'SCT', meaning: 'Standard Deviation' },
  min: { value: '255605001', scheme: 'SCT', meaning: 'Minimum' },
  max: { value: '56851009', scheme: 'SCT', meaning: 'Maximum' },
  angle: { value: '1483009', scheme: 'SCT', meaning: 'Angle' },
  cobbAngle: { value: '285285000', scheme: 'SCT', meaning: 'Cobb angle' },
  attenuation: { value: '112031', scheme: 'DCM', meaning: 'Attenuation Coefficient' },
  pixelValue: { value: 'PIXELVALUE', scheme: PRIVATE_SCHEME, meaning: 'Pixel value' },
} as const satisfies Record<string, CodeTriplet>;

export const UNIT_CODES = {
  mm: { value: 'mm', scheme: 'UCUM', meaning: 'millimeter' },
  mm2: { value: 'mm2', scheme: 'UCUM', meaning: 'square millimeter' },
  deg: { value: 'deg', scheme: 'UCUM', meaning: 'degree' },
  hu: { value: "[hnsf'U]", scheme: 'UCUM', meaning: 'Hounsfield unit' },
  pixels: { value: '{pixels}', scheme: 'UCUM', meaning: 'pixels' },
  squarePixels: { value: '{pixels2}', scheme: 'UCUM', meaning: 'square pixels' },
  none: { value: '1', scheme: 'UCUM', meaning: 'no units' },
} as const satisfies Record<string, CodeTriplet>;
