import type { Transaction } from 'dexie';
import type { CaseNoteRecord } from '../cache/telerad-db';

/**
 * The `caseNotes` rows: notes written on this workstation (a referral's
 * first note, questions, answers, outcomes), each with the outbox job that
 * carries it. This module owns the table: a producer (a thread action,
 * sending a referral case) records its note here, inside the transaction that
 * also enqueues the job, so the note and its job exist together or not at all.
 */

/** The table a producer names in its transaction's scope (a name, so the producer never holds the table). */
export const CASE_NOTES_TABLE = 'caseNotes';

/** Records a note written here in `tx` (which must have `CASE_NOTES_TABLE` in its scope, read-write). */
export async function addCaseNote(tx: Transaction, row: CaseNoteRecord): Promise<void> {
  await tx.table<CaseNoteRecord, string>(CASE_NOTES_TABLE).add(row);
}
