// The import of a referral case: a folder (recursive), a CD/USB with a
// DICOMDIR (IHE PDI), zips — all reduced to a list of entries. Every DICOM
// file is read for identity and UIDs; what cannot be used is skipped with a
// reason per file, and the rest is imported.
import { unzipSync } from 'fflate';
import type { Logger } from '../../shared/log';
import { readDicomdir, isDicomdirDataSet, isDicomdirPath, mediaKey } from '../../shared/dicom/dicomdir';
import { zeroPreamble } from '../../shared/dicom/preamble';
import type { DicomdirReference } from '../../shared/dicom/dicomdir';
import type {
  DicomdirSummary,
  ImportEntry,
  ImportResult,
  IndexFile,
  ImportedInstance,
  ImportedSeries,
  ImportedStudy,
  PatientIdentity,
  SkippedFile,
} from './import-types';
import { instanceFacts, pixelGeometryProblem, readDicom } from './read-instance';
import type { InstanceFacts, ReadOutcome } from './read-instance';
import { errorMessage } from '../../shared/error-message';

export interface ImportDeps {
  log?: Logger;
  /** Default ZIP_LIMITS. */
  zipLimits?: ZipLimits;
}

function normalizePath(path: string): string {
  return path.replace(/\\/g, '/').replace(/^(\.\/|\/)+/, '');
}

function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

function asArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

/**
 * What one import may unpack from zips, all zips together (zips inside zips
 * too), checked against the sizes the central directory declares before
 * anything is inflated. fflate inflates an entry into a buffer of its
 * declared size, so a lying header cannot make it write more.
 */
export interface ZipLimits {
  maxEntries: number;
  maxEntryBytes: number;
  maxTotalBytes: number;
  /** Uncompressed / compressed, refused above this for entries larger than ratioFloorBytes. */
  maxRatio: number;
  ratioFloorBytes: number;
  /** Zips inside zips. */
  maxDepth: number;
}

const MiB = 1024 * 1024;
export const ZIP_LIMITS: ZipLimits = {
  maxEntries: 20_000,
  maxEntryBytes: 1024 * MiB,
  maxTotalBytes: 2048 * MiB,
  // Deflate's ceiling is ~1032:1; an image that compresses 500× is a block of zeros, not a scan.
  maxRatio: 500,
  ratioFloorBytes: 8 * MiB,
  maxDepth: 3,
};

/** What is left of the limits in one import. */
interface ZipBudget {
  limits: ZipLimits;
  entries: number;
  bytes: number;
}

/** An entry name that would land outside the case (`../`, `/etc`, `C:\`, `\\server`), or is not a name at all. */
function unsafeZipName(name: string): boolean {
  const n = name.replace(/\\/g, '/');
  return n.startsWith('/') || /^[A-Za-z]:/.test(n) || n.includes('\0') || n.split('/').some((part) => part === '..');
}

function mb(n: number): string {
  return `${(n / MiB).toFixed(n < 10 * MiB ? 1 : 0)} MB`;
}

/**
 * The entries of a zip, named `<zip path>/<entry name>` so a report points
 * into the zip, and the entries refused (unsafe name, too large, too
 * compressed, over the import's budget) with a reason each. Throws when the
 * zip cannot be read or holds more entries than the limit. Synchronous on
 * purpose: fflate's async unzip runs in a worker made from a blob: URL, which
 * the page's CSP forbids.
 */
export function zipEntries(zipPath: string, bytes: Uint8Array, limits: ZipLimits = ZIP_LIMITS): { entries: ImportEntry[]; refused: SkippedFile[] } {
  return unzipWithin(zipPath, bytes, { limits, entries: 0, bytes: 0 });
}

function unzipWithin(zipPath: string, bytes: Uint8Array, budget: ZipBudget): { entries: ImportEntry[]; refused: SkippedFile[] } {
  const { limits } = budget;
  const refused: SkippedFile[] = [];
  const refuse = (name: string, reason: string): false => {
    refused.push({ path: `${zipPath}/${name}`, kind: 'refused', reason });
    return false;
  };
  const files = unzipSync(bytes, {
    filter: (f) => {
      if (++budget.entries > limits.maxEntries) throw new Error(`more than ${limits.maxEntries} entries in this import's zips: refused`);
      if (f.name.endsWith('/') && f.originalSize === 0) return false;
      if (unsafeZipName(f.name)) return refuse(f.name, `refused: the name "${f.name}" points outside the case folder`);
      if (f.originalSize > limits.maxEntryBytes) return refuse(f.name, `refused: ${mb(f.originalSize)} unpacked is over the ${mb(limits.maxEntryBytes)} limit per file`);
      if (f.originalSize > limits.ratioFloorBytes && f.originalSize / Math.max(1, f.size) > limits.maxRatio) {
        return refuse(f.name, `refused: ${mb(f.size)} would unpack to ${mb(f.originalSize)} (over ${limits.maxRatio}× — a zip bomb)`);
      }
      if (budget.bytes + f.originalSize > limits.maxTotalBytes) return refuse(f.name, `refused: the zips of this import would unpack to more than ${mb(limits.maxTotalBytes)}`);
      budget.bytes += f.originalSize;
      return true;
    },
  });
  const entries = Object.entries(files).map(([name, data]) => ({
    path: `${zipPath}/${normalizePath(name)}`,
    size: data.length,
    read: async (): Promise<ArrayBuffer> => asArrayBuffer(data),
  }));
  return { entries, refused };
}

