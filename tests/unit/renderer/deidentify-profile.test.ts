import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { deidentifyCase, relink, relinkPatient } from '../../../src/renderer/deidentify/deidentify';
import type { DeidentifyOptions, DeidentifyResult } from '../../../src/renderer/deidentify/deidentify';
import { loadDcmjs } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import type { DcmjsRuntime, RawDict, RawElement } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import { dicomParser } from '../../../src/renderer/lib/dicom/dicom-parser';
import {
  IDENTIFIED_PATIENT,
  PRIVATE_CREATOR,
  PRIVATE_VALUE,
  generateIdentifiedStudy,
} from '../../fixtures/case-import-identified';
import type { IdentifiedStudy } from '../../fixtures/case-import-identified';

// What PS3.15 Table E.1-1 asks for each attribute the generator fills, written
// out by hand from the standard (not derived from the implementation's table):
// [name, tag, basic profile, + Retain Full Dates, + Clean Descriptors].
// removed = X; emptied = Z (or X/Z, X/Z/D resolved to Z); cleaned = C (kept,
// identifying text gone); kept = K.
type Outcome = 'removed' | 'emptied' | 'pseudonym' | 'kept' | 'cleaned';
const EXPECTED: [string, string, Outcome, Outcome, Outcome][] = [
  ["Patient's Name", '00100010', 'pseudonym', 'pseudonym', 'pseudonym'],
  ['Patient ID', '00100020', 'pseudonym', 'pseudonym', 'pseudonym'],
  ['Issuer of Patient ID', '00100021', 'removed', 'removed', 'removed'],
  ["Patient's Birth Date", '00100030', 'emptied', 'emptied', 'emptied'],
  ["Patient's Sex", '00100040', 'emptied', 'emptied', 'emptied'],
  ["Patient's Age", '00101010', 'removed', 'removed', 'removed'],
  ["Patient's Weight", '00101030', 'removed', 'removed', 'removed'],
  ["Patient's Address", '00101040', 'removed', 'removed', 'removed'],
  ['Other Patient IDs', '00101000', 'removed', 'removed', 'removed'],
  ["Patient's Telephone Numbers", '00102154', 'removed', 'removed', 'removed'],
  ['Additional Patient History', '001021B0', 'removed', 'removed', 'cleaned'],
  ['Patient Comments', '00104000', 'removed', 'removed', 'cleaned'],
  ['Accession Number', '00080050', 'emptied', 'emptied', 'emptied'],
  ['Study Date', '00080020', 'emptied', 'kept', 'emptied'],
  ['Study Time', '00080030', 'emptied', 'kept', 'emptied'],
  ['Series Date (X/D)', '00080021', 'removed', 'kept', 'removed'],
  ['Series Time (X/D)', '00080031', 'removed', 'kept', 'removed'],
  ['Acquisition Date (X/Z)', '00080022', 'emptied', 'kept', 'emptied'],
  ['Acquisition Time (X/Z)', '00080032', 'emptied', 'kept', 'emptied'],
  ['Content Date (Z/D, Type 2C in CT)', '00080023', 'emptied', 'kept', 'emptied'],
  ['Content Time (Z/D)', '00080033', 'emptied', 'kept', 'emptied'],
  ['Acquisition DateTime (X/Z/D)', '0008002A', 'emptied', 'kept', 'emptied'],
  ['Timezone Offset From UTC', '00080201', 'removed', 'kept', 'removed'],
  ['Study Description', '00081030', 'removed', 'removed', 'cleaned'],
  ['Series Description', '0008103E', 'removed', 'removed', 'cleaned'],
  ['Protocol Name (X/D)', '00181030', 'removed', 'removed', 'cleaned'],
  ['Image Comments', '00204000', 'removed', 'removed', 'cleaned'],
  ['Requested Procedure Description (X/Z)', '00321060', 'emptied', 'emptied', 'cleaned'],
  ['Study ID', '00200010', 'emptied', 'emptied', 'emptied'],
  ['Institution Name (X/Z/D)', '00080080', 'emptied', 'emptied', 'emptied'],
  ['Institution Address', '00080081', 'removed', 'removed', 'removed'],
  ['Institutional Department Name', '00081040', 'removed', 'removed', 'removed'],
  ['Station Name (X/Z/D)', '00081010', 'emptied', 'emptied', 'emptied'],
  ["Referring Physician's Name", '00080090', 'emptied', 'emptied', 'emptied'],
  ["Performing Physician's Name", '00081050', 'removed', 'removed', 'removed'],
  ['Name of Physician(s) Reading Study', '00081060', 'removed', 'removed', 'removed'],
  ["Operators' Name (X/Z/D)", '00081070', 'emptied', 'emptied', 'emptied'],
  ['Physician(s) of Record', '00081048', 'removed', 'removed', 'removed'],
  ['Device Serial Number (X/Z/D, CT)', '00181000', 'emptied', 'emptied', 'emptied'],
  ['Detector ID (X/D)', '0018700A', 'removed', 'removed', 'removed'],
  ['Gantry ID', '00181008', 'removed', 'removed', 'removed'],
  // A Type 3 sequence cannot be present with zero items: X/Z on a sequence removes it.
  ['Referenced Study Sequence (X/Z)', '00081110', 'removed', 'removed', 'removed'],
  ['Referenced Performed Procedure Step Sequence (X/Z/D)', '00081111', 'removed', 'removed', 'removed'],
  ['Request Attributes Sequence', '00400275', 'removed', 'removed', 'cleaned'],
  ['Private Creator (0009,0010)', '00090010', 'removed', 'removed', 'removed'],
  ['Private element (0009,1010)', '00091010', 'removed', 'removed', 'removed'],
  ['Manufacturer (not in the table)', '00080070', 'kept', 'kept', 'kept'],
  ['Modality (not in the table)', '00080060', 'kept', 'kept', 'kept'],
];

