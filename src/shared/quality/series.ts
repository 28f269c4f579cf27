// Grouping and evidence helpers shared by the checks.
import type { EvidenceItem, Finding, ImageFacts, QualityCheck, Severity } from './types';

/** Images by Series Instance UID (images without one under ''), readable ones only, in first-seen order. */
export function bySeries(images: readonly ImageFacts[]): Map<string, ImageFacts[]> {
  const out = new Map<string, ImageFacts[]>();
  for (const im of images) {
    if (im.unreadable) continue;
    const key = im.seriesInstanceUID ?? '';
    const list = out.get(key);
    if (list) list.push(im);
    else out.set(key, [im]);
  }
  return out;
}

export function byStudy(images: readonly ImageFacts[]): Map<string, ImageFacts[]> {
  const out = new Map<string, ImageFacts[]>();
  for (const im of images) {
    if (im.unreadable || !im.studyInstanceUID) continue;
    const list = out.get(im.studyInstanceUID);
    if (list) list.push(im);
    else out.set(im.studyInstanceUID, [im]);
  }
  return out;
}

export function evidenceOf(im: ImageFacts, value?: string | number): EvidenceItem {
  const e: EvidenceItem = { source: im.source };
  if (im.sopInstanceUID) e.sopInstanceUID = im.sopInstanceUID;
  if (im.instanceNumber !== undefined) e.instanceNumber = im.instanceNumber;
  if (value !== undefined) e.value = value;
  return e;
}

/** "images 3, 4 and 7 of 40" — instance numbers where known, else counts. */
export function whichImages(hits: readonly ImageFacts[], of: number): string {
  if (hits.length === of) return of === 1 ? 'the image' : `all ${of} images`;
  const numbers = hits.map((h) => h.instanceNumber).filter((n): n is number => n !== undefined);
  if (numbers.length === hits.length && new Set(numbers).size === numbers.length && numbers.length <= 8) {
    const sorted = [...numbers].sort((a, b) => a - b).map(String);
    const list = sorted.length > 1 ? `${sorted.slice(0, -1).join(', ')} and ${sorted[sorted.length - 1]}` : sorted[0];
    return `image${sorted.length > 1 ? 's' : ''} ${list} of ${of}`;
  }
  return `${hits.length} of ${of} images`;
}

export function seriesLabel(im: ImageFacts | undefined): string {
  if (!im) return 'series';
  return im.modality ? `${im.modality} series` : 'series';
}

export function finding(
  base: { id: string; group: Finding['group']; title: string },
  severity: Severity,
  message: string,
  where: ImageFacts | undefined,
  instances: EvidenceItem[],
  values?: Finding['evidence']['values'],
): Finding {
  const f: Finding = { checkId: base.id, group: base.group, title: base.title, severity, message, evidence: { instances } };
  if (where?.studyInstanceUID) f.studyInstanceUID = where.studyInstanceUID;
  if (where?.seriesInstanceUID) f.seriesInstanceUID = where.seriesInstanceUID;
  if (values) f.evidence.values = values;
  return f;
}

/** What a per-series check says of one series: `where` defaults to its first image, `severity` to the check's. */
export interface SeriesHit {
  message: string;
  instances: EvidenceItem[];
  values?: Finding['evidence']['values'];
  where?: ImageFacts;
  severity?: Severity;
}

/** One finding at most per series (as `bySeries` groups them, in its order): each series the check describes. */
export function seriesFindings(
  check: { id: string; group: Finding['group']; title: string; severity: Severity },
  images: readonly ImageFacts[],
  describe: (list: ImageFacts[]) => SeriesHit | undefined,
): Finding[] {
  const out: Finding[] = [];
  for (const [, list] of bySeries(images)) {
    const hit = describe(list);
    if (hit) out.push(finding(check, hit.severity ?? check.severity, hit.message, hit.where ?? list[0], hit.instances, hit.values));
  }
  return out;
}

/**
 * A check that looks at each series on its own: its id, group, title and severity, and what it says of
 * one series (at most one finding each, as `seriesFindings` collects them).
 */
export function seriesCheck(about: Omit<QualityCheck, 'run'>, describe: (list: ImageFacts[]) => SeriesHit | undefined): QualityCheck {
  const check: QualityCheck = { ...about, run: (images) => seriesFindings(check, images, describe) };
  return check;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