interface ReadFile {
  path: string;
  bytes: Uint8Array;
}

/** Reads every entry, unpacking zips (also zips inside a folder or a zip) into their files. */
async function readAll(entries: readonly ImportEntry[], skipped: SkippedFile[], limits: ZipLimits): Promise<ReadFile[]> {
  const out: ReadFile[] = [];
  const budget: ZipBudget = { limits, entries: 0, bytes: 0 };
  const queue = entries.map((e) => ({ ...e, path: normalizePath(e.path), depth: 0 }));
  while (queue.length) {
    const entry = queue.shift()!;
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await entry.read());
    } catch (e) {
      skipped.push({ path: entry.path, kind: 'unreadable', reason: `could not be read: ${errorMessage(e)}` });
      continue;
    }
    if (isZip(bytes)) {
      if (entry.depth >= limits.maxDepth) {
        skipped.push({ path: entry.path, kind: 'refused', reason: `refused: a zip nested more than ${limits.maxDepth} zips deep` });
        continue;
      }
      try {
        const unzipped = unzipWithin(entry.path, bytes, budget);
        skipped.push(...unzipped.refused);
        queue.push(...unzipped.entries.map((e) => ({ ...e, depth: entry.depth + 1 })));
      } catch (e) {
        skipped.push({ path: entry.path, kind: 'unreadable', reason: `not a readable zip file: ${errorMessage(e)}` });
      }
      continue;
    }
    out.push({ path: entry.path, bytes });
  }
  return out;
}

function byNumberThenPath(a: ImportedInstance, b: ImportedInstance): number {
  return (a.instanceNumber ?? Number.MAX_SAFE_INTEGER) - (b.instanceNumber ?? Number.MAX_SAFE_INTEGER) || a.path.localeCompare(b.path);
}

/** How the import result names a DICOMDIR it read: an index of the media, not an image, and no problem. */
export const DICOMDIR_INDEX_NOTE = 'DICOMDIR index, read for the file list';

type IndexReading = { ok: true; summary: DicomdirSummary; references: DicomdirReference[] } | { ok: false; reason: string };

/** A DICOMDIR's file list, or why it cannot be had (the caller imports the files next to it regardless). */
function readIndex(path: string, outcome: ReadOutcome): IndexReading {
  if (!outcome.ok) return { ok: false, reason: outcome.reason };
  // Named DICOMDIR yet without directory records: whatever it is, there is no file list in it.
  if (!outcome.dataSet.elements.x00041220) return { ok: false, reason: 'no Directory Record Sequence (0004,1220)' };
  try {
    const { records, references } = readDicomdir(outcome.dataSet, path);
    return { ok: true, summary: { path, records, referenced: references.length, missing: 0 }, references };
  } catch (e) {
    return { ok: false, reason: errorMessage(e) };
  }
}

