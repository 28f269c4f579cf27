// `npm run qc -- <folder | DICOMDIR> [--json]`: the image quality checks over
// a folder (recursively) or the files a DICOMDIR lists — what a clinic or a
// PACS administrator runs on a CD before sending it. Exit code 0 when nothing
// is a blocker, 1 when something is, 2 on a usage error.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { readDicomdir, mediaKey, isDicomdirPath } from '../shared/dicom/dicomdir';
import { runQualityChecks, summarizeFindings, worstSeverity } from '../shared/quality';
import type { Finding, ImageFacts, QualityLevel } from '../shared/quality';
import { loadDecoders } from './qc-codecs';
import type { Decoders } from './qc-codecs';
import { readFileFacts } from './qc-facts';
import { errorMessage } from '../shared/error-message';

const USAGE = 'usage: npm run qc -- <folder | DICOMDIR> [--json]\n';

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (entry.isFile()) out.push(full);
  }
}

export interface QcFileReport {
  path: string;
  status: 'image' | 'unreadable' | 'dicomdir' | 'missing';
  reason?: string;
  sopInstanceUID?: string;
  seriesInstanceUID?: string;
  modality?: string;
  instanceNumber?: number;
  worst: QualityLevel;
  findings: string[];
}

export interface QcSeriesReport {
  seriesInstanceUID: string;
  studyInstanceUID?: string;
  modality?: string;
  images: number;
  worst: QualityLevel;
  findings: string[];
}

export interface QcReport {
  root: string;
  worst: QualityLevel;
  counts: Record<'blocker' | 'warning' | 'info', number>;
  files: QcFileReport[];
  series: QcSeriesReport[];
  findings: Finding[];
}

/** Runs the checks over `target` (a folder or a DICOMDIR file). */
export function runQc(target: string, decoders?: Decoders): QcReport {
  const abs = path.resolve(target);
  const isFile = statSync(abs).isFile();
  const root = isFile ? path.dirname(abs) : abs;
  const all: string[] = [];
  walk(root, all);
  const rel = (p: string): string => path.relative(root, p).split(path.sep).join('/');

  // With a DICOMDIR given, its records choose the files; in a folder every file is read and a DICOMDIR only adds "missing" checks.
  const byKey = new Map(all.map((p) => [mediaKey(rel(p)), p]));
  const dicomdirs = isFile ? [abs] : all.filter((p) => isDicomdirPath(rel(p)));
  const listed = new Set<string>();
  const missingFromMedia: string[] = [];
  for (const d of dicomdirs) {
    const reading = readFileFacts(readFileSync(d), rel(d));
    if (reading.kind !== 'dicomdir') continue;
    for (const ref of readDicomdir(reading.dataSet, rel(d)).references) {
      const found = byKey.get(mediaKey(ref.path));
      if (found) listed.add(found);
      else missingFromMedia.push(ref.path);
    }
  }
  const files = isFile ? [abs, ...listed] : all;

  const facts: ImageFacts[] = missingFromMedia.map((p) => ({ source: p, unreadable: { kind: 'missing', reason: 'listed in the DICOMDIR, not on the media' } }));
  const reports: QcFileReport[] = missingFromMedia.map((p) => ({ path: p, status: 'missing', reason: 'missing: listed in the DICOMDIR, not on the media', worst: 'blocker', findings: [] }));
  for (const file of [...new Set(files)].sort()) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      // An unreadable sector or a permission problem: reported like a corrupt file, and the run goes on.
      const reason = `cannot be read: ${errorMessage(e)}`;
      facts.push({ source: rel(file), unreadable: { kind: 'malformed', reason } });
      reports.push({ path: rel(file), status: 'unreadable', reason: `malformed: ${reason}`, worst: 'ok', findings: [] });
      continue;
    }
    const reading = readFileFacts(bytes, rel(file), decoders);
    if (reading.kind === 'dicomdir') {
      reports.push({ path: rel(file), status: 'dicomdir', worst: 'ok', findings: [] });
      continue;
    }
    facts.push(reading.facts);
    const f = reading.facts;
    const r: QcFileReport = { path: f.source, status: reading.kind, worst: 'ok', findings: [] };
    if (f.unreadable) r.reason = `${f.unreadable.kind}: ${f.unreadable.reason}`;
    if (f.sopInstanceUID) r.sopInstanceUID = f.sopInstanceUID;
    if (f.seriesInstanceUID) r.seriesInstanceUID = f.seriesInstanceUID;
    if (f.modality) r.modality = f.modality;
    if (f.instanceNumber !== undefined) r.instanceNumber = f.instanceNumber;
    reports.push(r);
  }

  const findings = runQualityChecks(facts);
  const summary = summarizeFindings(findings);
  for (const r of reports) {
    // A file's findings: those whose evidence names it, and series-wide ones of its series.
    const mine = findings.filter((f) => f.evidence.instances.some((e) => e.source === r.path) || (r.seriesInstanceUID && f.seriesInstanceUID === r.seriesInstanceUID && !f.evidence.instances.length));
    r.worst = worstSeverity(mine);
    r.findings = [...new Set(mine.map((f) => f.checkId))];
  }
  const series = new Map<string, QcSeriesReport>();
  for (const f of facts) {
    if (f.unreadable || !f.seriesInstanceUID) continue;
    const s = series.get(f.seriesInstanceUID);
    if (s) s.images++;
    else {
      const entry: QcSeriesReport = { seriesInstanceUID: f.seriesInstanceUID, images: 1, worst: summary.bySeries[f.seriesInstanceUID] ?? 'ok', findings: [] };
      if (f.studyInstanceUID) entry.studyInstanceUID = f.studyInstanceUID;
      if (f.modality) entry.modality = f.modality;
      entry.findings = [...new Set(findings.filter((x) => x.seriesInstanceUID === f.seriesInstanceUID).map((x) => x.checkId))];
      series.set(f.seriesInstanceUID, entry);
    }
  }
  return { root, worst: summary.worst, counts: summary.counts, files: reports, series: [...series.values()], findings };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + '\n';
}

