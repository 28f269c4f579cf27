// The seed files the fuzzer mutates: small but real files from the project's
// generators, in every transfer syntax the codec matrix writes, plus the SR
// documents, an encapsulated PDF, a photo and a DICOMDIR. Generated once and
// kept on disk, so a run's mutants are the same bytes each time and a crash
// can be replayed from its seed.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateChestXray } from '../fixtures/chest-xray';
import { generateCodecMatrix } from '../fixtures/codecs/codec-matrix';
import { generateCtSeries } from '../fixtures/ct-phantom';
import { writeDicomdirFixture } from '../fixtures/dicomdir';
import { generateReferralPacket, generateReportSr } from '../fixtures/referral-packet';
import { seedFile } from './mutate';
import type { SeedFile } from './mutate';

/** Bump when the generators change, so a cached corpus is rebuilt. */
const CORPUS_VERSION = 1;
export const DEFAULT_CORPUS_DIR = path.resolve('node_modules/.cache/telerad-fuzz', `corpus-v${CORPUS_VERSION}`);

const MAX_PER_SYNTAX = 3;

async function generate(): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  const patient = { patientName: 'FUZZ^SEED', patientId: 'FZ-1', patientBirthDate: '19700101', patientSex: 'F' as const, studyDate: '20261201' };
  const ct = generateCtSeries({ ...patient, slices: 2, rows: 48, columns: 48 });
  ct.instances.forEach((i, k) => (files[`ct-${k}.dcm`] = i.bytes));
  const xr = generateChestXray({ ...patient, rows: 64, columns: 48 });
  xr.instances.forEach((i, k) => (files[`xray-${k}.dcm`] = i.bytes));
  const study = { ...patient, studyInstanceUID: ct.studyInstanceUID };
  const packet = await generateReferralPacket({ ...study, referringClinician: 'DLAMINI^NOMSA^^DR', clinicalQuestion: 'Query pneumonia', photoRows: 32, photoColumns: 40 });
  files['referral-note.dcm'] = packet.note.bytes;
  if (packet.pdf) files['lab-pdf.dcm'] = packet.pdf.bytes;
  if (packet.photo) files['photo.dcm'] = packet.photo.bytes;
  files['report-sr.dcm'] = generateReportSr(study).bytes;
  const perSyntax = new Map<string, number>();
  for (const c of await generateCodecMatrix()) {
    const n = perSyntax.get(c.transferSyntaxUID) ?? 0;
    if (n >= MAX_PER_SYNTAX && !/PALETTE/i.test(c.name)) continue;
    perSyntax.set(c.transferSyntaxUID, n + 1);
    files[`codec-${c.name.replace(/[^A-Za-z0-9]+/g, '_')}.dcm`] = c.bytes;
  }
  const pdi = writeDicomdirFixture({ ctSlices: 1, rows: 16, columns: 16 });
  try {
    files['DICOMDIR'] = new Uint8Array(readFileSync(path.join(pdi.dir, 'DICOMDIR')));
  } finally {
    rmSync(pdi.dir, { recursive: true, force: true });
  }
  return files;
}

/** The seed files, from `dir` when a previous run left them there, else generated and stored. */
export async function loadCorpus(dir: string = DEFAULT_CORPUS_DIR): Promise<SeedFile[]> {
  if (!existsSync(path.join(dir, '.complete'))) {
    // Written aside and renamed into place: two test files generating at once must not see half a corpus.
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    for (const [name, bytes] of Object.entries(await generate())) writeFileSync(path.join(tmp, name), bytes);
    writeFileSync(path.join(tmp, '.complete'), new Date().toISOString());
    if (!existsSync(path.join(dir, '.complete'))) {
      rmSync(dir, { recursive: true, force: true });
      try {
        renameSync(tmp, dir);
      } catch {
        // Another process put its corpus there first: use that one.
      }
    }
    rmSync(tmp, { recursive: true, force: true });
  }
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.'))
    .sort()
    .map((n) => seedFile(n, new Uint8Array(readFileSync(path.join(dir, n)))));
}
