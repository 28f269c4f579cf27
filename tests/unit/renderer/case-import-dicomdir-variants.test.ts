// DICOMDIRs as burners other than dcmmkdir write them — big endian, implicit
// VR, records stored out of chain order, no offsets, another file name — are
// index files of a good CD, not damaged images: the import names them as an
// index read for the file list and imports what they list.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importFiles } from '../../../src/renderer/case-import/import-files';
import { readDicom } from '../../../src/renderer/case-import/read-instance';
import type { ImportResult } from '../../../src/renderer/case-import/import-types';
import { readDicomdir } from '../../../src/shared/dicom/dicomdir';
import type { DicomdirReference } from '../../../src/shared/dicom/dicomdir';
import { entriesFromDirectory } from '../../fixtures/case-import-entries';
import { writeDicomdirFixture } from '../../fixtures/dicomdir';
import type { DicomdirFixture, DicomdirOptions } from '../../fixtures/dicomdir';

const INDEX_NOTE = 'DICOMDIR index, read for the file list';
const DCMCONV = '/usr/bin/dcmconv';

const fixtures: DicomdirFixture[] = [];
afterAll(() => {
  for (const f of fixtures) f.cleanup();
});

function cdWith(opts: DicomdirOptions): DicomdirFixture {
  const f = writeDicomdirFixture({ ctSlices: 3, rows: 32, columns: 32, ...opts });
  fixtures.push(f);
  return f;
}

/** The DICOMDIR rewritten by dcmconv (`+tb` big endian, `+ti` implicit VR): the tool keeps the offsets as they were. */
function convertedByDcmconv(f: DicomdirFixture, flag: '+tb' | '+ti'): void {
  const file = path.join(f.dir, f.dicomdirFile);
  execFileSync(DCMCONV, [flag, file, `${file}.new`], { stdio: 'pipe', timeout: 30_000 });
  writeFileSync(file, readFileSync(`${file}.new`));
  execFileSync('rm', [`${file}.new`]);
}

function sopUids(result: ImportResult): string[] {
  return result.studies.flatMap((s) => s.series.flatMap((se) => se.instances.map((i) => i.sopInstanceUID))).sort();
}

/** The CD imported from under a folder two levels down (a USB stick's copy), and the DICOMDIR's path in the result. */
async function importCd(f: DicomdirFixture): Promise<{ result: ImportResult; dicomdirPath: string }> {
  const prefix = 'USB/referral';
  return { result: await importFiles(entriesFromDirectory(f.dir, prefix)), dicomdirPath: `${prefix}/${f.dicomdirFile}` };
}

/** What every readable variant must give: the index named as such, nothing skipped, every listed image imported through the list. */
function expectReadAsIndex(f: DicomdirFixture, result: ImportResult, dicomdirPath: string): void {
  expect(result.skipped.filter((s) => /dicomdir/i.test(s.path))).toEqual([]);
  expect(result.skipped).toEqual([]);
  expect(result.indexes).toEqual([{ path: dicomdirPath, note: INDEX_NOTE }]);
  expect(sopUids(result)).toEqual([...f.ct.instances, ...f.xr.instances].map((i) => i.sopInstanceUID).sort());
  expect(result.dicomdirs).toEqual([{ path: dicomdirPath, records: { PATIENT: 1, STUDY: 2, SERIES: 2, IMAGE: 4 }, referenced: 4, missing: 0 }]);
  // Every image was found through the DICOMDIR's list, so none is "not listed".
  expect(result.unreferenced).toEqual([]);
}

/** Which series and study each referenced file was listed under. */
function hierarchyOf(f: DicomdirFixture): Pick<DicomdirReference, 'fileId' | 'patientId' | 'studyInstanceUID' | 'seriesInstanceUID'>[] {
  const read = readDicom(new Uint8Array(readFileSync(path.join(f.dir, f.dicomdirFile))));
  if (!read.ok) throw new Error(read.reason);
  return readDicomdir(read.dataSet, f.dicomdirFile)
    .references.map(({ fileId, patientId, studyInstanceUID, seriesInstanceUID }) => ({ fileId, patientId, studyInstanceUID, seriesInstanceUID }))
    .sort((a, b) => a.fileId.localeCompare(b.fileId));
}

function expectedHierarchy(f: DicomdirFixture): ReturnType<typeof hierarchyOf> {
  const ct = { patientId: 'ZIT-20931', studyInstanceUID: f.ct.studyInstanceUID, seriesInstanceUID: f.ct.seriesInstanceUID };
  const xr = { patientId: 'ZIT-20931', studyInstanceUID: f.xr.studyInstanceUID, seriesInstanceUID: f.xr.seriesInstanceUID };
  return [...f.ctFiles.map((fileId) => ({ fileId, ...ct })), { fileId: f.xrFile, ...xr }].sort((a, b) => a.fileId.localeCompare(b.fileId));
}