/** Imports a list of files: folders, DICOMDIR media and zips alike. Never throws for bad input; it reports it. */
export async function importFiles(entries: readonly ImportEntry[], deps: ImportDeps = {}): Promise<ImportResult> {
  const readSkipped: SkippedFile[] = [];
  const files = await readAll(entries, readSkipped, deps.zipLimits ?? ZIP_LIMITS);

  // A DICOMDIR's problems are listed before the images' (as the media are read: index first), each group in file order.
  const indexSkipped: SkippedFile[] = [];
  const imageSkipped: SkippedFile[] = [];
  const present = new Set(files.map((f) => mediaKey(f.path)));
  const referencedKeys = new Set<string>();
  const dicomdirs: DicomdirSummary[] = [];
  const indexes: IndexFile[] = [];
  const instances: (ImportedInstance & { facts: InstanceFacts })[] = [];
  const bySop = new Map<string, string>();
  for (const file of files) {
    const outcome = readDicom(file.bytes);
    // A DICOMDIR by name at any depth, or by content under any name: an index of the media, never judged as an image
    // (it has no Study Instance UID, and big-endian, implicit-VR or renamed ones were listed as malformed images).
    if (isDicomdirPath(file.path) || (outcome.ok && isDicomdirDataSet(outcome.dataSet))) {
      const index = readIndex(file.path, outcome);
      if (!index.ok) {
        indexSkipped.push({ path: file.path, kind: 'unreadable', reason: `DICOMDIR index unreadable: ${index.reason}; the files next to it are imported without it` });
        continue;
      }
      for (const ref of index.references) {
        const key = mediaKey(ref.path);
        referencedKeys.add(key);
        if (!present.has(key)) {
          index.summary.missing++;
          indexSkipped.push({ path: ref.path, kind: 'missing', reason: missingReason(ref) });
        }
      }
      dicomdirs.push(index.summary);
      indexes.push({ path: file.path, note: DICOMDIR_INDEX_NOTE });
      continue;
    }
    if (!outcome.ok) {
      imageSkipped.push({ path: file.path, kind: outcome.kind, reason: outcome.reason });
      continue;
    }
    const facts = instanceFacts(outcome.dataSet, outcome.transferSyntaxUID);
    if ('missing' in facts) {
      imageSkipped.push({ path: file.path, kind: 'malformed', reason: `malformed DICOM: no ${facts.missing}` });
      continue;
    }
    const geometry = pixelGeometryProblem(outcome.dataSet, outcome.transferSyntaxUID);
    if (geometry) {
      imageSkipped.push({ path: file.path, kind: 'malformed', reason: `malformed image: ${geometry}` });
      continue;
    }
    const first = bySop.get(facts.sopInstanceUID);
    if (first) {
      imageSkipped.push({ path: file.path, kind: 'duplicate', reason: `duplicate of ${first} (same SOP Instance UID)` });
      continue;
    }
    bySop.set(facts.sopInstanceUID, file.path);
    const { seriesNumber: _s, seriesDescription: _d, studyDate: _sd, studyDescription: _sdesc, accessionNumber: _a, ...instanceFields } = facts;
    // Kept and later forwarded: without whatever the preamble carried (a DICOM/executable polyglot, CVE-2019-11687).
    instances.push({ ...instanceFields, path: file.path, size: file.bytes.length, bytes: asArrayBuffer(zeroPreamble(file.bytes)), facts });
  }
  const unreferenced = dicomdirs.length ? instances.filter((i) => !referencedKeys.has(mediaKey(i.path))).map((i) => i.path) : [];

  const skipped = [...readSkipped, ...indexSkipped, ...imageSkipped];
  const studies = groupStudies(instances);
  for (const s of skipped) deps.log?.warn(`import: skipped ${s.path}: ${s.reason}`);
  for (const i of indexes) deps.log?.info(`import: ${i.path}: ${i.note}`);
  deps.log?.info(`import: ${instances.length} instances in ${studies.length} studies, ${skipped.length} skipped`);
  return { studies, skipped, dicomdirs, indexes, unreferenced, instanceCount: instances.length };
}

function missingReason(ref: DicomdirReference): string {
  return `DICOMDIR references ${ref.fileId} which is missing`;
}

function groupStudies(instances: readonly (ImportedInstance & { facts: InstanceFacts })[]): ImportedStudy[] {
  const studies = new Map<string, ImportedStudy>();
  const series = new Map<string, ImportedSeries>();
  for (const { facts, ...instance } of instances) {
    let study = studies.get(instance.studyInstanceUID);
    if (!study) {
      study = {
        studyInstanceUID: instance.studyInstanceUID,
        patient: instance.patient,
        studyDate: facts.studyDate,
        description: facts.studyDescription,
        accessionNumber: facts.accessionNumber,
        series: [],
      };
      studies.set(instance.studyInstanceUID, study);
    }
    let s = series.get(instance.seriesInstanceUID);
    if (!s) {
      s = {
        seriesInstanceUID: instance.seriesInstanceUID,
        modality: instance.modality,
        ...(facts.seriesNumber !== undefined ? { seriesNumber: facts.seriesNumber } : {}),
        description: facts.seriesDescription,
        instances: [],
      };
      series.set(instance.seriesInstanceUID, s);
      study.series.push(s);
    }
    s.instances.push(instance);
  }
  for (const study of studies.values()) {
    for (const s of study.series) s.instances.sort(byNumberThenPath);
    study.series.sort((a, b) => (a.seriesNumber ?? 0) - (b.seriesNumber ?? 0));
  }
  return [...studies.values()];
}

export interface IdentityGroup {
  identity: PatientIdentity;
  studyInstanceUIDs: string[];
  instanceCount: number;
  /** A few paths of files carrying this identity, for the UI. */
  examplePaths: string[];
}

/** PN and IDs compared as a person would: case, padding and empty trailing components do not make another patient. */
function identityKey(p: PatientIdentity): string {
  const name = p.name.toUpperCase().replace(/\^+$/, '').replace(/\s+/g, ' ').trim();
  return [name, p.id.trim().toUpperCase(), p.birthDate.trim()].join('|');
}

/**
 * The distinct patient identities (name, ID, birth date) in an import. More
 * than one: the user must choose one or split the case before it can be sent.
 */
export function identityConflicts(imported: Pick<ImportResult, 'studies'>): IdentityGroup[] {
  const groups = new Map<string, IdentityGroup>();
  for (const study of imported.studies) {
    for (const s of study.series) {
      for (const i of s.instances) {
        const key = identityKey(i.patient);
        let g = groups.get(key);
        if (!g) {
          g = { identity: i.patient, studyInstanceUIDs: [], instanceCount: 0, examplePaths: [] };
          groups.set(key, g);
        }
        g.instanceCount++;
        if (!g.studyInstanceUIDs.includes(study.studyInstanceUID)) g.studyInstanceUIDs.push(study.studyInstanceUID);
        if (g.examplePaths.length < 3) g.examplePaths.push(i.path);
      }
    }
  }
  return [...groups.values()];
}