const VARIANTS: [string, DeidentifyOptions, 2 | 3 | 4][] = [
  ['basic profile', {}, 2],
  ['Retain Longitudinal Temporal Information with Full Dates', { retainLongitudinalFullDates: true }, 3],
  ['Clean Descriptors', { cleanDescriptors: true }, 4],
];

let dcmjs: DcmjsRuntime;
let study: IdentifiedStudy;

function toBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

function read(bytes: ArrayBuffer): { meta: RawDict; dict: RawDict } {
  return dcmjs.data.DicomMessage.readFile(bytes);
}

function text(el: RawElement | undefined): string {
  const v = el?.Value?.[0];
  if (v && typeof v === 'object' && 'Alphabetic' in v) return String((v as { Alphabetic: string }).Alphabetic);
  return v === undefined ? '' : String(v);
}

function pixelBytes(bytes: ArrayBuffer | Uint8Array): Uint8Array {
  const arr = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const ds = dicomParser.parseDicom(arr);
  const el = ds.elements.x7fe00010!;
  return arr.subarray(el.dataOffset, el.dataOffset + el.length);
}

function run(options: DeidentifyOptions): DeidentifyResult {
  return deidentifyCase(study.all.map((i) => toBuffer(i.bytes)), options, { dcmjs });
}

beforeAll(async () => {
  dcmjs = await loadDcmjs();
  study = generateIdentifiedStudy();
});

