// The import of a referral case: a folder (recursive), a CD/USB with a
// DICOMDIR (IHE PDI), zips — all reduced to a list of entries. Every DICOM
// file is read for identity and UIDs; what cannot be used is skipped with a
// reason per file, and the rest is imported.
import { unzipSync } from 'fflate';
import type { UnzipFileInfo } from 'fflate';
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
  /** Told the size of each buffer taken out of a zip, just before it is allocated: what the import holds from zips. */
  onZipInflate?: (bytes: number) => void;
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
 * anything is inflated, and again before each entry is. fflate inflates an
 * entry into a buffer of its declared size, so a lying header cannot make it
 * write more: the declared sizes bound what is held.
 */
export interface ZipLimits {
  maxEntries: number;
  maxEntryBytes: number;
  maxTotalBytes: number;
  /** Uncompressed / compressed, refused above this for entries larger than ratioFloorBytes. */
  maxRatio: number;
  ratioFloorBytes: number;
  /**
   * A zip the user chose, with the zips inside it, may unpack to maxRatio × its
   * size on disk, or to this much if that is more. Entries each under
   * ratioFloorBytes add up: 120 × 8 MiB of zeros is 960 MiB from 994 KB.
   */
  archiveFloorBytes: number;
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
  // Up to this a zip is not judged by its ratio (a few mostly blank images may well zip over 500×); it is little for the page to hold.
  archiveFloorBytes: 64 * MiB,
  maxDepth: 3,
};

/** What is left of the limits in one import. */
interface ZipBudget {
  limits: ZipLimits;
  entries: number;
  bytes: number;
  onInflate?: (bytes: number) => void;
}

/** A zip as the user chose it: what is unpacked from it, zips inside it too, counts against its size on disk. */
interface ZipRoot {
  path: string;
  size: number;
  /** Unpacked from it so far. */
  bytes: number;
  /** What it put in the skipped list, dropped if it is refused whole. */
  skipped: SkippedFile[];
  refused?: boolean;
}

/** Stops unzipping from inside fflate's filter: the zip the user chose is refused whole. */
class ZipBombRefusal extends Error {}

function newRoot(path: string, size: number): ZipRoot {
  return { path, size, bytes: 0, skipped: [] };
}

function rootAllowance(root: ZipRoot, limits: ZipLimits): number {
  return Math.max(limits.archiveFloorBytes, limits.maxRatio * root.size);
}

function fileSize(n: number): string {
  return n < MiB ? `${Math.max(1, Math.round(n / 1024))} KB` : mb(n);
}

function bombRefusal(root: ZipRoot, limits: ZipLimits): ZipBombRefusal {
  return new ZipBombRefusal(`zip refused: it would inflate to more than ${mb(rootAllowance(root, limits))} from a ${fileSize(root.size)} file (a zip bomb?)`);
}

function isDirectoryEntry(f: UnzipFileInfo): boolean {
  return f.name.endsWith('/') && f.originalSize === 0;
}

