// De-identification of a referral case: DICOM PS3.15 Annex E, Basic
// Application Level Confidentiality Profile, with the options "Retain
// Longitudinal Temporal Information with Full Dates" and "Clean Descriptors".
//
// Works on dcmjs's raw dict (tag → {vr, Value}) so every element — nested in
// sequences, private, unknown to the dictionary — is handled by its tag, the way
// Table E.1-1 is keyed. Pixel Data is never touched: it is carried over as the
// ArrayBuffer(s) dcmjs read, so its bytes are identical.
//
// What the profile leaves to the implementer, decided here (and in docs/DECISIONS.md, D32):
//  - Combined actions without knowing the IOD's Type of each attribute:
//    X/Z → Z (an empty value is valid for Type 2 and Type 3 alike);
//    X/D → X; Z/D and X/Z/D → Z, except D where the attribute is Type 1 in the IOD
//    at hand (TYPE1_IN below: SR content date/time, the enhanced equipment's
//    serial number). A *sequence* under X/Z or X/Z/D is removed unless it is
//    Type 2 (Acquisition Context Sequence): a present Type 3 sequence must hold
//    at least one item, so emptying it would break the object (dciodvfy says
//    so). X/Z/U* → U*: the sequence is kept and its items go through
//    the profile, so Referenced SOP Instance UIDs are remapped with the rest of
//    the case (the references between a case's objects survive, pointing at
//    the new UIDs).
//  - D on a sequence (Content Sequence, Verifying Observer Sequence…): removed.
//    A dummy item would need an IOD-specific shape; an SR's content is free
//    text that the table cannot clean, so the app writes its referral note
//    after de-identification, from the pseudonymous case.
//  - Patient's Name and Patient ID (Z) are replaced by the case's pseudonym
//    (Z allows a dummy value), so the receiving site files the case under it.
//  - Private attributes are removed; so are whole overlay (60xx) and curve
//    (50xx) groups, because an Overlay Plane module without its Overlay Data is
//    invalid and overlays can carry burned-in names.
//  - C (Clean Descriptors): text is kept with the case's identifying strings
//    (name parts, IDs, accession number, birth date) and long digit runs
//    removed; coded sequences are kept with the profile applied inside. This is
//    a heuristic: the UI shows cleaned descriptors before the case is sent.
import { ANNEX_E_TABLE } from './annex-e-table';
import type { AnnexERow, BasicAction } from './annex-e-table';
import { defaultRandomBytes, newUid } from '../lib/dicom/dcmjs-runtime';
import type { DcmjsDeps, RawDict, RawElement } from '../lib/dicom/dcmjs-runtime';

export interface DeidentifyOptions {
  /** "Retain Longitudinal Temporal Information with Full Dates": dates and times kept as they are. */
  retainLongitudinalFullDates?: boolean;
  /** "Clean Descriptors": descriptions kept, cleaned of identifying text, instead of removed. */
  cleanDescriptors?: boolean;
  /** The pseudonym every patient of the case gets; default generated (`ANONYMOUS^<8 hex>`, `ANON-<8 HEX>`). */
  pseudonym?: { name: string; id: string };
  /** A mapping from an earlier run on the same case: its UIDs and pseudonym are reused, new ones added. */
  previous?: DeidentificationMapping;
}

export type DeidentifyDeps = DcmjsDeps;

export interface PatientIdentityValues {
  name: string;
  id: string;
  birthDate: string;
  sex: string;
}

/**
 * What links the de-identified case back to the real patient. Kept locally
 * (IndexedDB) by the caller and never sent: it holds the original identity.
 */
export interface DeidentificationMapping {
  kind: 'telerad-deidentification-mapping';
  version: 1;
  createdAt: string;
  options: { retainLongitudinalFullDates: boolean; cleanDescriptors: boolean };
  /** original UID → new UID, for every UID the profile replaced (U), across the whole case. */
  uids: Record<string, string>;
  patients: { original: PatientIdentityValues; pseudonym: { name: string; id: string } }[];
}

export interface DeidentifiedInstance {
  bytes: ArrayBuffer;
  sopInstanceUID: string;
  seriesInstanceUID: string;
  studyInstanceUID: string;
  original: { sopInstanceUID: string; seriesInstanceUID: string; studyInstanceUID: string };
}

export interface DeidentifyResult {
  instances: DeidentifiedInstance[];
  /** Store locally; never send. */
  mapping: DeidentificationMapping;
}

/** The action actually applied to an element, after the options and the combined-action policy. */
export type AppliedAction = 'X' | 'Z' | 'D' | 'K' | 'C' | 'U' | 'U*';

const ROWS = new Map<string, AnnexERow>(ANNEX_E_TABLE.filter(([tag]) => !tag.includes('x')).map((row) => [row[0].toUpperCase(), row]));