describe('PS3.15 Annex E Basic Profile on a filled referral study', () => {
  for (const [label, options, column] of VARIANTS) {
    it(`applies the table's action to every filled attribute (${label})`, () => {
      const original = read(toBuffer(study.all[0]!.bytes)).dict;
      const result = run(options);
      const { dict } = read(result.instances[0]!.bytes);
      const pseudonym = result.mapping.patients[0]!.pseudonym;
      const wrong: string[] = [];
      for (const row of EXPECTED) {
        const [name, tag] = row;
        const expected = row[column];
        expect(original[tag], `the generator fills ${name}`).toBeDefined();
        const el = dict[tag];
        const value = text(el);
        const before = text(original[tag]);
        let ok: boolean;
        switch (expected) {
          case 'removed':
            ok = el === undefined;
            break;
          case 'emptied':
            // Zero length on the wire: dcmjs reads it back as [] (SQ) or [''].
            ok = el !== undefined && (el.Value ?? []).every((v) => v === '' || v === null);
            break;
          case 'pseudonym':
            ok = value === (tag === '00100010' ? pseudonym.name : pseudonym.id) && value !== before;
            break;
          case 'kept':
            ok = el !== undefined && JSON.stringify(el.Value) === JSON.stringify(original[tag]!.Value);
            break;
          case 'cleaned':
            ok = el !== undefined && !/mokoena|thandi|RCH-448812|RP-5521/i.test(JSON.stringify(el.Value));
            break;
        }
        if (!ok) wrong.push(`${name} ${tag}: expected ${expected}, got ${el === undefined ? 'absent' : JSON.stringify(el.Value)}`);
      }
      expect(wrong).toEqual([]);
    });
  }

  it('keeps the clinical words of a cleaned description and drops the names and numbers in it', () => {
    const { dict } = read(run({ cleanDescriptors: true }).instances[0]!.bytes);
    expect(text(dict['001021B0'])).toMatch(/cough for 3 weeks/);
    expect(text(dict['001021B0'])).not.toMatch(/20261120/);
    expect(text(dict['00081030'])).toBe('CT CHEST');
    // The coded/request sequence is kept, its identifying ID removed, its description cleaned.
    const item = dict['00400275']!.Value![0] as RawDict;
    expect(item['00401001']).toBeUndefined();
    expect(text(item['00400007'])).toBe('CT chest');
  });

  it('marks every object as de-identified and names the profile and options used', () => {
    const { dict } = read(run({ retainLongitudinalFullDates: true, cleanDescriptors: true }).instances[0]!.bytes);
    expect(text(dict['00120062'])).toBe('YES');
    expect(dict['00120063']!.Value).toEqual([
      'Basic Application Confidentiality Profile',
      'Retain Longitudinal Temporal Information Full Dates Option',
      'Clean Descriptors Option',
    ]);
    const codes = (dict['00120064']!.Value as RawDict[]).map((i) => `${text(i['00080102'])}:${text(i['00080100'])}`);
    expect(codes).toEqual(['DCM:113100', 'DCM:113106', 'DCM:113105']);
    expect(text(dict['00280303'])).toBe('UNMODIFIED');
    expect(text(read(run({}).instances[0]!.bytes).dict['00280303'])).toBe('REMOVED');
  });

  it('leaves no original name, ID, birth date, UID or private value anywhere in the bytes sent', () => {
    const result = run({});
    const originals = [
      'MOKOENA', 'Mokoena', 'THANDI', IDENTIFIED_PATIENT.id, IDENTIFIED_PATIENT.birthDate, IDENTIFIED_PATIENT.accession,
      PRIVATE_CREATOR, PRIVATE_VALUE, 'ZITHULELE', 'Zithulele', study.studyInstanceUID, study.frameOfReferenceUID,
      ...study.all.flatMap((i) => [i.sopInstanceUID, i.seriesInstanceUID]),
    ];
    for (const instance of result.instances) {
      const latin1 = new TextDecoder('latin1').decode(instance.bytes);
      for (const s of originals) expect(latin1.includes(s), `${s} left in ${instance.sopInstanceUID}`).toBe(false);
    }
  });

  it('adds no IOD error (dicom3tools dciodvfy) to the objects it de-identifies, with any option', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'telerad-deid-'));
    const errors = (bytes: ArrayBuffer | Uint8Array, name: string): string[] => {
      const file = path.join(dir, name);
      writeFileSync(file, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
      const run = spawnSync('/usr/bin/dciodvfy', [file], { encoding: 'utf8' });
      return `${run.stdout}${run.stderr}`.split('\n').filter((l) => l.startsWith('Error'));
    };
    try {
      for (const [label, options] of VARIANTS) {
        const result = run(options);
        for (const i of [0, 3]) {
          const before = new Set(errors(study.all[i]!.bytes, `orig-${i}.dcm`));
          const added = errors(result.instances[i]!.bytes, `deid-${i}.dcm`).filter((e) => !before.has(e));
          expect(added, `${label}, instance ${i}`).toEqual([]);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps Pixel Data byte-identical', () => {
    const result = run({ cleanDescriptors: true });
    study.all.forEach((inst, i) => {
      const out = pixelBytes(result.instances[i]!.bytes);
      expect(out.length).toBe(inst.pixels.length);
      expect(Buffer.from(out).equals(Buffer.from(inst.pixels))).toBe(true);
    });
  });
});

describe('UIDs across the case', () => {
  it('remaps Study, Series, SOP and Frame of Reference UIDs consistently, 2.25-rooted', () => {
    const result = run({});
    const dicts = result.instances.map((i) => read(i.bytes));
    const studies = new Set(dicts.map((d) => text(d.dict['0020000D'])));
    const frames = new Set(dicts.map((d) => text(d.dict['00200052'])));
    expect(studies.size).toBe(1);
    expect(frames.size).toBe(1);
    expect([...studies][0]).not.toBe(study.studyInstanceUID);
    expect([...frames][0]).toBe(result.mapping.uids[study.frameOfReferenceUID]);
    study.series.forEach((series, s) => {
      const offset = s === 0 ? 0 : study.series[0]!.instances.length;
      const newSeries = new Set(series.instances.map((_, i) => text(dicts[offset + i]!.dict['0020000E'])));
      expect(newSeries.size).toBe(1);
      expect([...newSeries][0]).toBe(result.mapping.uids[series.seriesInstanceUID]);
    });
    for (const [i, d] of dicts.entries()) {
      const sop = text(d.dict['00080018']);
      expect(sop).toBe(result.mapping.uids[study.all[i]!.sopInstanceUID]);
      expect(text(d.meta['00020003'])).toBe(sop);
      expect(text(d.dict['00080016'])).toBe('1.2.840.10008.5.1.4.1.1.2'); // SOP Class kept
      for (const uid of [sop, text(d.dict['0020000D']), text(d.dict['0020000E']), text(d.dict['00200052'])]) {
        expect(uid).toMatch(/^2\.25\.[1-9]\d*$/);
        expect(uid.length).toBeLessThanOrEqual(64);
      }
    }
    // Every new UID is distinct from every other original it does not stand for.
    expect(new Set(Object.values(result.mapping.uids)).size).toBe(Object.keys(result.mapping.uids).length);
  });

  it('points the references of series 2 (Referenced and Source Image Sequences) at the new UIDs of series 1', () => {
    const result = run({});
    const firstCount = study.series[0]!.instances.length;
    study.series[1]!.instances.forEach((inst, i) => {
      const { dict } = read(result.instances[firstCount + i]!.bytes);
      const expected = result.mapping.uids[inst.references[0]!];
      const referencedIndex = study.all.findIndex((x) => x.sopInstanceUID === inst.references[0]);
      expect(expected).toBe(result.instances[referencedIndex]!.sopInstanceUID);
      for (const seq of ['00081140', '00082112']) {
        const item = dict[seq]!.Value![0] as RawDict;
        expect(text(item['00081155'])).toBe(expected);
        expect(text(item['00081150'])).toBe('1.2.840.10008.5.1.4.1.1.2');
      }
    });
  });

  it('gives a later attachment of the same case the same new study UID and pseudonym when given the earlier mapping', () => {
    const first = run({});
    const later = deidentifyCase([toBuffer(study.all[0]!.bytes)], { previous: first.mapping }, { dcmjs });
    expect(later.instances[0]!.studyInstanceUID).toBe(first.instances[0]!.studyInstanceUID);
    expect(later.instances[0]!.sopInstanceUID).toBe(first.instances[0]!.sopInstanceUID);
    expect(later.mapping.patients).toEqual(first.mapping.patients);
  });
});

describe('re-linking an answer', () => {
  it("maps the answer's study, series and referenced instance UIDs back to the real study and patient", () => {
    const result = run({});
    const sent = result.instances[3]!;
    // The specialist's answer names the de-identified study and the key image it is about.
    const answer = { studyInstanceUID: sent.studyInstanceUID, referencedSeriesUID: sent.seriesInstanceUID, referencedSopUID: sent.sopInstanceUID, ownSopUID: '2.25.1234' };
    // The mapping travels as JSON (IndexedDB), so re-link from a stored copy.
    const stored = JSON.parse(JSON.stringify(result.mapping)) as typeof result.mapping;
    expect(relink(stored, answer.studyInstanceUID)).toBe(study.studyInstanceUID);
    expect(relink(stored, answer.referencedSeriesUID)).toBe(study.series[1]!.seriesInstanceUID);
    expect(relink(stored, answer.referencedSopUID)).toBe(study.all[3]!.sopInstanceUID);
    expect(relink(stored, answer.ownSopUID)).toBeUndefined();
    const pseudonymId = text(read(sent.bytes).dict['00100020']);
    expect(relinkPatient(stored, pseudonymId)).toEqual({
      name: IDENTIFIED_PATIENT.name,
      id: IDENTIFIED_PATIENT.id,
      birthDate: IDENTIFIED_PATIENT.birthDate,
      sex: IDENTIFIED_PATIENT.sex,
    });
  });

  it('uses the pseudonym the caller chose for every instance', () => {
    const result = run({ pseudonym: { name: 'CASE^2026-0012', id: 'CASE-2026-0012' } });
    for (const i of result.instances) {
      const { dict } = read(i.bytes);
      expect(text(dict['00100010'])).toBe('CASE^2026-0012');
      expect(text(dict['00100020'])).toBe('CASE-2026-0012');
    }
  });
});