/** What fflate allocates for an entry: its declared size when inflating (it never writes past it), the stored bytes when copying. */
function heldBytes(f: UnzipFileInfo): number {
  return f.compression === 0 ? f.size : f.originalSize;
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
 * compressed, over the import's budget) with a reason each; or, when the
 * entries add up to more than the zip's size allows, the zip refused whole.
 * Throws when the zip cannot be read or holds more entries than the limit.
 * Synchronous on purpose: fflate's async unzip runs in a worker made from a
 * blob: URL, which the page's CSP forbids.
 */
export function zipEntries(zipPath: string, bytes: Uint8Array, limits: ZipLimits = ZIP_LIMITS): { entries: ImportEntry[]; refused: SkippedFile[] } {
  try {
    return unzipWithin(zipPath, bytes, { limits, entries: 0, bytes: 0 }, newRoot(zipPath, bytes.length));
  } catch (e) {
    if (e instanceof ZipBombRefusal) return { entries: [], refused: [{ path: zipPath, kind: 'refused', reason: e.message }] };
    throw e;
  }
}

/** Throws ZipBombRefusal when what the zip holds, with what its root already gave, is over the root's allowance. */
function unzipWithin(zipPath: string, bytes: Uint8Array, budget: ZipBudget, root: ZipRoot): { entries: ImportEntry[]; refused: SkippedFile[] } {
  const { limits } = budget;
  const allowance = rootAllowance(root, limits);
  const refused: SkippedFile[] = [];
  const refuse = (name: string, reason: string): false => {
    refused.push({ path: `${zipPath}/${name}`, kind: 'refused', reason });
    return false;
  };
  const entryProblem = (f: UnzipFileInfo): string | undefined => {
    if (unsafeZipName(f.name)) return `refused: the name "${f.name}" points outside the case folder`;
    if (f.originalSize > limits.maxEntryBytes) return `refused: ${mb(f.originalSize)} unpacked is over the ${mb(limits.maxEntryBytes)} limit per file`;
    if (f.originalSize > limits.ratioFloorBytes && f.originalSize / Math.max(1, f.size) > limits.maxRatio) {
      return `refused: ${mb(f.size)} would unpack to ${mb(f.originalSize)} (over ${limits.maxRatio}× — a zip bomb)`;
    }
    return undefined;
  };

  // The central directory alone first (the filter refuses every entry, so nothing is inflated): a bomb is refused
  // before a byte of it is, not after its allowance has been filled with zeros.
  let counted = budget.entries;
  let declared = 0;
  unzipSync(bytes, {
    filter: (f) => {
      if (++counted > limits.maxEntries) throw new Error(`more than ${limits.maxEntries} entries in this import's zips: refused`);
      if (!isDirectoryEntry(f) && entryProblem(f) === undefined) declared += heldBytes(f);
      return false;
    },
  });
  if (root.bytes + declared > allowance) throw bombRefusal(root, limits);

  let taken = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      // Called for each entry just before fflate allocates and inflates it: the running total is what is held.
      filter: (f) => {
        if (++budget.entries > limits.maxEntries) throw new Error(`more than ${limits.maxEntries} entries in this import's zips: refused`);
        if (isDirectoryEntry(f)) return false;
        const problem = entryProblem(f);
        if (problem !== undefined) return refuse(f.name, problem);
        const held = heldBytes(f);
        if (budget.bytes + held > limits.maxTotalBytes) return refuse(f.name, `refused: the zips of this import would unpack to more than ${mb(limits.maxTotalBytes)}`);
        // The sum above already said yes; checked again so the allowance holds even were the two passes to disagree.
        if (root.bytes + held > allowance) throw bombRefusal(root, limits);
        budget.bytes += held;
        root.bytes += held;
        taken += held;
        budget.onInflate?.(held);
        return true;
      },
    });
  } catch (e) {
    // Nothing of this zip is kept, so nothing of it counts.
    budget.bytes -= taken;
    root.bytes -= taken;
    throw e;
  }
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
  /** The zip the user chose that it came out of. */
  root?: ZipRoot;
}

/** Reads every entry, unpacking zips (also zips inside a folder or a zip) into their files. */
async function readAll(entries: readonly ImportEntry[], skipped: SkippedFile[], limits: ZipLimits, onInflate?: (bytes: number) => void): Promise<ReadFile[]> {
  let out: ReadFile[] = [];
  const budget: ZipBudget = { limits, entries: 0, bytes: 0, onInflate };
  const queue: (ImportEntry & { depth: number; root?: ZipRoot })[] = entries.map((e) => ({ ...e, path: normalizePath(e.path), depth: 0 }));
  const skip = (s: SkippedFile, root: ZipRoot | undefined): void => {
    skipped.push(s);
    root?.skipped.push(s);
  };
  // A bomb is refused as the file the user chose, in one line: whatever came out of it before goes, the rest of the import stays.
  const refuseRoot = (root: ZipRoot, reason: string): void => {
    root.refused = true;
    budget.bytes -= root.bytes;
    out = out.filter((f) => f.root !== root);
    const own = new Set(root.skipped);
    const kept = skipped.filter((s) => !own.has(s));
    skipped.splice(0, skipped.length, ...kept, { path: root.path, kind: 'refused', reason });
  };
  while (queue.length) {
    const entry = queue.shift()!;
    if (entry.root?.refused) continue;
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await entry.read());
    } catch (e) {
      skip({ path: entry.path, kind: 'unreadable', reason: `could not be read: ${errorMessage(e)}` }, entry.root);
      continue;
    }
    if (isZip(bytes)) {
      if (entry.depth >= limits.maxDepth) {
        skip({ path: entry.path, kind: 'refused', reason: `refused: a zip nested more than ${limits.maxDepth} zips deep` }, entry.root);
        continue;
      }
      const root = entry.root ?? newRoot(entry.path, bytes.length);
      try {
        const unzipped = unzipWithin(entry.path, bytes, budget, root);
        for (const s of unzipped.refused) skip(s, root);
        queue.push(...unzipped.entries.map((e) => ({ ...e, depth: entry.depth + 1, root })));
      } catch (e) {
        if (e instanceof ZipBombRefusal) refuseRoot(root, e.message);
        else skip({ path: entry.path, kind: 'unreadable', reason: `not a readable zip file: ${errorMessage(e)}` }, entry.root);
      }
      continue;
    }
    out.push({ path: entry.path, bytes, root: entry.root });
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
  const files = await readAll(entries, readSkipped, deps.zipLimits ?? ZIP_LIMITS, deps.onZipInflate);

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