const SR_SOP_CLASS_PREFIX = '1.2.840.10008.5.1.4.1.1.88.';
/** Enhanced IODs whose Enhanced General Equipment module makes Device Serial Number Type 1. */
const ENHANCED_SOP_CLASSES = new Set([
  '1.2.840.10008.5.1.4.1.1.2.1', // Enhanced CT
  '1.2.840.10008.5.1.4.1.1.4.1', // Enhanced MR
  '1.2.840.10008.5.1.4.1.1.4.3', // Enhanced MR Color
  '1.2.840.10008.5.1.4.1.1.130', // Enhanced PET
  '1.2.840.10008.5.1.4.1.1.12.1.1', // Enhanced XA
  '1.2.840.10008.5.1.4.1.1.12.2.1', // Enhanced XRF
]);
/** Attributes of Z/D or X/Z/D rows that are Type 1 in some IODs: there the dummy (D) keeps the object valid. */
const TYPE1_IN: Record<string, (sopClassUID: string) => boolean> = {
  '00080023': (c) => c.startsWith(SR_SOP_CLASS_PREFIX), // Content Date: SR Document General module
  '00080033': (c) => c.startsWith(SR_SOP_CLASS_PREFIX), // Content Time
  '00181000': (c) => ENHANCED_SOP_CLASSES.has(c), // Device Serial Number: Enhanced General Equipment
};

export const DEIDENTIFICATION_CODES = {
  basic: { value: '113100', meaning: 'Basic Application Confidentiality Profile' },
  fullDates: { value: '113106', meaning: 'Retain Longitudinal Temporal Information Full Dates Option' },
  cleanDescriptors: { value: '113105', meaning: 'Clean Descriptors Option' },
} as const;

const DUMMY_TEXT = 'ANONYMIZED';
const DUMMY_BY_VR: Record<string, unknown[]> = {
  DA: ['19000101'],
  TM: ['000000'],
  DT: ['19000101000000'],
  PN: [{ Alphabetic: DUMMY_TEXT }],
  IS: [0],
  DS: [0],
  AS: ['000D'],
  US: [0],
  SS: [0],
  UL: [0],
  SL: [0],
  FL: [0],
  FD: [0],
  SQ: [],
};
const TEXT_VRS = new Set(['LO', 'SH', 'LT', 'ST', 'UT', 'UC', 'PN', 'CS', 'AE']);
const IMPLEMENTATION_CLASS_UID = '2.25.118442846212349719434517316384398012346';

/** Sequences that are Type 2 in the IODs the app handles: emptied, not removed, under X/Z. */
const TYPE2_SEQUENCES = new Set(['00400555']); // Acquisition Context Sequence (VL, CT/MR enhanced)

/** The action Table E.1-1 and the chosen options give `tag` (upper-case 8 hex digits, value representation `vr`) in an object of `sopClassUID`. */
export function actionFor(tag: string, options: DeidentifyOptions, sopClassUID = '', vr = ''): AppliedAction | undefined {
  const t = tag.toUpperCase();
  const group = parseInt(t.slice(0, 4), 16);
  if (group % 2 === 1) return 'X'; // private
  if (t.startsWith('50') || t.startsWith('60')) return 'X'; // curves and overlays (see the header)
  const row = ROWS.get(t);
  if (!row) return undefined;
  const [, basic, optionFlag] = row;
  if (optionFlag === 'F' && options.retainLongitudinalFullDates) return 'K';
  if (optionFlag === 'C' && options.cleanDescriptors) return 'C';
  return resolveCombined(t, basic, sopClassUID, vr);
}

function resolveCombined(tag: string, action: BasicAction, sopClassUID: string, vr: string): AppliedAction {
  if (vr === 'SQ' && (action === 'X/Z' || action === 'X/Z/D' || action === 'D')) {
    return action !== 'D' && TYPE2_SEQUENCES.has(tag) ? 'Z' : 'X';
  }
  switch (action) {
    case 'X/Z':
      return 'Z';
    case 'X/D':
      return 'X';
    case 'Z/D':
    case 'X/Z/D':
      return TYPE1_IN[tag]?.(sopClassUID) ? 'D' : 'Z';
    case 'X/Z/U*':
      return 'U*';
    default:
      return action;
  }
}

interface CaseState {
  options: DeidentifyOptions;
  uids: Map<string, string>;
  randomBytes: (n: number) => Uint8Array;
  /** Strings that identify the patient (for C); filled per instance. */
  identifying: string[];
}

function isStandardUid(uid: string): boolean {
  return uid.startsWith('1.2.840.10008.');
}

