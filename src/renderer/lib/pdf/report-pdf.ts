import type { PDFFont, PDFPage } from 'pdf-lib';
import { formatDicomDate, formatPersonName } from '../../../shared/dicom/dicomweb-json';
import type { ReportPriority } from '../clinical-types';
import type { AnnotationRecord } from '../clinical-types';
import type { ImageReference, ReportBuildInput, ReportGraphic } from '../dicom/report-dicom-types';

/**
 * The report as a readable PDF (pdf-lib; standard fonts only, no eval — it
 * runs under the renderer's strict CSP): title, patient and study, priority
 * and critical finding, the narrative sections, a measurements table, and
 * who signed it when. For sites and people that cannot render an SR.
 * Deterministic: no "now", the dates are the signing time's.
 */

export interface PdfMeasurement {
  annotation: Pick<AnnotationRecord, 'id' | 'tool'>;
  image: ImageReference;
  graphic: ReportGraphic;
}

const A4: [number, number] = [595.28, 841.89];
const MARGIN = 56;
const BODY = 10.5;
const LEADING = 1.45;

const PRIORITY_LABEL: Record<ReportPriority, string> = { routine: 'Routine', urgent: 'URGENT', stat: 'STAT' };

const TOOL_LABEL: Record<string, string> = {
  Length: 'Length',
  EllipticalRoi: 'Ellipse ROI',
  RectangleRoi: 'Rectangle ROI',
  Angle: 'Angle',
  CobbAngle: 'Cobb angle',
  Probe: 'Probe',
  ArrowAnnotate: 'Arrow',
  TextMarker: 'Text',
};

const UNIT_LABEL: Record<string, string> = { mm: 'mm', mm2: 'mm²', deg: '°', "[hnsf'U]": 'HU', '{pixels}': 'px', '{pixels2}': 'px²', '1': '' };

