// `npm run qc` over folders a clinic would burn to a CD: real Part 10 files
// (dcmjs + dcmtk), the real CLI in a child process, its JSON and exit code.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QcReport } from '../../src/cli/qc';
import { generateCodecMatrix, TS } from '../fixtures/codecs/codec-matrix';
import { boxBlur } from '../fixtures/quality';
import { buildQcFolder, writeSeriesFiles } from '../fixtures/quality-dicom';
import type { QcFolder } from '../fixtures/quality-dicom';

const root = path.resolve(__dirname, '../..');

function qc(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('npm', ['run', '--silent', 'qc', '--', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run qc', () => {
  let folder: QcFolder;
  beforeAll(() => {
    folder = buildQcFolder();
  });
  afterAll(() => folder?.cleanup());

  it('names the lossy, uncalibrated, incomplete series, reports the unreadable files and exits 1', () => {
    const r = qc(folder.root, '--json');
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as QcReport;

    const mr = report.findings.filter((f) => f.seriesInstanceUID === folder.lossyMr.seriesInstanceUID);
    const byCheck = Object.fromEntries(mr.map((f) => [f.checkId, f]));
    expect(byCheck['suitability.lossy']!.message).toMatch(/^Lossy compressed \(JPEG extended, ratio [\d.–]+:1\): not for primary diagnosis/);
    expect(byCheck['suitability.calibration']!.severity).toBe('warning');
    expect(byCheck['geometry.missing-slices']!.severity).toBe('blocker');
    expect(byCheck['geometry.missing-slices']!.message).toContain(`instance number ${folder.lossyMr.missingInstanceNumber} absent`);
    // 12-bit JPEG extended has no decoder in Node: said so, not silently passed.
    expect(byCheck['acquisition.pixels-skipped']!.message).toContain('compressed (JPEG extended)');

    const file = (p: string): QcReport['files'][number] | undefined => report.files.find((f) => f.path === path.relative(folder.root, p));
    expect(file(folder.notDicom)).toMatchObject({ status: 'unreadable', reason: 'not-dicom: not a DICOM file' });
    expect(file(folder.truncated)).toMatchObject({ status: 'unreadable', worst: 'blocker' });
    expect(file(folder.truncated)!.reason).toMatch(/^truncated: Pixel Data declares \d+ bytes, \d+ present/);

    const good = report.series.find((s) => s.seriesInstanceUID === folder.goodCt.seriesInstanceUID);
    expect(good).toMatchObject({ modality: 'CT', images: folder.goodCt.files.length, worst: 'ok', findings: [] });
    for (const f of folder.goodCt.files) expect(file(f)).toMatchObject({ status: 'image', worst: 'ok' });
    expect(report.worst).toBe('blocker');
  });

  it('prints a table per file and per series without --json', () => {
    const r = qc(folder.root);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^Files$/m);
    expect(r.stdout).toMatch(/^Series$/m);
    expect(r.stdout).toMatch(/^README\.TXT\s+unreadable \(not-dicom: not a DICOM file\)/m);
    expect(r.stdout).toContain('BLOCKER geometry.missing-slices');
    expect(r.stdout).toMatch(/2 blocker\(s\), 2 warning\(s\), 2 note\(s\): NOT ready to send/);
  });
});

