import type { SealedRowReason } from './row-sealer';
import { isSealedRowError } from './row-sealer';

/** A stored row that failed its integrity check: kept on disk, never handed on as data. */
export interface RefusedRow {
  key: unknown;
  reason: SealedRowReason;
}

export interface OpenableRows<T> {
  rows: T[];
  refused: RefusedRow[];
}

/**
 * Reads a list of sealed rows so that one row changed outside the app does not hide the others: the
 * list is read at once (the common case, one pass), and only when that throws a SealedRowError is it
 * read again one primary key at a time, leaving out (and naming) each row that fails. Any other error
 * (locked, IndexedDB failing) is thrown as it is. `readKeys` must list the same rows in the same order
 * as `readAll`; keys come from indexes, which need no row to be opened.
 */
export async function readOpenableRows<T>(reads: {
  readAll: () => Promise<T[]>;
  readKeys: () => Promise<readonly unknown[]>;
  readOne: (key: unknown) => Promise<T | undefined>;
}): Promise<OpenableRows<T>> {
  try {
    return { rows: await reads.readAll(), refused: [] };
  } catch (err) {
    if (!isSealedRowError(err)) throw err;
  }
  const rows: T[] = [];
  const refused: RefusedRow[] = [];
  for (const key of await reads.readKeys()) {
    try {
      const row = await reads.readOne(key);
      if (row !== undefined) rows.push(row);
    } catch (err) {
      if (!isSealedRowError(err)) throw err;
      refused.push({ key, reason: err.reason });
    }
  }
  return { rows, refused };
}
