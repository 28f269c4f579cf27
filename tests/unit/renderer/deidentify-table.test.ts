import { describe, expect, it } from 'vitest';
import { ANNEX_E_TABLE } from '../../../src/renderer/deidentify/annex-e-table';
import { actionFor, deidentifyCase } from '../../../src/renderer/deidentify/deidentify';
import { loadDcmjs } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import { photoToDicom } from '../../../src/renderer/case-import/attachments-to-dicom';
import { dicomParser } from '../../../src/renderer/lib/dicom/dicom-parser';
import { cameraJpeg } from '../../fixtures/case-import-attachments';
import { generateReferralNote } from '../../fixtures/referral-packet';

describe('the Table E.1-1 transcription', () => {
  it('has one row per attribute, every tag well formed', () => {
    const tags = ANNEX_E_TABLE.map(([tag]) => tag);
    expect(new Set(tags).size).toBe(tags.length);
    for (const tag of tags) expect(tag).toMatch(/^[0-9a-fx]{8}$/);
    // The 2023+ table (innolitics extraction) has 459 standard attributes besides the private-attributes row.
    expect(tags.length).toBe(459);
  });

  it.each([
    // [tag, vr, sop class, options, expected] — read off PS3.15 Table E.1-1 by hand
    ['00100010', 'PN', '', {}, 'Z'],
    ['00080020', 'DA', '', { retainLongitudinalFullDates: true }, 'K'],
    ['00100030', 'DA', '', { retainLongitudinalFullDates: true }, 'Z'], // birth date is not longitudinal
    ['0008103E', 'LO', '', { cleanDescriptors: true }, 'C'],
    ['0008103E', 'LO', '', { retainLongitudinalFullDates: true }, 'X'],
    ['00081155', 'UI', '', { retainLongitudinalFullDates: true, cleanDescriptors: true }, 'U'],
    ['00080023', 'DA', '1.2.840.10008.5.1.4.1.1.88.11', {}, 'D'], // Content Date, Type 1 in SR
    ['00080023', 'DA', '1.2.840.10008.5.1.4.1.1.2', {}, 'Z'], // Type 2C in CT
    ['00181000', 'LO', '1.2.840.10008.5.1.4.1.1.2.1', {}, 'D'], // Device Serial Number, Enhanced CT
    ['00400555', 'SQ', '', {}, 'Z'], // Acquisition Context Sequence, Type 2
    ['00081110', 'SQ', '', {}, 'X'], // Referenced Study Sequence, Type 3
    ['00081140', 'SQ', '', {}, 'U*'],
    ['00291010', 'OB', '', {}, 'X'], // private
    ['60003000', 'OW', '', {}, 'X'], // overlay data
    ['00280010', 'US', '', {}, undefined], // Rows: not in the table, kept
  ] as const)('%s (%s) in %s with %o → %s', (tag, vr, sop, options, expected) => {
    expect(actionFor(tag, options, sop, vr)).toBe(expected);
  });
});

describe('an SR referral note through the profile', () => {
  it('drops the free-text content and gives the Type 1 content date a dummy', async () => {
    const dcmjs = await loadDcmjs();
    const note = generateReferralNote({
      studyInstanceUID: '2.25.77',
      patientName: 'MOKOENA^THANDI',
      patientId: 'RCH-448812',
      clinicalQuestion: 'Mrs Mokoena, 55: cavitating lesion?',
      referringClinician: 'DLAMINI^SIPHO^^DR',
      priority: 'urgent',
    });
    const buf = note.bytes.buffer.slice(note.bytes.byteOffset, note.bytes.byteOffset + note.bytes.byteLength) as ArrayBuffer;
    const out = deidentifyCase([buf], {}, { dcmjs }).instances[0]!;
    const latin1 = new TextDecoder('latin1').decode(out.bytes);
    expect(latin1).not.toMatch(/Mokoena|cavitating|DLAMINI/i);
    const { dict } = dcmjs.data.DicomMessage.readFile(out.bytes);
    expect(dict['0040A730']).toBeUndefined();
    expect(dict['00080023']!.Value).toEqual(['19000101']);
  });
});

describe('a compressed photo through the profile', () => {
  it('keeps the JPEG frame byte-identical and the transfer syntax unchanged', async () => {
    const dcmjs = await loadDcmjs();
    const { jpeg } = cameraJpeg(48, 64);
    const photo = photoToDicom(jpeg, 'image/jpeg', { patientName: 'MOKOENA^THANDI', patientId: 'RCH-448812', studyInstanceUID: '2.25.78' }, { dcmjs });
    const out = deidentifyCase([photo.bytes], { cleanDescriptors: true }, { dcmjs }).instances[0]!;
    const frameOf = (bytes: ArrayBuffer): Uint8Array => {
      const ds = dicomParser.parseDicom(new Uint8Array(bytes));
      const px = ds.elements.x7fe00010!;
      expect(ds.string('x00020010')).toBe('1.2.840.10008.1.2.4.50');
      return dicomParser.readEncapsulatedPixelDataFromFragments(ds, px, 0, px.fragments!.length);
    };
    expect(Buffer.from(frameOf(out.bytes)).equals(Buffer.from(frameOf(photo.bytes)))).toBe(true);
  });
});