describe('npm run qc on compressed and clean folders', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('decodes a JPEG-LS series and finds its one blurred slice; exits 0 without blockers', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'telerad-qc-ls-'));
    dirs.push(dir);
    const series = writeSeriesFiles(dir, {
      modality: 'MR',
      slices: 8,
      size: 256,
      encode: 'jpeg-ls',
      alter: (k, px, n) => (k === 5 ? boxBlur(px, n, n, 2) : px),
    });
    const r = qc(dir, '--json');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as QcReport;
    expect(report.findings.map((f) => f.checkId)).toEqual(['acquisition.blur']);
    expect(report.findings[0]!.message).toMatch(/^Possible motion or blur: image 6 of 8/);
    expect(report.series).toEqual([expect.objectContaining({ seriesInstanceUID: series.seriesInstanceUID, worst: 'warning', images: 8 })]);
  });

  it('reads the files a DICOMDIR lists and blocks on one listed but missing from the media', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'telerad-qc-dicomdir-'));
    dirs.push(dir);
    writeSeriesFiles(dir, { modality: 'CT', slices: 4, size: 512 });
    // dcmmkdir invents the Study Time and Study ID the generated files leave out (+I).
    spawnSync('dcmmkdir', ['+I', '+r', 'CT0001', 'CT0002', 'CT0003', 'CT0004'], { cwd: dir });
    const complete = qc(path.join(dir, 'DICOMDIR'), '--json');
    expect(complete.status).toBe(0);
    expect((JSON.parse(complete.stdout) as QcReport).files.map((f) => [f.path, f.status])).toEqual([
      ['CT0001', 'image'],
      ['CT0002', 'image'],
      ['CT0003', 'image'],
      ['CT0004', 'image'],
      ['DICOMDIR', 'dicomdir'],
    ]);
    rmSync(path.join(dir, 'CT0003'));
    const r = qc(path.join(dir, 'DICOMDIR'), '--json');
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as QcReport;
    expect(report.files.find((f) => f.path === 'CT0003')).toMatchObject({ status: 'missing', worst: 'blocker' });
    expect(report.findings.map((f) => [f.checkId, f.severity])).toEqual([
      ['integrity.unreadable', 'blocker'],
      ['geometry.missing-slices', 'blocker'],
    ]);
  });

  it('prints only JSON on stdout over JPEG 2000, JPEG-LS and broken files', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'telerad-qc-codecs-'));
    dirs.push(dir);
    const cases = await generateCodecMatrix();
    const names = cases.map((c, i) => {
      const name = `M${String(i).padStart(3, '0')}.dcm`;
      writeFileSync(path.join(dir, name), c.bytes);
      return name;
    });
    const native = cases.find((c) => c.transferSyntaxUID === TS.explicitLE)!;
    writeFileSync(path.join(dir, 'CUT0001.dcm'), native.bytes.subarray(0, native.bytes.length - 10_000));
    writeFileSync(path.join(dir, 'README.TXT'), 'Patient CD. Open VIEWER.EXE to look at the images.\n');
    // A JPEG 2000 codestream whose SIZ marker is damaged: OpenJPEG reports [ERROR] lines, not only [INFO].
    const j2k = Uint8Array.from(cases.find((c) => c.transferSyntaxUID === TS.jpeg2000Lossless)!.bytes);
    const siz = j2k.findIndex((b, i) => b === 0xff && j2k[i + 1] === 0x4f && j2k[i + 2] === 0xff && j2k[i + 3] === 0x51);
    expect(siz).toBeGreaterThan(0);
    j2k[siz + 3] = 0x00;
    writeFileSync(path.join(dir, 'J2KBAD.dcm'), j2k);
    expect(cases.some((c) => c.transferSyntaxUID === TS.jpegLsLossless)).toBe(true);

    const r = qc(dir, '--json');
    // A script pipes stdout into a JSON parser: the codecs' chatter must not reach it.
    let report: QcReport | undefined;
    expect(() => (report = JSON.parse(r.stdout) as QcReport), `stdout starts ${JSON.stringify(r.stdout.slice(0, 80))}`).not.toThrow();
    expect(r.status).toBe(1);
    expect(report!.files.map((f) => f.path).sort()).toEqual([...names, 'CUT0001.dcm', 'J2KBAD.dcm', 'README.TXT'].sort());
    const file = (p: string): QcReport['files'][number] | undefined => report!.files.find((f) => f.path === p);
    expect(file('README.TXT')).toMatchObject({ status: 'unreadable', reason: 'not-dicom: not a DICOM file' });
    expect(file('CUT0001.dcm')).toMatchObject({ status: 'unreadable', worst: 'blocker' });
    expect(file('CUT0001.dcm')!.reason).toMatch(/^truncated: Pixel Data declares \d+ bytes, \d+ present/);
    expect(file('J2KBAD.dcm')!.findings).toContain('acquisition.pixels-skipped');
    expect(report!.findings.find((f) => f.checkId === 'acquisition.pixels-skipped' && f.evidence.instances.some((e) => e.source === 'J2KBAD.dcm'))!.message).toContain('compressed (JPEG 2000 lossless): the codestream is 0×0×0');
    // The codec lines are still there for whoever reads stderr.
    expect(r.stderr).toContain('[ERROR]');
  });

  it('says what is wrong with its arguments and exits 2', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'telerad-qc-args-'));
    dirs.push(empty);
    mkdirSync(path.join(empty, 'sub'));
    expect(qc().status).toBe(2);
    const missing = qc(path.join(empty, 'nowhere'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nowhere/);
    const nothing = qc(empty, '--json');
    expect(nothing.status).toBe(0);
    expect((JSON.parse(nothing.stdout) as QcReport).files).toEqual([]);
  });
});
