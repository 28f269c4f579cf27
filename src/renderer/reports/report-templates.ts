import type { ReportSectionSpec } from '../lib/dicom/report-dicom-types';

/**
 * Report templates: one typed table. A template says which narrative
 * sections a report has and what its title is; the editor picks one by the
 * study's modality, or the consult note when the study carries a referral
 * with a clinical question.
 */

export type ReportTemplateId = 'ct' | 'mr' | 'xray' | 'generic' | 'consult';

export interface ReportTemplate {
  id: ReportTemplateId;
  /** Shown in the picker. */
  label: string;
  /** Document title of the SR and the PDF; the modality and study description are added after it. */
  title: string;
  /** Modalities this template is the default for. */
  modalities: readonly string[];
  sections: readonly ReportSectionSpec[];
  /**
   * A section shown quoted and read-only, filled from the referral (the
   * consult note's question): it is the referrer's text, not the reader's.
   */
  readOnlySectionIds: readonly string[];
  /** Placeholder text per section id: what belongs there. */
  hints: Readonly<Record<string, string>>;
}

const FINDINGS: ReportSectionSpec = { id: 'findings', label: 'Findings' };
const IMPRESSION: ReportSectionSpec = { id: 'impression', label: 'Impression' };
const RECOMMENDATION: ReportSectionSpec = { id: 'recommendation', label: 'Recommendation' };

export const REPORT_TEMPLATES: readonly ReportTemplate[] = [
  {
    id: 'ct',
    label: 'CT report',
    title: 'CT report',
    modalities: ['CT'],
    sections: [FINDINGS, IMPRESSION, RECOMMENDATION],
    readOnlySectionIds: [],
    hints: {
      findings: 'Technique, contrast, organs by region, measurements…',
      impression: 'The answer in one or two lines',
      recommendation: 'Follow-up, further imaging, referral',
    },
  },
  {
    id: 'mr',
    label: 'MR report',
    title: 'MR report',
    modalities: ['MR'],
    sections: [FINDINGS, IMPRESSION, RECOMMENDATION],
    readOnlySectionIds: [],
    hints: {
      findings: 'Sequences, signal characteristics, enhancement, measurements…',
      impression: 'The answer in one or two lines',
      recommendation: 'Follow-up, further imaging, referral',
    },
  },
  {
    id: 'xray',
    label: 'X-ray report',
    title: 'Radiograph report',
    modalities: ['DX', 'CR', 'DR', 'RF', 'MG'],
    sections: [FINDINGS, IMPRESSION, RECOMMENDATION],
    readOnlySectionIds: [],
    hints: {
      findings: 'Projections, lines and tubes, lungs, heart, bones…',
      impression: 'The answer in one or two lines',
      recommendation: 'Follow-up, further imaging, referral',
    },
  },
  {
    id: 'generic',
    label: 'General imaging report',
    title: 'Imaging report',
    modalities: [],
    sections: [FINDINGS, IMPRESSION, RECOMMENDATION],
    readOnlySectionIds: [],
    hints: { findings: 'What the images show', impression: 'The answer in one or two lines', recommendation: 'What should happen next' },
  },
  {
    id: 'consult',
    label: 'Consult note',
    title: 'Consult note',
    modalities: [],
    sections: [
      { id: 'question', label: 'Clinical question' },
      { id: 'answer', label: 'Answer / opinion' },
      RECOMMENDATION,
    ],
    readOnlySectionIds: ['question'],
    hints: { answer: 'Your answer to the referring clinician’s question', recommendation: 'What the referring clinician should do next' },
  },
];

const BY_ID = new Map(REPORT_TEMPLATES.map((t) => [t.id, t]));

export function templateById(id: string): ReportTemplate {
  return BY_ID.get(id as ReportTemplateId) ?? BY_ID.get('generic')!;
}

/**
 * The template a new report starts with: the consult note when the referral
 * asks a question (that question is what the referrer waits for), else the
 * first imaging modality's template, else the generic one.
 */
export function defaultTemplateFor(modalities: readonly string[], clinicalQuestion: string | undefined): ReportTemplate {
  if (clinicalQuestion?.trim()) return BY_ID.get('consult')!;
  for (const m of modalities) {
    const t = REPORT_TEMPLATES.find((tpl) => tpl.modalities.includes(m.toUpperCase()));
    if (t) return t;
  }
  return BY_ID.get('generic')!;
}

/** "CT report: CT CHEST": the template's title and the study's description (ASCII: it goes into LO and ST values). */
export function reportTitle(template: ReportTemplate, studyDescription: string | undefined): string {
  const d = studyDescription?.trim();
  return d ? `${template.title}: ${d}` : template.title;
}
