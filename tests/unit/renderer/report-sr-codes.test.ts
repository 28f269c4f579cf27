import { describe, expect, it } from 'vitest';
import { MEASUREMENT_CODES, SECTION_CODES, SR_CODES, UNIT_CODES } from '../../../src/renderer/lib/dicom/report-sr-codes';
import { PRIVATE_SCHEME } from '../../../src/renderer/lib/dicom/vocabulary';

// The report's code rows live in report-sr-codes.json; a typo there would write an SR that a
// receiving PACS reads as another concept, so the rows are held to PS3.3's value rules here.
const ALL = { ...SR_CODES, ...MEASUREMENT_CODES, ...UNIT_CODES, ...SECTION_CODES };
const KNOWN_SCHEMES = new Set(['DCM', 'SCT', 'UCUM', 'LN', 'UMLS', 'RFC5646', PRIVATE_SCHEME]);

describe('report SR code table', () => {
  it('gives every concept a Code Value (SH, ≤ 16), a known scheme and a Code Meaning (LO, ≤ 64)', () => {
    for (const [key, code] of Object.entries(ALL)) {
      expect(code.value.length, key).toBeGreaterThan(0);
      expect(code.value.length, key).toBeLessThanOrEqual(16);
      expect(KNOWN_SCHEMES.has(code.scheme), `${key}: ${code.scheme}`).toBe(true);
      expect(code.meaning.length, key).toBeGreaterThan(0);
      expect(code.meaning.length, key).toBeLessThanOrEqual(64);
    }
  });

  it('writes local concepts with the private scheme and standard ones with numbers where the scheme has them', () => {
    expect(SR_CODES.keyImage.scheme).toBe(PRIVATE_SCHEME);
    expect(MEASUREMENT_CODES.pixelValue.scheme).toBe(PRIVATE_SCHEME);
    for (const [key, code] of Object.entries(ALL)) {
      if (code.scheme === 'DCM' || code.scheme === 'SCT') expect(code.value, key).toMatch(/^\d+$/);
    }
  });

  it('keeps the TID 1500 concepts a receiving viewer looks for', () => {
    expect(SR_CODES.measurementGroup).toEqual({ value: '125007', scheme: 'DCM', meaning: 'Measurement Group' });
    expect(SR_CODES.trackingUid).toEqual({ value: '112040', scheme: 'DCM', meaning: 'Tracking Unique Identifier' });
    expect(MEASUREMENT_CODES.length).toEqual({ value: '410668003', scheme: 'SCT', meaning: 'Length' });
    expect(UNIT_CODES.mm).toEqual({ value: 'mm', scheme: 'UCUM', meaning: 'millimeter' });
    expect(SECTION_CODES.findings).toEqual({ value: '121070', scheme: 'DCM', meaning: 'Findings' });
  });
});
