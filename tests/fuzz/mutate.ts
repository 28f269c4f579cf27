// Seeded mutations of a valid DICOM file: every mutation is a pure function
// of (seed file, mutation seed), so a crash found in CI is reproduced by its
// seed alone (`npm run fuzz -- --seed S --count N`).
import { seededRandom } from '../fixtures/dicom-common';
import { parseDicom } from '../../src/renderer/lib/dicom/dicom-parser';

type DataSet = ReturnType<typeof parseDicom>;

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const ALL_VRS = 'AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' ');
const IMPLICIT = '1.2.840.10008.1.2';
/** Lengths that overflow, sign-flip or run past any real file. */
const HUGE_LENGTHS = [0xfffffff0, 0xffffffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0x40000000];

/** Where one element's header and value sit in the seed file. */
interface ElementSite {
  tag: string;
  /** Start of the tag. */
  headerStart: number;
  dataOffset: number;
  /** Offset and width (2 or 4) of the length field. */
  lengthAt: number;
  lengthWidth: 2 | 4;
  /** Offset of the two VR bytes (explicit VR only). */
  vrAt?: number;
  topLevel: boolean;
}

export interface SeedFile {
  name: string;
  bytes: Uint8Array;
  sites: ElementSite[];
  explicit: boolean;
}

function collectSites(ds: DataSet, explicitBody: boolean, topLevel: boolean, out: ElementSite[]): void {
  for (const [tag, el] of Object.entries(ds.elements)) {
    const explicit = tag.startsWith('x0002') || explicitBody;
    const vr = el.vr;
    if (explicit && vr) {
      const long = LONG_VRS.has(vr);
      out.push({
        tag,
        headerStart: el.dataOffset - (long ? 12 : 8),
        dataOffset: el.dataOffset,
        lengthAt: el.dataOffset - (long ? 4 : 2),
        lengthWidth: long ? 4 : 2,
        vrAt: el.dataOffset - (long ? 8 : 4),
        topLevel,
      });
    } else {
      out.push({ tag, headerStart: el.dataOffset - 8, dataOffset: el.dataOffset, lengthAt: el.dataOffset - 4, lengthWidth: 4, topLevel });
    }
    for (const item of el.items ?? []) {
      // An item header: (FFFE,E000) and a 4-byte length, just before its data.
      out.push({ tag: 'xfffee000', headerStart: item.dataOffset - 8, dataOffset: item.dataOffset, lengthAt: item.dataOffset - 4, lengthWidth: 4, topLevel: false });
      if (item.dataSet) collectSites(item.dataSet, explicitBody, false, out);
    }
    for (const f of el.fragments ?? []) {
      out.push({ tag: 'xfffee000', headerStart: f.position - 8, dataOffset: f.position, lengthAt: f.position - 4, lengthWidth: 4, topLevel: false });
    }
  }
}

/** A seed file with the places of its elements, for mutations that aim at headers. */
export function seedFile(name: string, bytes: Uint8Array): SeedFile {
  const ds = parseDicom(bytes);
  const syntax = (ds.string('x00020010') ?? '').trim();
  const explicit = syntax !== IMPLICIT;
  const sites: ElementSite[] = [];
  collectSites(ds, explicit, true, sites);
  return { name, bytes, sites: sites.filter((s) => s.headerStart >= 132 && s.lengthAt + s.lengthWidth <= bytes.length), explicit };
}

export interface Mutant {
  bytes: Uint8Array;
  /** What was done, enough to read the crash report: "huge-length 0xFFFFFFF0 at 812 (x7fe00010)". */
  mutation: string;
}

type Rand = () => number;
const int = (rand: Rand, n: number): number => Math.floor(rand() * n);
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[int(rand, xs.length)]!;
const hex = (n: number): string => `0x${n.toString(16).toUpperCase()}`;

function bitFlips(seed: SeedFile, rand: Rand): Mutant {
  const bytes = seed.bytes.slice();
  const flips = 1 + int(rand, 16);
  const at: number[] = [];
  // Mostly in the headers (the first 2 KB hold the meta header and the attributes), sometimes anywhere.
  const span = rand() < 0.7 ? Math.min(bytes.length, 2048) : bytes.length;
  for (let i = 0; i < flips; i++) {
    const p = 132 + int(rand, Math.max(1, span - 132));
    if (p >= bytes.length) continue;
    bytes[p] = bytes[p]! ^ (1 << int(rand, 8));
    at.push(p);
  }
  return { bytes, mutation: `bit-flips at ${at.join(',')}` };
}

function truncation(seed: SeedFile, rand: Rand): Mutant {
  // Cut inside a header or value more often than at random.
  const site = seed.sites.length && rand() < 0.6 ? pick(rand, seed.sites) : undefined;
  const at = site ? site.headerStart + int(rand, 16) : int(rand, seed.bytes.length);
  const end = Math.min(seed.bytes.length - 1, at);
  return { bytes: seed.bytes.slice(0, end), mutation: `truncated at ${end} of ${seed.bytes.length}` };
}

function writeLength(bytes: Uint8Array, site: ElementSite, value: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (site.lengthWidth === 4) view.setUint32(site.lengthAt, value >>> 0, true);
  else view.setUint16(site.lengthAt, value & 0xffff, true);
}

function hugeLength(seed: SeedFile, rand: Rand): Mutant {
  const bytes = seed.bytes.slice();
  const site = pick(rand, seed.sites);
  const value = rand() < 0.8 ? pick(rand, HUGE_LENGTHS) : bytes.length - site.dataOffset + 1 + int(rand, 64);
  writeLength(bytes, site, site.lengthWidth === 2 ? 0xffff : value);
  return { bytes, mutation: `huge-length ${hex(site.lengthWidth === 2 ? 0xffff : value)} at ${site.lengthAt} (${site.tag})` };
}