const short = (uid: string): string => (uid.length > 24 ? `…${uid.slice(-20)}` : uid);

export function formatReport(report: QcReport): string {
  let out = `Quality checks: ${report.root}\n\nFiles\n`;
  out += table([
    ['file', 'status', 'modality', 'instance', 'worst', 'findings'],
    ...report.files.map((f) => [f.path, f.reason ? (f.status === 'missing' ? f.reason : `unreadable (${f.reason})`) : f.status, f.modality ?? '', f.instanceNumber?.toString() ?? '', f.worst, f.findings.join(' ')]),
  ]);
  out += '\nSeries\n';
  out += table([
    ['series', 'modality', 'images', 'worst', 'findings'],
    ...report.series.map((s) => [short(s.seriesInstanceUID), s.modality ?? '', String(s.images), s.worst, s.findings.join(' ')]),
  ]);
  out += '\nFindings\n';
  if (!report.findings.length) out += '  none\n';
  for (const f of report.findings) out += `  ${f.severity.toUpperCase().padEnd(7)} ${f.checkId}: ${f.message}\n`;
  const c = report.counts;
  out += `\n${c.blocker} blocker(s), ${c.warning} warning(s), ${c.info} note(s): ${report.worst === 'blocker' ? 'NOT ready to send' : 'no blockers'}\n`;
  return out;
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const targets = argv.filter((a) => !a.startsWith('--'));
  if (targets.length !== 1 || argv.includes('--help')) {
    process.stderr.write(USAGE);
    return 2;
  }
  let report: QcReport;
  try {
    report = runQc(targets[0]!, await loadDecoders());
  } catch (e) {
    process.stderr.write(`qc: cannot read ${targets[0]}: ${errorMessage(e)}\n${USAGE}`);
    return 2;
  }
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.worst === 'blocker' ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  process.exitCode = await main(process.argv.slice(2));
}
