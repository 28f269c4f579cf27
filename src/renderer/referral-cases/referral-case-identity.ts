// Which patient a referral case is about: the identities its imported images
// name (attachments excluded, they carry the case's patient), choosing one, or
// splitting the case into one case per patient.
import type { ReferralCaseRecord } from '../cache/telerad-db';
import { identityConflicts } from '../case-import';
import type { IdentityGroup } from '../case-import';
import type { PatientIdentity } from '../case-import';
import { newUid } from '../lib/dicom/dcmjs-runtime';
import { isAttachment } from './referral-case-store';
import { recordSplitCases } from './referral-case-rows';
import type { CaseContext, CaseStore } from './referral-case-store';

export const EMPTY_PATIENT = { name: '', id: '' };

export function samePatient(a: PatientIdentity | ReferralCaseRecord['patient'], b: ReferralCaseRecord['patient']): boolean {
  const norm = (s: string | undefined): string => (s ?? '').toUpperCase().replace(/\^+$/, '').trim();
  return norm(a.name) === norm(b.name) && norm(a.id) === norm(b.id) && norm(a.birthDate) === norm(b.birthDate);
}

export function asCasePatient(p: PatientIdentity): ReferralCaseRecord['patient'] {
  return { name: p.name, id: p.id, ...(p.birthDate ? { birthDate: p.birthDate } : {}), ...(p.sex ? { sex: p.sex } : {}) };
}

/**
 * The identity lookup of one repo. Reading a 300-slice case for its identities on every
 * keystroke of the question would be wasteful: kept per instance set. The memo belongs to
 * the returned function (one per createReferralCases), not to this module.
 */
export function createIdentitiesOf(store: Pick<CaseStore, 'reread'>): (c: ReferralCaseRecord) => Promise<IdentityGroup[]> {
  const identityMemo = new Map<string, { key: string; groups: IdentityGroup[] }>();
  return async (c) => {
    const key = `${c.sopInstanceUIDs.length}:${c.sopInstanceUIDs.join(',')}`;
    const memo = identityMemo.get(c.id);
    if (memo?.key === key) return memo.groups;
    const groups = identityConflicts(await store.reread(c, (uid) => !isAttachment(c)(uid)));
    identityMemo.set(c.id, { key, groups });
    return groups;
  };
}

export async function chooseIdentity(ctx: CaseContext, id: string, identity: PatientIdentity): Promise<ReferralCaseRecord> {
  await ctx.mustBeDraft(id);
  ctx.deps.log.info(`Case ${id}: identity chosen among several; the sent copies carry it, the local originals are unchanged`);
  return ctx.update(id, { patient: asCasePatient(identity), identityResolution: 'chosen' });
}

export async function splitByIdentity(ctx: CaseContext, id: string): Promise<ReferralCaseRecord[]> {
  const { deps } = ctx;
  const { db, log } = deps;
  const c = await ctx.mustBeDraft(id);
  const attachment = isAttachment(c);
  const result = await ctx.reread(c, (uid) => !attachment(uid));
  const groups = identityConflicts(result);
  if (groups.length < 2) return [c];
  const sopsOf = (identity: PatientIdentity): string[] =>
    result.studies.flatMap((st) => st.series.flatMap((s) => s.instances.filter((i) => samePatient(i.patient, asCasePatient(identity))).map((i) => i.sopInstanceUID)));
  const studyOf = (identity: PatientIdentity): string =>
    result.studies.find((st) => st.series.some((s) => s.instances.some((i) => samePatient(i.patient, asCasePatient(identity)))))?.studyInstanceUID ?? newUid(ctx.randomBytes);
  const t = deps.now();
  const [first, ...rest] = groups;
  const kept: ReferralCaseRecord = {
    ...c,
    // The attachments stay with the case they were added to.
    sopInstanceUIDs: [...sopsOf(first!.identity), ...(c.attachments ?? []).map((a) => a.sopInstanceUID)],
    patient: asCasePatient(first!.identity),
    localStudyInstanceUID: studyOf(first!.identity),
    identityResolution: 'split',
    updatedAt: t,
  };
  const others: ReferralCaseRecord[] = rest.map((g) => ({
    ...c,
    id: deps.randomUUID(),
    sopInstanceUIDs: sopsOf(g.identity),
    attachments: [],
    skipped: [],
    patient: asCasePatient(g.identity),
    localStudyInstanceUID: studyOf(g.identity),
    identityResolution: 'split',
    createdAt: t,
    updatedAt: t,
  }));
  await db.transaction('rw', db.referralCases, async (tx) => {
    await recordSplitCases(tx, kept, others);
  });
  log.info(`Case ${id} split into ${groups.length} cases, one per patient`);
  return [kept, ...others];
}
