// The case record access every concern module shares (import, identity, gate,
// send, preview). Made per createReferralCases call and passed in as an
// argument, never a module singleton: each repo (and each test) has its own db,
// clock and identity memo.
import type { ReferralCaseRecord } from '../cache/telerad-db';
import { importFiles } from '../case-import';
import type { IdentityGroup } from '../case-import';
import type { ImportEntry, ImportResult } from '../case-import';
import { SendRefusedError } from './referral-case-types';
import { putCase } from './referral-case-rows';
import type { ReferralCaseDeps } from './referral-case-types';

export interface CaseStore {
  deps: ReferralCaseDeps;
  /** deps.randomBytes, or the platform's CSPRNG. */
  randomBytes: (n: number) => Uint8Array;
  mustGet(id: string): Promise<ReferralCaseRecord>;
  /** The case, refused (SendRefusedError) once it has left the draft state. */
  mustBeDraft(id: string): Promise<ReferralCaseRecord>;
  /** Re-reads the case and writes the patch over it, stamping updatedAt. */
  update(id: string, patch: Partial<ReferralCaseRecord>): Promise<ReferralCaseRecord>;
  /** The case's instances read back from the local cache, as the import reads them (identity, UIDs). */
  reread(c: ReferralCaseRecord, only?: (uid: string) => boolean): Promise<ImportResult>;
}

/** The store plus the (memoised) identity lookup: what the concern modules receive. */
export interface CaseContext extends CaseStore {
  identitiesOf(c: ReferralCaseRecord): Promise<IdentityGroup[]>;
}

export function createCaseStore(deps: ReferralCaseDeps): CaseStore {
  const { db, cache, log } = deps;
  const randomBytes = deps.randomBytes ?? ((n: number): Uint8Array => globalThis.crypto.getRandomValues(new Uint8Array(n)));

  const mustGet = async (id: string): Promise<ReferralCaseRecord> => {
    const c = await db.referralCases.get(id);
    if (!c) throw new Error(`Referral case ${id} not found`);
    return c;
  };
  const mustBeDraft = async (id: string): Promise<ReferralCaseRecord> => {
    const c = await mustGet(id);
    if (c.state !== 'draft') throw new SendRefusedError('This case has been sent: it cannot be changed any more.');
    return c;
  };
  const update = async (id: string, patch: Partial<ReferralCaseRecord>): Promise<ReferralCaseRecord> => {
    const c = await mustGet(id);
    const next = { ...c, ...patch, updatedAt: deps.now() };
    await putCase(db, next);
    return next;
  };
  const reread = async (c: ReferralCaseRecord, only?: (uid: string) => boolean): Promise<ImportResult> => {
    const entries: ImportEntry[] = c.sopInstanceUIDs
      .filter((uid) => !only || only(uid))
      .map((uid) => ({
        path: uid,
        size: 0,
        read: async (): Promise<ArrayBuffer> => {
          const bytes = await cache.readInstanceBytes(uid);
          if (!bytes) throw new Error(`instance ${uid} is no longer in the local cache`);
          return bytes;
        },
      }));
    return importFiles(entries, { log });
  };
  return { deps, randomBytes, mustGet, mustBeDraft, update, reread };
}

/** Whether an instance of the case is one of its photos/PDFs (made here) rather than an imported image. */
export function isAttachment(c: ReferralCaseRecord): (uid: string) => boolean {
  const set = new Set((c.attachments ?? []).map((a) => a.sopInstanceUID));
  return (uid) => set.has(uid);
}
