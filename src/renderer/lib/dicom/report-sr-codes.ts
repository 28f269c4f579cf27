import type { ReportPriority } from '../clinical-types';
import { DOCUMENT_TITLES, OBSERVER_CODES, PRIORITY_VALUE_CODES, PRIVATE_SCHEME } from './vocabulary';
import type { CodeTriplet } from './vocabulary';
// The code rows are data (report-sr-codes.json: value, scheme, meaning per concept); 99TELERAD
// is PRIVATE_SCHEME, checked by tests/unit/renderer/report-sr-codes.test.ts.
import TABLES from './report-sr-codes.json';

/**
 * The codes of a report SR (TID 1500), in one table shared by the builder
 * (report-dicom.ts) and the reader (report-sr-reader.ts), so the two cannot
 * drift apart. Standard codes (DCM, SCT, UCUM, LOINC) where PS3.16 has one;
 * 99TELERAD (local, PS3.16 §8.2) where it has none.
 */
export const SR_CODES = {
  imagingMeasurementReport: DOCUMENT_TITLES.imagingMeasurementReport,
  ...OBSERVER_CODES,
  ...TABLES.srCodes,
} satisfies Record<string, CodeTriplet>;

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
export const SECTION_CODES: Readonly<Record<string, CodeTriplet>> = TABLES.sectionCodes;

/** The concept of a section: its standard code when it has one, else a local code named by its label. */
export function sectionCode(id: string, label: string): CodeTriplet {
  const std = SECTION_CODES[id];
  if (std && std.meaning.toLowerCase() === label.trim().toLowerCase()) return std;
  // A local code's value is at most 16 characters (SH); the label carries the meaning.
  const value = `S-${id.toUpperCase().replace(/[^A-Z0-9]/g, '')}`.slice(0, 16);
  return { value, scheme: PRIVATE_SCHEME, meaning: label.slice(0, 64) };
}

/** Measurement concepts (SCT) and units (UCUM), PS3.16 CID 7470/7471/7472/7473 and CID 7181. */
export const MEASUREMENT_CODES = TABLES.measurementCodes satisfies Record<string, CodeTriplet>;

export const UNIT_CODES = TABLES.unitCodes satisfies Record<string, CodeTriplet>;
