import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityConflicts, importFiles } from '../../../src/renderer/case-import/import-files';
import { createLogger } from '../../../src/shared/log';
import type { LogRecord } from '../../../src/shared/log';
import type { ImportResult } from '../../../src/renderer/case-import/import-types';
import { entriesFromDirectory, entryFromBytes, zipOfDirectory } from '../../fixtures/case-import-entries';
import { writeDicomdirFixture } from '../../fixtures/dicomdir';
import type { DicomdirFixture } from '../../fixtures/dicomdir';
import { generateCtSeries } from '../../fixtures/ct-phantom';

// One CD per test group, made with the real dcmmkdir; each test copies what it alters.
let cd: DicomdirFixture;
const copies: string[] = [];

beforeAll(() => {
  cd = writeDicomdirFixture({ ctSlices: 5 });
});
afterAll(() => {
  cd?.cleanup();
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

function sopUids(result: ImportResult): string[] {
  return result.studies.flatMap((s) => s.series.flatMap((se) => se.instances.map((i) => i.sopInstanceUID))).sort();
}

function copyOfCd(name: string): string {
  const dir = path.join(cd.dir, '..', `${path.basename(cd.dir)}-${name}`);
  rmSync(dir, { recursive: true, force: true });
  copies.push(dir);
  mkdirSync(path.join(dir, 'IMAGES', 'CT'), { recursive: true });
  mkdirSync(path.join(dir, 'IMAGES', 'XR'), { recursive: true });
  for (const rel of ['DICOMDIR', ...cd.ctFiles, cd.xrFile]) copyFileSync(path.join(cd.dir, rel), path.join(dir, rel));
  return dir;
}

/** The bytes of a CT slice cut off `keep` bytes into its Pixel Data. */
function truncatedSlice(): { bytes: Uint8Array; declared: number; present: number } {
  const full = cd.ct.instances[0]!.bytes;
  const declared = 64 * 64 * 2;
  const pixelStart = full.length - declared;
  const present = 1000;
  return { bytes: full.subarray(0, pixelStart + present), declared, present };
}

describe('import from a CD with a DICOMDIR (IHE PDI)', () => {
  it('imports what the DICOMDIR references and reports the referenced file that is missing', async () => {
    const dir = copyOfCd('missing');
    unlinkSync(path.join(dir, 'IMAGES/CT/IM3'));
    const result = await importFiles(entriesFromDirectory(dir, 'CDROM'));

    expect(result.skipped).toEqual([{ path: 'CDROM/IMAGES/CT/IM3', kind: 'missing', reason: 'DICOMDIR references IMAGES/CT/IM3 which is missing' }]);
    // The DICOMDIR itself is information, not a skipped file.
    expect(result.indexes).toEqual([{ path: 'CDROM/DICOMDIR', note: 'DICOMDIR index, read for the file list' }]);
    expect(result.dicomdirs).toEqual([
      { path: 'CDROM/DICOMDIR', records: { PATIENT: 1, STUDY: 2, SERIES: 2, IMAGE: 6 }, referenced: 6, missing: 1 },
    ]);
    const expected = [...cd.ct.instances.filter((_, i) => i !== 2), ...cd.xr.instances].map((i) => i.sopInstanceUID).sort();
    expect(sopUids(result)).toEqual(expected);
    expect(result.instanceCount).toBe(5);
    expect(result.unreferenced).toEqual([]);
    const ct = result.studies.find((s) => s.studyInstanceUID === cd.ct.studyInstanceUID)!;
    expect(ct.series).toHaveLength(1);
    expect(ct.series[0]!.modality).toBe('CT');
    expect(ct.series[0]!.instances.map((i) => i.instanceNumber)).toEqual([1, 2, 4, 5]);
    expect(ct.patient).toEqual({ name: 'NDLOVU^SIPHO', id: 'ZIT-20931', birthDate: '19800212', sex: 'M' });
    const first = ct.series[0]!.instances[0]!;
    expect(first.transferSyntaxUID).toBe('1.2.840.10008.1.2.1');
    expect(first.sopClassUID).toBe('1.2.840.10008.5.1.4.1.1.2');
    // The bytes are kept as read, ready for the viewer and the outbox.
    expect(Buffer.from(first.bytes).equals(Buffer.from(cd.ct.instances[0]!.bytes))).toBe(true);
    expect(first.size).toBe(cd.ct.instances[0]!.bytes.length);
  });

  it('gives the same report from a zip of that CD', async () => {
    const dir = copyOfCd('missing-zip');
    unlinkSync(path.join(dir, 'IMAGES/CT/IM3'));
    const result = await importFiles([zipOfDirectory(dir, 'cd.zip')]);
    expect(result.skipped).toEqual([{ path: 'cd.zip/IMAGES/CT/IM3', kind: 'missing', reason: 'DICOMDIR references IMAGES/CT/IM3 which is missing' }]);
    expect(result.dicomdirs.map((d) => [d.path, d.referenced, d.missing])).toEqual([['cd.zip/DICOMDIR', 6, 1]]);
    expect(result.instanceCount).toBe(5);
  });

  it('matches the DICOMDIR against a CD mounted lower case (Linux, copied to USB), ignoring ;1 versions', async () => {
    const dir = copyOfCd('lower');
    renameSync(path.join(dir, 'IMAGES'), path.join(dir, 'images'));
    renameSync(path.join(dir, 'images', 'CT'), path.join(dir, 'images', 'ct'));
    renameSync(path.join(dir, 'images', 'ct', 'IM1'), path.join(dir, 'images', 'ct', 'im1;1'));
    renameSync(path.join(dir, 'DICOMDIR'), path.join(dir, 'dicomdir'));
    const result = await importFiles(entriesFromDirectory(dir, 'usb'));
    expect(result.skipped).toEqual([]);
    expect(result.dicomdirs[0]!.missing).toBe(0);
    expect(result.instanceCount).toBe(6);
    expect(result.unreferenced).toEqual([]);
  });

  it('imports files next to the DICOMDIR that it does not list, and says which', async () => {
    const dir = copyOfCd('extra');
    const extra = generateCtSeries({ patientName: 'NDLOVU^SIPHO', patientId: 'ZIT-20931', slices: 1, rows: 32, columns: 32 });
    writeFileSync(path.join(dir, 'IMAGES', 'EXTRA1'), extra.instances[0]!.bytes);
    const result = await importFiles(entriesFromDirectory(dir, 'CD'));
    expect(result.unreferenced).toEqual(['CD/IMAGES/EXTRA1']);
    expect(result.instanceCount).toBe(7);
  });
});

describe('import from a folder with things that are not DICOM', () => {
  let folder: string;

  beforeAll(() => {
    folder = copyOfCd('mixed');
    rmSync(path.join(folder, 'DICOMDIR'));
    writeFileSync(path.join(folder, 'README.TXT'), 'Patient CD. Insert into any PC.\r\n');
    // A real JPEG header (SOI + JFIF APP0): a phone photo someone dropped into the folder.
    writeFileSync(path.join(folder, 'IMAGES', 'photo.jpg'), Buffer.from('ffd8ffe000104a46494600010100000100010000ffd9', 'hex'));
    writeFileSync(path.join(folder, 'IMAGES', 'CT', 'IM6'), truncatedSlice().bytes);
    // An old modality's file: the data set without preamble and meta header.
    const part10 = cd.xr.instances[0]!.bytes;
    const metaLength = Buffer.from(part10).readUInt32LE(132 + 8);
    writeFileSync(path.join(folder, 'RAWXR'), part10.subarray(132 + 12 + metaLength));
    // The same slice twice (copied by hand into another folder).
    mkdirSync(path.join(folder, 'COPY'));
    copyFileSync(path.join(folder, 'IMAGES', 'CT', 'IM2'), path.join(folder, 'COPY', 'IM2'));
  });

  function expectMixedResult(result: ImportResult, prefix: string): void {
    const { declared, present } = truncatedSlice();
    expect(result.skipped).toEqual(
      expect.arrayContaining([
        { path: `${prefix}/README.TXT`, kind: 'not-dicom', reason: 'not a DICOM file' },
        { path: `${prefix}/IMAGES/photo.jpg`, kind: 'not-dicom', reason: 'not a DICOM file' },
        { path: `${prefix}/IMAGES/CT/IM6`, kind: 'truncated', reason: `truncated: Pixel Data declares ${declared} bytes, ${present} present` },
        { path: `${prefix}/IMAGES/CT/IM2`, kind: 'duplicate', reason: `duplicate of ${prefix}/COPY/IM2 (same SOP Instance UID)` },
      ]),
    );
    expect(result.skipped).toHaveLength(4);
    // The five CT slices and the X-ray, once each.
    const all = sopUids(result);
    expect(all).toEqual([...cd.ct.instances, ...cd.xr.instances].map((i) => i.sopInstanceUID).sort());
  }

  it('skips each non-DICOM, truncated or duplicate file with its reason and imports the rest', async () => {
    const entries = entriesFromDirectory(folder, 'FOLDER').filter((e) => !e.path.endsWith('RAWXR'));
    expectMixedResult(await importFiles(entries), 'FOLDER');
  });

  it('writes every skipped file and its reason to the log, and a summary', async () => {
    const records: LogRecord[] = [];
    const log = createLogger('case-import', (r) => records.push(r));
    const entries = entriesFromDirectory(folder, 'FOLDER').filter((e) => !e.path.endsWith('RAWXR'));
    await importFiles(entries, { log });
    const warnings = records.filter((r) => r.level === 'warn').map((r) => r.message);
    expect(warnings).toContain('import: skipped FOLDER/README.TXT: not a DICOM file');
    expect(warnings.some((w) => w.startsWith('import: skipped FOLDER/IMAGES/CT/IM6: truncated: Pixel Data declares'))).toBe(true);
    expect(records.filter((r) => r.level === 'info').map((r) => r.message)).toEqual(['import: 6 instances in 2 studies, 4 skipped']);
  });

  it('reads a data set without the Part 10 preamble (group 0008 first)', async () => {
    const result = await importFiles([entryFromBytes('RAWXR', new Uint8Array(readFileSync(path.join(folder, 'RAWXR'))))]);
    expect(result.skipped).toEqual([]);
    const inst = result.studies[0]!.series[0]!.instances[0]!;
    expect(inst.sopInstanceUID).toBe(cd.xr.instances[0]!.sopInstanceUID);
    expect(inst.transferSyntaxUID).toBe('1.2.840.10008.1.2.1');
    expect(inst.modality).toBe('DX');
  });

  it('gives the same result from a zip of the folder', async () => {
    const zip = zipOfDirectory(folder, 'referral.zip');
    const withoutRaw = await importFiles([zip]);
    // The zip holds RAWXR too: the same X-ray without preamble, reported as a duplicate of IMAGES/XR/IM1 or vice versa.
    const rawDuplicate = withoutRaw.skipped.filter((s) => s.kind === 'duplicate' && /XR/.test(s.path + s.reason));
    expect(rawDuplicate).toHaveLength(1);
    expectMixedResult({ ...withoutRaw, skipped: withoutRaw.skipped.filter((s) => !rawDuplicate.includes(s)) }, 'referral.zip');
  });

  it('reports a damaged zip instead of failing the import', async () => {
    const zip = await zipOfDirectory(folder, 'bad.zip').read();
    const cut = new Uint8Array(zip).subarray(0, 200);
    const result = await importFiles([entryFromBytes('bad.zip', cut), entriesFromDirectory(folder, 'F').find((e) => e.path === 'F/IMAGES/XR/IM1')!]);
    expect(result.skipped).toHaveLength(1);
    expect(result.skipped[0]).toMatchObject({ path: 'bad.zip', kind: 'unreadable' });
    expect(result.skipped[0]!.reason).toMatch(/^not a readable zip file/);
    expect(result.instanceCount).toBe(1);
  });
});

describe('patient identities in one import', () => {
  it('lists both identities when the CT and the X-ray name different patients', async () => {
    const two = writeDicomdirFixture({ ctSlices: 2, xrPatientName: 'NDLOVU^S', xrPatientId: 'ZIT-20913', xrPatientBirthDate: '19802012' });
    try {
      const result = await importFiles(entriesFromDirectory(two.dir));
      const groups = identityConflicts(result);
      expect(groups.map((g) => ({ ...g.identity, studies: g.studyInstanceUIDs, n: g.instanceCount }))).toEqual([
        { name: 'NDLOVU^SIPHO', id: 'ZIT-20931', birthDate: '19800212', sex: 'M', studies: [two.ct.studyInstanceUID], n: 2 },
        { name: 'NDLOVU^S', id: 'ZIT-20913', birthDate: '19802012', sex: 'M', studies: [two.xr.studyInstanceUID], n: 1 },
      ]);
    } finally {
      two.cleanup();
    }
  });

  it('sees one patient when the only differences are case and trailing PN separators', async () => {
    const a = generateCtSeries({ patientName: 'NDLOVU^SIPHO', patientId: 'ZIT-20931', slices: 1, rows: 16, columns: 16 });
    const b = generateCtSeries({ patientName: 'Ndlovu^Sipho^^', patientId: 'ZIT-20931', slices: 1, rows: 16, columns: 16 });
    const result = await importFiles([entryFromBytes('a.dcm', a.instances[0]!.bytes), entryFromBytes('b.dcm', b.instances[0]!.bytes)]);
    expect(identityConflicts(result)).toHaveLength(1);
  });
});
