import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOP_CLASS, TRANSFER_SYNTAX, UnsupportedImageError, pdfToDicom, photoToDicom } from '../../../src/renderer/case-import/attachments-to-dicom';
import type { CaseDicomContext } from '../../../src/renderer/case-import/attachments-to-dicom';
import { importFiles } from '../../../src/renderer/case-import/import-files';
import { decodePng } from '../../../src/renderer/case-import/png-decode';
import { loadDcmjs } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import type { DcmjsRuntime } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import { dicomParser } from '../../../src/renderer/lib/dicom/dicom-parser';
import { EXIF_SECRETS, cameraJpeg, encodePng } from '../../fixtures/case-import-attachments';
import { entryFromBytes } from '../../fixtures/case-import-entries';
import { generateCtSeries } from '../../fixtures/ct-phantom';
import { labResultsPdf } from '../../fixtures/referral-packet';

const DCIODVFY = '/usr/bin/dciodvfy';
const DCMDJPEG = '/usr/bin/dcmdjpeg';

let dcmjs: DcmjsRuntime;
let tmp: string;
const ct = generateCtSeries({ patientName: 'NDLOVU^SIPHO', patientId: 'ZIT-20931', patientBirthDate: '19800212', patientSex: 'M', slices: 1, rows: 16, columns: 16, accessionNumber: 'A1001' });
const ctx: CaseDicomContext = {
  patientName: 'NDLOVU^SIPHO',
  patientId: 'ZIT-20931',
  patientBirthDate: '19800212',
  patientSex: 'M',
  studyInstanceUID: ct.studyInstanceUID,
  studyDate: '20261124',
  studyTime: '093000',
  accessionNumber: 'A1001',
  studyId: '1',
  description: 'Wound, left foot',
};