function remapUid(state: CaseState, uid: string): string {
  const trimmed = uid.replace(/\0/g, '').trim();
  if (!trimmed || isStandardUid(trimmed)) return trimmed;
  let mapped = state.uids.get(trimmed);
  if (!mapped) {
    mapped = newUid(state.randomBytes);
    state.uids.set(trimmed, mapped);
  }
  return mapped;
}

function stringValue(el: RawElement | undefined): string {
  const v = el?.Value?.[0];
  if (v === undefined || v === null) return '';
  if (typeof v === 'object' && 'Alphabetic' in (v as Record<string, unknown>)) return String((v as { Alphabetic?: string }).Alphabetic ?? '');
  return String(v);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Clean Descriptors: the case's identifying strings and long digit runs (dates, phone numbers, record numbers) removed. */
export function cleanDescriptorText(text: string, identifying: readonly string[]): string {
  let out = text;
  for (const s of identifying) {
    if (s.length < 2) continue;
    out = out.replace(new RegExp(escapeRegExp(s), 'gi'), '');
  }
  out = out.replace(/\d[\d./-]{4,}\d/g, '');
  return out.replace(/\s{2,}/g, ' ').trim();
}

function applyToDict(dict: RawDict, state: CaseState, sopClassUID: string): RawDict {
  const out: RawDict = {};
  for (const [tag, el] of Object.entries(dict)) {
    const action = actionFor(tag, state.options, sopClassUID, el.vr);
    if (action === undefined || action === 'K') {
      out[tag] = el.vr === 'SQ' && action === undefined ? { vr: 'SQ', Value: items(el).map((item) => applyToDict(item, state, sopClassUID)) } : el;
      continue;
    }
    const replaced = applyAction(action, el, state, sopClassUID);
    if (replaced) out[tag] = replaced;
  }
  return out;
}

function items(el: RawElement): RawDict[] {
  return (el.Value ?? []).filter((v): v is RawDict => typeof v === 'object' && v !== null);
}

function applyAction(action: Exclude<AppliedAction, 'K'>, el: RawElement, state: CaseState, sopClassUID: string): RawElement | undefined {
  switch (action) {
    case 'X':
      return undefined;
    case 'Z':
      return { vr: el.vr, Value: [] };
    case 'D':
      if (el.vr === 'UI') return { vr: 'UI', Value: (el.Value ?? ['']).map((v) => remapUid(state, String(v))) };
      return { vr: el.vr, Value: DUMMY_BY_VR[el.vr] ?? (TEXT_VRS.has(el.vr) ? [DUMMY_TEXT] : []) };
    case 'U':
      return { vr: el.vr, Value: (el.Value ?? []).map((v) => remapUid(state, String(v))) };
    case 'U*':
      return { vr: 'SQ', Value: items(el).map((item) => applyToDict(item, state, sopClassUID)) };
    case 'C':
      if (el.vr === 'SQ') return { vr: 'SQ', Value: items(el).map((item) => applyToDict(item, state, sopClassUID)) };
      if (el.vr === 'PN') return { vr: 'PN', Value: [] };
      if (TEXT_VRS.has(el.vr)) return { vr: el.vr, Value: (el.Value ?? []).map((v) => cleanDescriptorText(String(v), state.identifying)) };
      return el;
  }
}

function identityOf(dict: RawDict): PatientIdentityValues {
  return {
    name: stringValue(dict['00100010']),
    id: stringValue(dict['00100020']),
    birthDate: stringValue(dict['00100030']),
    sex: stringValue(dict['00100040']),
  };
}

function identifyingStrings(dict: RawDict, identity: PatientIdentityValues): string[] {
  const out = new Set<string>();
  for (const part of identity.name.split(/[\^=\s]+/)) if (part.length >= 2) out.add(part);
  for (const s of [identity.id, identity.birthDate, stringValue(dict['00080050']), stringValue(dict['00101000'])]) if (s) out.add(s);
  // Longest first, so "JANE" is not removed before "JANE-MARIE" gets its chance.
  return [...out].sort((a, b) => b.length - a.length);
}

function sameIdentity(a: PatientIdentityValues, b: PatientIdentityValues): boolean {
  return a.id === b.id && a.name === b.name && a.birthDate === b.birthDate;
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * De-identifies every instance of a case with one UID map, so a UID means the
 * same new UID in every object (Study/Series/SOP, Frame of Reference,
 * references inside sequences). Throws on a file dcmjs cannot read; the import
 * has already vetted the files, so that is a bug, not bad input.
 */
export function deidentifyCase(files: readonly ArrayBuffer[], options: DeidentifyOptions, deps: DeidentifyDeps): DeidentifyResult {
  const randomBytes = deps.randomBytes ?? defaultRandomBytes;
  const previous = options.previous;
  const state: CaseState = { options, uids: new Map(Object.entries(previous?.uids ?? {})), randomBytes, identifying: [] };
  const patients: DeidentificationMapping['patients'] = previous ? previous.patients.map((p) => ({ ...p })) : [];
  const instances: DeidentifiedInstance[] = [];
  const { DicomMessage, DicomDict } = deps.dcmjs.data;

  for (const file of files) {
    const { meta, dict } = DicomMessage.readFile(file);
    const sopClassUID = stringValue(dict['00080016']) || stringValue(meta['00020002']);
    const identity = identityOf(dict);
    let patient = patients.find((p) => sameIdentity(p.original, identity));
    if (!patient) {
      const pseudonym = options.pseudonym ?? patients[0]?.pseudonym ?? generatedPseudonym(randomBytes);
      patient = { original: identity, pseudonym };
      patients.push(patient);
    }
    state.identifying = identifyingStrings(dict, identity);
    const original = {
      sopInstanceUID: stringValue(dict['00080018']),
      seriesInstanceUID: stringValue(dict['0020000E']),
      studyInstanceUID: stringValue(dict['0020000D']),
    };

    const out = applyToDict(dict, state, sopClassUID);
    out['00100010'] = { vr: 'PN', Value: [{ Alphabetic: patient.pseudonym.name }] };
    out['00100020'] = { vr: 'LO', Value: [patient.pseudonym.id] };
    addMethodAttributes(out, options);

    const newMeta: RawDict = {};
    for (const tag of ['00020001', '00020002', '00020010']) if (meta[tag]) newMeta[tag] = meta[tag];
    newMeta['00020003'] = { vr: 'UI', Value: [remapUid(state, stringValue(meta['00020003']) || original.sopInstanceUID)] };
    newMeta['00020012'] = { vr: 'UI', Value: [IMPLEMENTATION_CLASS_UID] };
    newMeta['00020013'] = { vr: 'SH', Value: ['TELERAD_DEID'] };
    const written = new DicomDict(newMeta);
    written.dict = out;
    instances.push({
      bytes: written.write({ fragmentMultiframe: false }),
      sopInstanceUID: stringValue(out['00080018']),
      seriesInstanceUID: stringValue(out['0020000E']),
      studyInstanceUID: stringValue(out['0020000D']),
      original,
    });
  }

  return {
    instances,
    mapping: {
      kind: 'telerad-deidentification-mapping',
      version: 1,
      createdAt: (deps.now?.() ?? new Date()).toISOString(),
      options: { retainLongitudinalFullDates: !!options.retainLongitudinalFullDates, cleanDescriptors: !!options.cleanDescriptors },
      uids: Object.fromEntries(state.uids),
      patients,
    },
  };
}

function generatedPseudonym(randomBytes: (n: number) => Uint8Array): { name: string; id: string } {
  const tag = hex(randomBytes(4));
  return { name: `ANONYMOUS^${tag}`, id: `ANON-${tag.toUpperCase()}` };
}

function addMethodAttributes(dict: RawDict, options: DeidentifyOptions): void {
  const codes: { value: string; meaning: string }[] = [DEIDENTIFICATION_CODES.basic];
  if (options.retainLongitudinalFullDates) codes.push(DEIDENTIFICATION_CODES.fullDates);
  if (options.cleanDescriptors) codes.push(DEIDENTIFICATION_CODES.cleanDescriptors);
  dict['00120062'] = { vr: 'CS', Value: ['YES'] };
  // LO is at most 64 characters per value: one value per profile/option, in the order of the codes.
  dict['00120063'] = { vr: 'LO', Value: codes.map((c) => c.meaning.slice(0, 64)) };
  dict['00120064'] = {
    vr: 'SQ',
    Value: codes.map((c) => ({
      '00080100': { vr: 'SH', Value: [c.value] },
      '00080102': { vr: 'SH', Value: ['DCM'] },
      '00080104': { vr: 'LO', Value: [c.meaning] },
    })),
  };
  dict['00280303'] = { vr: 'CS', Value: [options.retainLongitudinalFullDates ? 'UNMODIFIED' : 'REMOVED'] };
}

/**
 * The real UID behind a de-identified one (an answer's Study/Series/SOP or
 * referenced UID), or undefined when the mapping never issued it (a UID the
 * answering site created itself, e.g. its report's own SOP Instance UID).
 */
export function relink(mapping: DeidentificationMapping, uid: string): string | undefined {
  for (const [original, replaced] of Object.entries(mapping.uids)) if (replaced === uid) return original;
  return undefined;
}

/** The real patient behind a pseudonym ID. */
export function relinkPatient(mapping: DeidentificationMapping, pseudonymId: string): PatientIdentityValues | undefined {
  return mapping.patients.find((p) => p.pseudonym.id === pseudonymId)?.original;
}
