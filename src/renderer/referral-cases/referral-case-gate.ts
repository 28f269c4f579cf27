// What stands between a draft and the outbox: the case's problems (missing
// question, site, clinician, an unresolved identity) and the quality gate
// (issue 8), which blocks on blocker findings unless "Send anyway" gives a reason.
import type { Finding } from '../../shared/quality';
import type { QualityContext } from '../quality';
import type { QualityOverride, ReferralCaseRecord } from '../cache/telerad-db';
import { samePatient } from './referral-case-identity';
import { isAttachment } from './referral-case-store';
import type { CaseContext } from './referral-case-store';
import { MIN_OVERRIDE_REASON_LENGTH, QualityBlockedError, findingLabel } from './referral-case-types';
import type { ReferralCaseDeps, SendOptions } from './referral-case-types';

/** What stops the case from being sent, in words; empty when it can go. */
export async function problemsOf(ctx: Pick<CaseContext, 'identitiesOf'>, c: ReferralCaseRecord): Promise<string[]> {
  const out: string[] = [];
  if (c.sopInstanceUIDs.length === 0) out.push('Import images, photos or PDFs first.');
  if (!c.clinicalQuestion.trim()) out.push('Write the clinical question.');
  if (!c.siteId) out.push('Choose the site to send to.');
  if (!c.referringClinician?.trim()) out.push('Name the referring clinician.');
  const dicom = c.sopInstanceUIDs.filter((uid) => !isAttachment(c)(uid));
  if (dicom.length > 0) {
    const groups = await ctx.identitiesOf(c);
    if (groups.length > 1 && !(c.identityResolution === 'chosen' && groups.some((g) => samePatient(g.identity, c.patient)))) {
      out.push(`The images name ${groups.length} different patients: choose one, or split the case.`);
    }
  } else if (!c.patient.name.trim() || !c.patient.id.trim()) {
    out.push("Type the patient's name and ID (the case has photos or PDFs only).");
  }
  return out;
}

/**
 * The images (not the photos and PDFs made here) checked with the case as context. Once the
 * user chose the patient, the sent copies all carry that identity: the originals' disagreement
 * was resolved in the wizard's patient step and is not a finding about what is sent.
 */
export async function qualityOf(deps: Pick<ReferralCaseDeps, 'quality'>, c: ReferralCaseRecord): Promise<Finding[] | undefined> {
  if (!deps.quality) return undefined;
  const images = c.sopInstanceUIDs.filter((uid) => !isAttachment(c)(uid));
  if (images.length === 0) return [];
  const p = c.patient;
  const referral: NonNullable<QualityContext['referral']> = {
    ...(p.id ? { patientId: p.id } : {}),
    ...(p.name ? { patientName: p.name } : {}),
    ...(p.birthDate ? { birthDate: p.birthDate } : {}),
    ...(p.sex ? { sex: p.sex } : {}),
  };
  const { findings } = await deps.quality.checkInstances(images, { deidentify: c.deidentify.enabled, referral });
  const resolved = c.identityResolution === 'chosen' ? new Set(['identity.study-consistency', 'identity.referral']) : new Set<string>();
  return findings.filter((f) => !resolved.has(f.checkId));
}

/** Who is sending: the user profile's name, else the referring clinician typed in the case. */
async function sender(deps: Pick<ReferralCaseDeps, 'db'>, c: ReferralCaseRecord): Promise<string> {
  const p = await deps.db.userProfile.get('me');
  return p?.name.trim() || c.referringClinician?.trim() || 'unknown user';
}

/**
 * The gate, run before any send work: throws QualityBlockedError while a blocker stands and
 * no (or too short a) "Send anyway" reason is given. Returns the override to keep with the
 * outbox job and the audit line when the user sends despite blockers; undefined otherwise.
 */
export async function passQualityGate(deps: ReferralCaseDeps, c: ReferralCaseRecord, options: SendOptions | undefined): Promise<QualityOverride | undefined> {
  const blockers = ((await qualityOf(deps, c)) ?? []).filter((f) => f.severity === 'blocker');
  if (blockers.length === 0) return undefined;
  const titles = [...new Set(blockers.map(findingLabel))];
  const reason = options?.sendAnyway?.reason.trim() ?? '';
  if (!options?.sendAnyway) {
    throw new QualityBlockedError(`Not sent: the quality checks found ${blockers.length} blocking problem(s) (${blockers.map((f) => f.title).join('; ')}). Fix them, or choose "Send anyway" and give a reason.`, blockers);
  }
  if (reason.length < MIN_OVERRIDE_REASON_LENGTH) {
    throw new QualityBlockedError(`"Send anyway" needs a reason of at least ${MIN_OVERRIDE_REASON_LENGTH} characters: it is kept with the outbox item and in the audit log.`, blockers);
  }
  return { reason, by: await sender(deps, c), at: deps.now(), findings: titles };
}
