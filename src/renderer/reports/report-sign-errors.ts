import type { Finding } from '../../shared/quality';

/** A sign refused for a reason the user can fix (no profile, empty report, nothing cached): the message says how. */
export class SignRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignRefusedError';
  }
}

/**
 * Signing stopped until the reader acknowledges the study's quality findings
 * (issue 8): `findings` are the warnings and blockers to show and tick.
 */
export class QualityAcknowledgementRequiredError extends SignRefusedError {
  constructor(
    message: string,
    readonly findings: readonly Finding[],
  ) {
    super(message);
    this.name = 'QualityAcknowledgementRequiredError';
  }
}

/** "warning: Lossy compression": how an acknowledged finding is recorded on the signed report. */
export function qualityFindingLabel(f: Pick<Finding, 'severity' | 'title'>): string {
  return `${f.severity}: ${f.title}`;
}