/** "2026-12-01 14:05 UTC+01:00": the signing time as the reader wrote it. */
export function formatReportTime(ms: number, offsetMinutes = 0): string {
  const d = new Date(ms + offsetMinutes * 60_000);
  const p = (n: number): string => String(n).padStart(2, '0');
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const zone = offsetMinutes === 0 ? 'UTC' : `UTC${sign}${p(Math.floor(abs / 60))}:${p(abs % 60)}`;
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())} ${zone}`;
}

function formatValue(value: number, unit: string): string {
  const digits = Math.abs(value) >= 100 ? 0 : 1;
  const label = UNIT_LABEL[unit] ?? unit;
  return label === '°' ? `${value.toFixed(1)}°` : `${value.toFixed(digits)}${label ? ` ${label}` : ''}`;
}

/** The figures of one measurement in a line: "Mean 41.2 HU, SD 5.3 HU, … Area 310.2 mm²". */
export function measurementSummary(graphic: ReportGraphic): string {
  if (graphic.kind === 'comment') return `"${graphic.text}"`;
  const short: Record<string, string> = { 'Standard Deviation': 'SD', Minimum: 'Min', Maximum: 'Max' };
  if (graphic.values.length === 1) return formatValue(graphic.values[0]!.value, graphic.values[0]!.unit.value);
  return graphic.values.map((v) => `${short[v.concept.meaning] ?? v.concept.meaning} ${formatValue(v.value, v.unit.value)}`).join(', ');
}

function shortUid(uid: string): string {
  return uid.length > 14 ? `…${uid.slice(-12)}` : uid;
}

export async function renderReportPdf(input: ReportBuildInput, measurements: PdfMeasurement[]): Promise<Uint8Array> {
  const { PDFDocument, StandardFonts, rgb } = await import('pdf-lib');
  const offset = input.timezoneOffsetMinutes ?? 0;
  const signed = new Date(input.signedAt);
  // No automatic metadata: it would stamp "now" and make every build differ.
  const doc = await PDFDocument.create({ updateMetadata: false });
  doc.setTitle(input.title);
  doc.setAuthor(`${input.author.name}${input.author.credentials ? `, ${input.author.credentials}` : ''}`);
  doc.setSubject(`${formatPersonName(input.study.patientName)} (${input.study.patientId})`);
  doc.setProducer('Telerad Workstation (pdf-lib)');
  doc.setCreator('Telerad Workstation');
  doc.setCreationDate(signed);
  doc.setModificationDate(signed);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const black = rgb(0, 0, 0);
  const grey = rgb(0.35, 0.35, 0.35);
  const red = rgb(0.7, 0.05, 0.05);

  // Standard fonts encode WinAnsi only: anything else is shown as '?' rather than failing the build.
  const supported = new Set(font.getCharacterSet());
  const safe = (s: string): string =>
    Array.from(s.replace(/\t/g, '    '), (ch) => (supported.has(ch.codePointAt(0)!) ? ch : ch === '\u2019' || ch === '\u2018' ? "'" : '?')).join('');

  const width = A4[0] - 2 * MARGIN;
  let page: PDFPage = doc.addPage(A4);
  let y = A4[1] - MARGIN;
  const newPageIfNeeded = (height: number): void => {
    if (y - height >= MARGIN + 20) return;
    page = doc.addPage(A4);
    y = A4[1] - MARGIN;
  };

  const wrap = (text: string, f: PDFFont, size: number, max: number): string[] => {
    const lines: string[] = [];
    for (const para of safe(text).split(/\r?\n/)) {
      if (!para.trim()) {
        lines.push('');
        continue;
      }
      let line = '';
      for (const word of para.split(/ +/)) {
        const next = line ? `${line} ${word}` : word;
        if (f.widthOfTextAtSize(next, size) <= max) {
          line = next;
          continue;
        }
        if (line) lines.push(line);
        // A word longer than the line (a URL, a UID) is cut where it overflows.
        let rest = word;
        while (f.widthOfTextAtSize(rest, size) > max) {
          let n = rest.length - 1;
          while (n > 1 && f.widthOfTextAtSize(rest.slice(0, n), size) > max) n--;
          lines.push(rest.slice(0, n));
          rest = rest.slice(n);
        }
        line = rest;
      }
      lines.push(line);
    }
    return lines;
  };

  const paragraph = (text: string, opts: { size?: number; font?: PDFFont; color?: ReturnType<typeof rgb>; indent?: number } = {}): void => {
    const size = opts.size ?? BODY;
    const f = opts.font ?? font;
    const indent = opts.indent ?? 0;
    for (const line of wrap(text, f, size, width - indent)) {
      newPageIfNeeded(size * LEADING);
      page.drawText(line, { x: MARGIN + indent, y: y - size, size, font: f, color: opts.color ?? black });
      y -= size * LEADING;
    }
  };
  const gap = (h: number): void => {
    y -= h;
  };
  const rule = (): void => {
    newPageIfNeeded(8);
    page.drawLine({ start: { x: MARGIN, y: y - 2 }, end: { x: A4[0] - MARGIN, y: y - 2 }, thickness: 0.6, color: grey });
    gap(8);
  };

  // Title and what this document is.
  paragraph(input.title, { size: 18, font: bold });
  if (input.kind !== 'report') {
    const of = input.predecessor?.signedAt !== undefined ? `report of ${formatReportTime(input.predecessor.signedAt, offset)}` : 'an earlier report';
    paragraph(input.kind === 'addendum' ? `Addendum to ${of}` : `Amended report: replaces ${of}`, { size: 12, font: bold, color: red });
  }
  gap(4);
  const s = input.study;
  paragraph(
    `Patient: ${formatPersonName(s.patientName)}    ID: ${s.patientId}` +
      (s.patientBirthDate ? `    Born: ${formatDicomDate(s.patientBirthDate)}` : '') +
      (s.patientSex ? `    Sex: ${s.patientSex}` : ''),
  );
  paragraph(
    `Study: ${s.studyDescription ?? '(no description)'}` +
      (s.studyDate ? `    Date: ${formatDicomDate(s.studyDate)}` : '') +
      (s.accessionNumber ? `    Accession: ${s.accessionNumber}` : ''),
  );
  if (s.referringPhysicianName) paragraph(`Referring: ${formatPersonName(s.referringPhysicianName)}`);
  rule();

  paragraph(`Result priority: ${PRIORITY_LABEL[input.priority]}`, { font: bold, color: input.priority === 'routine' ? black : red });
  if (input.critical) {
    paragraph(`CRITICAL FINDING communicated to ${input.critical.communicatedTo} at ${formatReportTime(input.critical.communicatedAt, offset)}`, {
      font: bold,
      color: red,
    });
  }
  gap(6);

  for (const section of input.sections) {
    const body = input.text[section.id]?.trim();
    if (!body) continue;
    newPageIfNeeded(40);
    paragraph(section.label, { size: 12.5, font: bold });
    paragraph(body);
    gap(6);
  }

  if (measurements.length > 0) {
    newPageIfNeeded(50);
    paragraph('Measurements', { size: 12.5, font: bold });
    const cols = [MARGIN, MARGIN + 22, MARGIN + 110, MARGIN + 360];
    const header = ['#', 'Type', 'Value', 'Image'];
    newPageIfNeeded(BODY * LEADING);
    header.forEach((h, i) => page.drawText(h, { x: cols[i]!, y: y - BODY, size: BODY, font: bold }));
    gap(BODY * LEADING);
    measurements.forEach((m, n) => {
      const value = wrap(measurementSummary(m.graphic), font, BODY, cols[3]! - cols[2]! - 8);
      const image = `${shortUid(m.image.sopInstanceUID)}${m.image.frameNumber !== undefined ? ` frame ${m.image.frameNumber}` : ''}`;
      newPageIfNeeded(value.length * BODY * LEADING);
      page.drawText(String(n + 1), { x: cols[0]!, y: y - BODY, size: BODY, font });
      page.drawText(safe(TOOL_LABEL[m.annotation.tool] ?? m.annotation.tool), { x: cols[1]!, y: y - BODY, size: BODY, font });
      page.drawText(safe(image), { x: cols[3]!, y: y - BODY, size: BODY - 1.5, font, color: grey });
      for (const line of value) {
        page.drawText(line, { x: cols[2]!, y: y - BODY, size: BODY, font });
        gap(BODY * LEADING);
      }
    });
    gap(6);
  }
  if (input.keyImages.length > 0) {
    paragraph(`Key images: ${input.keyImages.length} (${input.keyImages.map((k) => shortUid(k.sopInstanceUID)).join(', ')})`, { color: grey });
    gap(6);
  }

  rule();
  const who = `${input.author.name}${input.author.credentials ? `, ${input.author.credentials}` : ''}${input.author.institution ? ` (${input.author.institution})` : ''}`;
  paragraph(`Electronically signed by ${who} on ${formatReportTime(input.signedAt, offset)}`, { font: bold });

  const pages = doc.getPages();
  pages.forEach((p, i) => {
    const footer = safe(`${formatPersonName(s.patientName)} (${s.patientId})  -  ${input.title}  -  page ${i + 1} of ${pages.length}`);
    p.drawText(footer, { x: MARGIN, y: MARGIN / 2, size: 8, font, color: grey });
  });
  return doc.save();
}
