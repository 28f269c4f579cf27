// Runs every check over a case and summarises the worst severity for a badge.
import { acquisitionChecks } from './checks/acquisition';
import { geometryChecks } from './checks/geometry';
import { identityChecks } from './checks/identity';
import { integrityChecks } from './checks/integrity';
import { privacyChecks } from './checks/privacy';
import { suitabilityChecks } from './checks/suitability';
import type { CaseContext, Finding, ImageFacts, QualityCheck, Severity } from './types';

export const ALL_CHECKS: readonly QualityCheck[] = [
  ...integrityChecks,
  ...identityChecks,
  ...suitabilityChecks,
  ...acquisitionChecks,
  ...geometryChecks,
  ...privacyChecks,
];

const RANK: Record<Severity, number> = { info: 1, warning: 2, blocker: 3 };

/** Every finding on the case, blockers first. `checks` defaults to all of them. */
export function runQualityChecks(images: readonly ImageFacts[], context: CaseContext = {}, checks: readonly QualityCheck[] = ALL_CHECKS): Finding[] {
  const out: Finding[] = [];
  for (const check of checks) out.push(...check.run(images, context));
  return out.sort((a, b) => RANK[b.severity] - RANK[a.severity]);
}

export type QualityLevel = Severity | 'ok';

export function worstSeverity(findings: readonly Finding[]): QualityLevel {
  let worst: QualityLevel = 'ok';
  for (const f of findings) if (worst === 'ok' || RANK[f.severity] > RANK[worst]) worst = f.severity;
  return worst;
}

export interface QualitySummary {
  worst: QualityLevel;
  counts: Record<Severity, number>;
  /** Worst severity per Series Instance UID; findings without a series (a whole study, an unreadable file) count only for the case. */
  bySeries: Record<string, QualityLevel>;
}

export function summarizeFindings(findings: readonly Finding[]): QualitySummary {
  const counts: Record<Severity, number> = { blocker: 0, warning: 0, info: 0 };
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    counts[f.severity]++;
    if (!f.seriesInstanceUID) continue;
    const g = groups.get(f.seriesInstanceUID);
    if (g) g.push(f);
    else groups.set(f.seriesInstanceUID, [f]);
  }
  const bySeries: Record<string, QualityLevel> = {};
  for (const [uid, g] of groups) bySeries[uid] = worstSeverity(g);
  return { worst: worstSeverity(findings), counts, bySeries };
}