beforeAll(async () => {
  dcmjs = await loadDcmjs();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-attach-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function parse(bytes: ArrayBuffer): ReturnType<typeof dicomParser.parseDicom> {
  return dicomParser.parseDicom(new Uint8Array(bytes));
}

/** dicom3tools' IOD verifier: the error lines it prints (warnings ignored). */
function iodErrors(bytes: ArrayBuffer, name: string): string[] {
  const file = path.join(tmp, name);
  writeFileSync(file, new Uint8Array(bytes));
  const run = spawnSync(DCIODVFY, [file], { encoding: 'utf8' });
  return `${run.stdout}${run.stderr}`.split('\n').filter((l) => l.startsWith('Error'));
}

describe('a phone photo (JPEG) as a VL Photographic Image', () => {
  it('encapsulates the JPEG without re-encoding, drops its EXIF, and files it in the case study', async () => {
    const { jpeg, imageStream, rows, columns } = cameraJpeg();
    const obj = photoToDicom(jpeg, 'image/jpeg', ctx, { dcmjs });
    expect(obj.sopClassUID).toBe(SOP_CLASS.vlPhotographicImage);
    expect(obj.transferSyntaxUID).toBe(TRANSFER_SYNTAX.jpegBaseline);
    const ds = parse(obj.bytes);
    expect(ds.string('x00020010')).toBe('1.2.840.10008.1.2.4.50');
    expect([ds.uint16('x00280010'), ds.uint16('x00280011'), ds.uint16('x00280002')]).toEqual([rows, columns, 3]);
    expect(ds.string('x00280004')).toMatch(/^YBR_FULL(_422)?$/);
    expect(ds.string('x0020000d')).toBe(ct.studyInstanceUID);
    expect(ds.string('x00100010')).toBe('NDLOVU^SIPHO');
    expect(ds.string('x00100020')).toBe('ZIT-20931');
    expect(ds.string('x0008103e')).toBe('Wound, left foot');
    // The frame is the camera's image stream itself, only without its metadata segments.
    const px = ds.elements.x7fe00010!;
    const frame = dicomParser.readEncapsulatedPixelDataFromFragments(ds, px, 0, px.fragments!.length);
    expect(Buffer.from(frame.subarray(0, imageStream.length)).equals(Buffer.from(imageStream))).toBe(true);
    const latin1 = new TextDecoder('latin1').decode(obj.bytes);
    for (const secret of [...EXIF_SECRETS, 'Zithulele']) expect(latin1).not.toContain(secret);
    expect(iodErrors(obj.bytes, 'photo.dcm')).toEqual([]);
    // dcmtk decodes it: the pixel data is a valid JPEG baseline stream.
    execFileSync(DCMDJPEG, [path.join(tmp, 'photo.dcm'), path.join(tmp, 'photo-decoded.dcm')], { stdio: 'pipe' });
    expect(existsSync(path.join(tmp, 'photo-decoded.dcm'))).toBe(true);
    // And the import sees it in the same study as the CT.
    const imported = await importFiles([entryFromBytes('ct.dcm', ct.instances[0]!.bytes), entryFromBytes('photo.dcm', new Uint8Array(obj.bytes))]);
    expect(imported.studies).toHaveLength(1);
    expect(imported.studies[0]!.series.map((s) => s.modality).sort()).toEqual(['CT', 'XC']);
  });

  it('refuses a progressive JPEG with a message the user can act on', () => {
    const { jpeg } = cameraJpeg(16, 16);
    const progressive = jpeg.slice();
    const sof = progressive.findIndex((b, i) => b === 0xff && progressive[i + 1] === 0xc0);
    progressive[sof + 1] = 0xc2;
    expect(() => photoToDicom(progressive, 'image/jpeg', ctx, { dcmjs })).toThrow(UnsupportedImageError);
    expect(() => photoToDicom(progressive, 'image/jpeg', ctx, { dcmjs })).toThrow(/progressive JPEG: only baseline JPEG/);
  });
});

describe('a PNG as a Secondary Capture', () => {
  function rgbImage(width: number, height: number): Uint8Array {
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      rgb[i * 3] = (i * 7) & 0xff;
      rgb[i * 3 + 1] = (i * 13 + 50) & 0xff;
      rgb[i * 3 + 2] = (255 - i * 3) & 0xff;
    }
    return rgb;
  }

  it('decodes every PNG scanline filter back to the exact pixels', () => {
    const rgb = rgbImage(23, 11);
    expect(Buffer.from(decodePng(encodePng(rgb, 23, 11, 2)).rgb).equals(Buffer.from(rgb))).toBe(true);
    const grey = rgb.filter((_, i) => i % 3 === 0);
    const fromGrey = decodePng(encodePng(grey, 23, 11, 0)).rgb;
    expect([...fromGrey.subarray(0, 6)]).toEqual([grey[0], grey[0], grey[0], grey[1], grey[1], grey[1]]);
  });

  it('composites transparency over white', () => {
    const rgba = new Uint8Array([255, 0, 0, 255, 0, 0, 255, 0, 0, 0, 0, 128]);
    expect([...decodePng(encodePng(rgba, 3, 1, 6)).rgb]).toEqual([255, 0, 0, 255, 255, 255, 127, 127, 127]);
  });

  it('builds a valid Secondary Capture with the RGB pixels and the case attributes', () => {
    const rgb = rgbImage(40, 30);
    const obj = photoToDicom(encodePng(rgb, 40, 30, 2), 'image/png', ctx, { dcmjs });
    expect(obj.sopClassUID).toBe(SOP_CLASS.secondaryCapture);
    const ds = parse(obj.bytes);
    expect(ds.string('x00280004')).toBe('RGB');
    expect([ds.uint16('x00280010'), ds.uint16('x00280011')]).toEqual([30, 40]);
    expect(ds.string('x0020000d')).toBe(ct.studyInstanceUID);
    const px = ds.elements.x7fe00010!;
    expect(Buffer.from(new Uint8Array(obj.bytes, px.dataOffset, px.length)).equals(Buffer.from(rgb))).toBe(true);
    expect(iodErrors(obj.bytes, 'sc.dcm')).toEqual([]);
  });

  it('names what is wrong with a 16-bit or interlaced PNG, and with a GIF', () => {
    const png = encodePng(rgbImage(4, 4), 4, 4, 2);
    const sixteen = png.slice();
    sixteen[8 + 8 + 8] = 16; // IHDR bit depth
    expect(() => photoToDicom(sixteen, 'image/png', ctx, { dcmjs })).toThrow(/16-bit samples: only 8-bit PNGs/);
    expect(() => photoToDicom(new TextEncoder().encode('GIF89a'), 'image/gif', ctx, { dcmjs })).toThrow(/image\/gif cannot be attached as a photo: use JPEG or PNG/);
  });
});

describe('a PDF as an Encapsulated PDF', () => {
  it('carries the PDF bytes unchanged with its length, title and the case attributes', async () => {
    const pdf = await labResultsPdf('NDLOVU^SIPHO', 'ZIT-20931', 'Laboratory results');
    const obj = pdfToDicom(pdf, { ...ctx, description: 'Laboratory results' }, { dcmjs });
    expect(obj.sopClassUID).toBe(SOP_CLASS.encapsulatedPdf);
    const ds = parse(obj.bytes);
    expect(ds.string('x00420010')).toBe('Laboratory results');
    expect(ds.string('x00420012')).toBe('application/pdf');
    expect(ds.uint32('x00420015')).toBe(pdf.length);
    const doc = ds.elements.x00420011!;
    expect(Buffer.from(new Uint8Array(obj.bytes, doc.dataOffset, pdf.length)).equals(Buffer.from(pdf))).toBe(true);
    expect(ds.string('x0020000d')).toBe(ct.studyInstanceUID);
    expect(iodErrors(obj.bytes, 'pdf.dcm')).toEqual([]);
  });

  it('refuses a file that is not a PDF', () => {
    expect(() => pdfToDicom(new TextEncoder().encode('hello'), ctx, { dcmjs })).toThrow(/not a PDF file/);
  });
});