describe('a valid DICOMDIR in another encoding or layout is an index, not a malformed image', () => {
  it.each([
    ['written as explicit VR big endian', (): DicomdirFixture => cdWith({ syntax: 'explicit-be' })],
    [
      'converted to big endian by dcmconv +tb',
      (): DicomdirFixture => {
        const f = cdWith({});
        convertedByDcmconv(f, '+tb');
        return f;
      },
    ],
  ])('names a big-endian DICOMDIR as an index, never as a malformed image (%s)', async (_how, make) => {
    const f = make();
    const { result, dicomdirPath } = await importCd(f);
    expectReadAsIndex(f, result, dicomdirPath);
    expect(hierarchyOf(f)).toEqual(expectedHierarchy(f));
  });

  it.each([
    ['written as implicit VR little endian', (): DicomdirFixture => cdWith({ syntax: 'implicit-le' })],
    [
      // dcmconv keeps the explicit-VR offsets, which then land inside records: the stored order must be used instead.
      'converted to implicit VR by dcmconv +ti, its offsets stale',
      (): DicomdirFixture => {
        const f = cdWith({});
        convertedByDcmconv(f, '+ti');
        return f;
      },
    ],
  ])('names an implicit-VR DICOMDIR as an index, never as a malformed image (%s)', async (_how, make) => {
    const f = make();
    const { result, dicomdirPath } = await importCd(f);
    expectReadAsIndex(f, result, dicomdirPath);
    expect(hierarchyOf(f)).toEqual(expectedHierarchy(f));
  });

  it('reads a DICOMDIR whose records are stored in another order than their offsets chain them, the hierarchy from the offsets', async () => {
    // Reversed: every IMAGE stored before its SERIES, so the stored order alone would put them under no series.
    const f = cdWith({ order: 'reversed' });
    const { result, dicomdirPath } = await importCd(f);
    expectReadAsIndex(f, result, dicomdirPath);
    expect(hierarchyOf(f)).toEqual(expectedHierarchy(f));
  });

  it.each(['zero', 'absent'] as const)(
    'reads a DICOMDIR with its offsets %s in stored order, inferring PATIENT > STUDY > SERIES > IMAGE',
    async (offsets) => {
      const f = cdWith({ offsets, syntax: 'implicit-le' });
      const { result, dicomdirPath } = await importCd(f);
      expectReadAsIndex(f, result, dicomdirPath);
      expect(hierarchyOf(f)).toEqual(expectedHierarchy(f));
    },
  );

  it.each(['DICOMDIR.DCM', 'dicomdir.bak'])(
    'recognises a DICOMDIR saved as %s by its content, and does not call it "malformed DICOM: no Study Instance UID"',
    async (dicomdirName) => {
      const f = cdWith({ dicomdirName, syntax: 'explicit-be' });
      const { result, dicomdirPath } = await importCd(f);
      expectReadAsIndex(f, result, dicomdirPath);
    },
  );
});

describe('a DICOMDIR that cannot be read', () => {
  it.each([
    [
      'cut off inside its records',
      (bytes: Uint8Array): Uint8Array => bytes.subarray(0, Math.floor(bytes.length / 2)),
      /^DICOMDIR index unreadable: truncated: .+; the files next to it are imported without it$/,
    ],
    ['garbage', (): Uint8Array => new TextEncoder().encode('this CD was burnt by NERO 6\r\n'.repeat(20)), /^DICOMDIR index unreadable: not a DICOM file; the files next to it are imported without it$/],
  ])('says "DICOMDIR index unreadable: <reason>" for one %s and still imports the files next to it', async (_what, damage, reason) => {
    const f = cdWith({});
    const file = path.join(f.dir, f.dicomdirFile);
    writeFileSync(file, damage(new Uint8Array(readFileSync(file))));
    const { result, dicomdirPath } = await importCd(f);

    expect(result.skipped).toEqual([{ path: dicomdirPath, kind: 'unreadable', reason: expect.stringMatching(reason) }]);
    expect(result.skipped.filter((s) => s.kind === 'malformed')).toEqual([]);
    expect(result.indexes).toEqual([]);
    expect(result.dicomdirs).toEqual([]);
    expect(sopUids(result)).toEqual([...f.ct.instances, ...f.xr.instances].map((i) => i.sopInstanceUID).sort());
  });
});
