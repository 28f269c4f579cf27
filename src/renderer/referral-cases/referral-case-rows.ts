import type { Transaction } from 'dexie';
import type { DeidMappingRecord, ReferralCaseRecord, TeleradDB } from '../cache/telerad-db';

/**
 * The `referralCases` and `deidMappings` rows: every write of a referral case
 * or of a sent case's de-identification mapping is one of these (issue 16: one
 * owner per table). A write that is part of a larger step (a split, a send)
 * takes that step's transaction, so where the transaction begins and ends
 * stays with the caller; the others stand alone.
 *
 * Issue 18: the original (local) and the sent (de-identified) Study UIDs of a
 * case, and its mapping, live only inside the sealed part of these rows (v10
 * dropped their indexes; nothing looks a case up by UID: the list is read
 * whole and opened), so the disk never shows the two side by side.
 */

/** A new draft. */
export async function addCase(db: TeleradDB, c: ReferralCaseRecord): Promise<void> {
  await db.referralCases.add(c);
}

/** The case as it now stands, over the stored one. */
export async function putCase(db: TeleradDB, c: ReferralCaseRecord): Promise<void> {
  await db.referralCases.put(c);
}

/** A discarded draft. */
export async function deleteCase(db: TeleradDB, id: string): Promise<void> {
  await db.referralCases.delete(id);
}

/** A queued case whose outbox jobs have all been delivered. */
export async function markCaseSent(db: TeleradDB, id: string, at: number): Promise<void> {
  await db.referralCases.update(id, { state: 'sent', updatedAt: at });
}

/** A case split by patient, in `tx` (`referralCases` in its scope, read-write): the case kept as it now stands, then the new ones. */
export async function recordSplitCases(tx: Transaction, kept: ReferralCaseRecord, others: readonly ReferralCaseRecord[]): Promise<void> {
  const cases = tx.table<ReferralCaseRecord, string>('referralCases');
  await cases.put(kept);
  await cases.bulkAdd(others);
}

/** A case sent, in `tx` (`referralCases` and `deidMappings` in its scope, read-write): the queued case, then its mapping when it was de-identified. */
export async function recordSentCase(tx: Transaction, sent: ReferralCaseRecord, mapping: DeidMappingRecord | undefined): Promise<void> {
  await tx.table<ReferralCaseRecord, string>('referralCases').put(sent);
  if (mapping) await tx.table<DeidMappingRecord, string>('deidMappings').put(mapping);
}