function wrongVr(seed: SeedFile, rand: Rand): Mutant {
  const withVr = seed.sites.filter((s) => s.vrAt !== undefined);
  if (!withVr.length) return bitFlips(seed, rand);
  const bytes = seed.bytes.slice();
  const site = pick(rand, withVr);
  const vr = rand() < 0.9 ? pick(rand, ALL_VRS) : String.fromCharCode(int(rand, 256), int(rand, 256));
  bytes[site.vrAt!] = vr.charCodeAt(0);
  bytes[site.vrAt! + 1] = vr.charCodeAt(1);
  return { bytes, mutation: `wrong VR ${JSON.stringify(vr)} at ${site.vrAt} (${site.tag})` };
}

/** Explicit or implicit VR LE bytes of `depth` sequences nested in one another, each in one undefined-length item. */
export function nestedSequences(depth: number, explicit: boolean, delimited: boolean): Uint8Array {
  const sq = explicit
    ? [0x40, 0x00, 0x30, 0xa7, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff]
    : [0x40, 0x00, 0x30, 0xa7, 0xff, 0xff, 0xff, 0xff];
  const item = [0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff];
  const itemEnd = [0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0];
  const seqEnd = [0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0];
  const open = sq.length + item.length;
  const close = delimited ? itemEnd.length + seqEnd.length : 0;
  const out = new Uint8Array(depth * (open + close));
  for (let i = 0; i < depth; i++) {
    out.set(sq, i * open);
    out.set(item, i * open + sq.length);
  }
  if (delimited) for (let i = 0; i < depth; i++) {
    out.set(itemEnd, depth * open + i * close);
    out.set(seqEnd, depth * open + i * close + itemEnd.length);
  }
  return out;
}

function insertAt(bytes: Uint8Array, at: number, chunk: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + chunk.length);
  out.set(bytes.subarray(0, at));
  out.set(chunk, at);
  out.set(bytes.subarray(at), at + chunk.length);
  return out;
}

function deepNesting(seed: SeedFile, rand: Rand): Mutant {
  const depth = pick(rand, [64, 500, 2_000, 20_000]);
  const delimited = rand() < 0.5;
  const top = seed.sites.filter((s) => s.topLevel && !s.tag.startsWith('x0002'));
  const at = top.length && rand() < 0.7 ? pick(rand, top).headerStart : seed.bytes.length;
  const chunk = nestedSequences(depth, seed.explicit, delimited);
  return { bytes: insertAt(seed.bytes, at, chunk), mutation: `${depth} nested sequences${delimited ? '' : ' without delimiters'} inserted at ${at}` };
}

function undefinedLengthNoDelimiter(seed: SeedFile, rand: Rand): Mutant {
  const bytes = seed.bytes.slice();
  const long = seed.sites.filter((s) => s.lengthWidth === 4);
  if (!long.length) return hugeLength(seed, rand);
  const site = pick(rand, long);
  writeLength(bytes, site, 0xffffffff);
  return { bytes, mutation: `undefined length (no delimiter) at ${site.lengthAt} (${site.tag})` };
}

/** US values (Rows, Columns, Bits Allocated, LUT descriptors) set to extremes: sizes whose product overflows 32 bits. */
function extremeGeometry(seed: SeedFile, rand: Rand): Mutant {
  const targets = seed.sites.filter((s) => ['x00280010', 'x00280011', 'x00280100', 'x00280101', 'x00280002', 'x00281101', 'x00281102', 'x00281103'].includes(s.tag));
  if (!targets.length) return hugeLength(seed, rand);
  const bytes = seed.bytes.slice();
  const view = new DataView(bytes.buffer);
  const changed: string[] = [];
  for (const site of targets) {
    if (rand() < 0.5 || site.dataOffset + 2 > bytes.length) continue;
    const value = pick(rand, [0, 0xffff, 0x8000, 1, 3, 64, 33]);
    view.setUint16(site.dataOffset, value, true);
    changed.push(`${site.tag}=${value}`);
  }
  return { bytes, mutation: `geometry ${changed.join(' ') || 'unchanged'}` };
}

const MUTATIONS = [
  ['bit-flips', bitFlips, 4],
  ['truncation', truncation, 2],
  ['huge-length', hugeLength, 3],
  ['wrong-vr', wrongVr, 2],
  ['deep-nesting', deepNesting, 1],
  ['undefined-length', undefinedLengthNoDelimiter, 1],
  ['extreme-geometry', extremeGeometry, 2],
] as const;

export type MutationKind = (typeof MUTATIONS)[number][0];
const WEIGHT = MUTATIONS.reduce((s, m) => s + m[2], 0);

/** The mutant number `index` of a run seeded with `seed`: the same pair gives the same bytes. */
export function mutant(seeds: readonly SeedFile[], seed: number, index: number): Mutant & { seedName: string; kind: MutationKind } {
  const rand = seededRandom((seed * 1_000_003 + index * 7919) >>> 0 || 1);
  const base = seeds[int(rand, seeds.length)]!;
  let r = rand() * WEIGHT;
  let chosen: (typeof MUTATIONS)[number] = MUTATIONS[0];
  for (const m of MUTATIONS) {
    if ((r -= m[2]) < 0) {
      chosen = m;
      break;
    }
  }
  // Sometimes two mutations stacked: a flipped file that is also truncated.
  let out = chosen[1](base, rand);
  if (rand() < 0.15) {
    const again = truncation({ ...base, bytes: out.bytes }, rand);
    out = { bytes: again.bytes, mutation: `${out.mutation}; ${again.mutation}` };
  }
  return { ...out, seedName: base.name, kind: chosen[0] };
}
