import type { PDFDocument, PDFFont, PDFPage, RGB } from 'pdf-lib';
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

/** How a run of text is drawn: size, font, colour, and how far in from the margin. */
interface TextStyle {
  size?: number;
  font?: PDFFont;
  color?: RGB;
  indent?: number;
}

/** The fonts and colours of the report, embedded once per document. */
interface ReportInk {
  font: PDFFont;
  bold: PDFFont;
  black: RGB;
  grey: RGB;
  red: RGB;
}

/**
 * The pen of the report: text flows down the page from the top margin, and a
 * new A4 page starts when the next piece does not fit above the footer.
 */
interface ReportPen {
  readonly ink: ReportInk;
  /** The text as the standard fonts can draw it. */
  safe(s: string): string;
  /** The lines `text` takes at most `max` wide. */
  wrap(text: string, f: PDFFont, size: number, max: number): string[];
  newPageIfNeeded(height: number): void;
  paragraph(text: string, opts?: TextStyle): void;
  gap(h: number): void;
  rule(): void;
  /** Draws one cell of a table row at `x` on the current line, without moving down. */
  cell(text: string, x: number, style: { size: number; font: PDFFont; color?: RGB }): void;
}

/** Lines of at most `max` wide; a word longer than the line (a URL, a UID) is cut where it overflows. */
function wrapLines(text: string, f: PDFFont, size: number, max: number): string[] {
  const lines: string[] = [];
  for (const para of text.split(/\r?\n/)) {
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
}

function createReportPen(doc: PDFDocument, ink: ReportInk): ReportPen {
  // Standard fonts encode WinAnsi only: anything else is shown as '?' rather than failing the build.
  const supported = new Set(ink.font.getCharacterSet());
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
  const wrap = (text: string, f: PDFFont, size: number, max: number): string[] => wrapLines(safe(text), f, size, max);
  const gap = (h: number): void => {
    y -= h;
  };
  return {
    ink,
    safe,
    wrap,
    newPageIfNeeded,
    paragraph(text, opts = {}) {
      const size = opts.size ?? BODY;
      const f = opts.font ?? ink.font;
      const indent = opts.indent ?? 0;
      for (const line of wrap(text, f, size, width - indent)) {
        newPageIfNeeded(size * LEADING);
        page.drawText(line, { x: MARGIN + indent, y: y - size, size, font: f, color: opts.color ?? ink.black });
        y -= size * LEADING;
      }
    },
    gap,
    rule() {
      newPageIfNeeded(8);
      page.drawLine({ start: { x: MARGIN, y: y - 2 }, end: { x: A4[0] - MARGIN, y: y - 2 }, thickness: 0.6, color: ink.grey });
      gap(8);
    },
    cell(text, x, style) {
      page.drawText(text, { x, y: y - BODY, ...style });
    },
  };
}

/** The document with its metadata: none automatic, it would stamp "now" and make every build differ. */
async function createReportDocument(pdfLib: { PDFDocument: typeof PDFDocument }, input: ReportBuildInput): Promise<PDFDocument> {
  const signed = new Date(input.signedAt);
  const doc = await pdfLib.PDFDocument.create({ updateMetadata: false });
  doc.setTitle(input.title);
  doc.setAuthor(`${input.author.name}${input.author.credentials ? `, ${input.author.credentials}` : ''}`);
  doc.setSubject(`${formatPersonName(input.study.patientName)} (${input.study.patientId})`);
  doc.setProducer('Telerad Workstation (pdf-lib)');
  doc.setCreator('Telerad Workstation');
  doc.setCreationDate(signed);
  doc.setModificationDate(signed);
  return doc;
}

/** Title, what this document is (a correction says of what), patient and study. */
function writeHeading(pen: ReportPen, input: ReportBuildInput, offset: number): void {
  const { bold, red } = pen.ink;
  pen.paragraph(input.title, { size: 18, font: bold });
  if (input.kind !== 'report') {
    const of = input.predecessor?.signedAt !== undefined ? `report of ${formatReportTime(input.predecessor.signedAt, offset)}` : 'an earlier report';
    pen.paragraph(input.kind === 'addendum' ? `Addendum to ${of}` : `Amended report: replaces ${of}`, { size: 12, font: bold, color: red });
  }
  pen.gap(4);
  const s = input.study;
  pen.paragraph(
    `Patient: ${formatPersonName(s.patientName)}    ID: ${s.patientId}` +
      (s.patientBirthDate ? `    Born: ${formatDicomDate(s.patientBirthDate)}` : '') +
      (s.patientSex ? `    Sex: ${s.patientSex}` : ''),
  );
  pen.paragraph(
    `Study: ${s.studyDescription ?? '(no description)'}` +
      (s.studyDate ? `    Date: ${formatDicomDate(s.studyDate)}` : '') +
      (s.accessionNumber ? `    Accession: ${s.accessionNumber}` : ''),
  );
  if (s.referringPhysicianName) pen.paragraph(`Referring: ${formatPersonName(s.referringPhysicianName)}`);
  pen.rule();
}

/** The result priority and the critical finding, then the narrative sections that have text. */
function writeFindings(pen: ReportPen, input: ReportBuildInput, offset: number): void {
  const { bold, black, red } = pen.ink;
  pen.paragraph(`Result priority: ${PRIORITY_LABEL[input.priority]}`, { font: bold, color: input.priority === 'routine' ? black : red });
  if (input.critical) {
    pen.paragraph(`CRITICAL FINDING communicated to ${input.critical.communicatedTo} at ${formatReportTime(input.critical.communicatedAt, offset)}`, {
      font: bold,
      color: red,
    });
  }
  pen.gap(6);

  for (const section of input.sections) {
    const body = input.text[section.id]?.trim();
    if (!body) continue;
    pen.newPageIfNeeded(40);
    pen.paragraph(section.label, { size: 12.5, font: bold });
    pen.paragraph(body);
    pen.gap(6);
  }
}

/** The table of measurements: number, tool, figures (wrapped), image. */
function writeMeasurements(pen: ReportPen, measurements: readonly PdfMeasurement[]): void {
  const { font, bold, grey } = pen.ink;
  pen.newPageIfNeeded(50);
  pen.paragraph('Measurements', { size: 12.5, font: bold });
  const cols = [MARGIN, MARGIN + 22, MARGIN + 110, MARGIN + 360];
  const header = ['#', 'Type', 'Value', 'Image'];
  pen.newPageIfNeeded(BODY * LEADING);
  header.forEach((h, i) => pen.cell(h, cols[i]!, { size: BODY, font: bold }));
  pen.gap(BODY * LEADING);
  measurements.forEach((m, n) => {
    const value = pen.wrap(measurementSummary(m.graphic), font, BODY, cols[3]! - cols[2]! - 8);
    const image = `${shortUid(m.image.sopInstanceUID)}${m.image.frameNumber !== undefined ? ` frame ${m.image.frameNumber}` : ''}`;
    pen.newPageIfNeeded(value.length * BODY * LEADING);
    pen.cell(String(n + 1), cols[0]!, { size: BODY, font });
    pen.cell(pen.safe(TOOL_LABEL[m.annotation.tool] ?? m.annotation.tool), cols[1]!, { size: BODY, font });
    pen.cell(pen.safe(image), cols[3]!, { size: BODY - 1.5, font, color: grey });
    for (const line of value) {
      pen.cell(line, cols[2]!, { size: BODY, font });
      pen.gap(BODY * LEADING);
    }
  });
  pen.gap(6);
}

/** "Patient (ID)  -  title  -  page n of m" at the foot of every page. */
function writeFooters(doc: PDFDocument, pen: ReportPen, input: ReportBuildInput): void {
  const s = input.study;
  const pages = doc.getPages();
  pages.forEach((p, i) => {
    const footer = pen.safe(`${formatPersonName(s.patientName)} (${s.patientId})  -  ${input.title}  -  page ${i + 1} of ${pages.length}`);
    p.drawText(footer, { x: MARGIN, y: MARGIN / 2, size: 8, font: pen.ink.font, color: pen.ink.grey });
  });
}

export async function renderReportPdf(input: ReportBuildInput, measurements: PdfMeasurement[]): Promise<Uint8Array> {
  const pdfLib = await import('pdf-lib');
  const { StandardFonts, rgb } = pdfLib;
  const offset = input.timezoneOffsetMinutes ?? 0;
  const doc = await createReportDocument(pdfLib, input);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const pen = createReportPen(doc, { font, bold, black: rgb(0, 0, 0), grey: rgb(0.35, 0.35, 0.35), red: rgb(0.7, 0.05, 0.05) });

  writeHeading(pen, input, offset);
  writeFindings(pen, input, offset);
  if (measurements.length > 0) writeMeasurements(pen, measurements);
  if (input.keyImages.length > 0) {
    pen.paragraph(`Key images: ${input.keyImages.length} (${input.keyImages.map((k) => shortUid(k.sopInstanceUID)).join(', ')})`, { color: pen.ink.grey });
    pen.gap(6);
  }

  pen.rule();
  const who = `${input.author.name}${input.author.credentials ? `, ${input.author.credentials}` : ''}${input.author.institution ? ` (${input.author.institution})` : ''}`;
  pen.paragraph(`Electronically signed by ${who} on ${formatReportTime(input.signedAt, offset)}`, { font: bold });

  writeFooters(doc, pen, input);
  return doc.save();
}
