import type { IndexableType } from 'dexie';
import type { Logger } from '../../../shared/log';
import type { TeleradDB } from '../telerad-db';
import { SEALING_POLICY } from '../telerad-db';
import type { RefusedRow } from './openable-rows';
import { readOpenableRows } from './openable-rows';

const CHUNK = 50;

/** The sealed format the store is at once this pass has run: 3 = clear fields authenticated (AAD) and versioned rows (issue 18). */
export const SEALED_FORMAT = 3;

/**
 * The migration to encryption at rest, and (v10, issue 18) to authenticated clear fields and row
 * versions: rewrites every row of the sealed tables through the sealing middleware, one small
 * transaction per chunk, then records that it is done for this key — in the clear marker and in the
 * sealed head of the version registry — after which a row without an envelope, or in a format from
 * before AAD, is refused. Rows sealed before AAD (v1, v2) are opened with their old additional data and
 * sealed again (v3), not refused: this is the upgrade path. Offline behaviour: needs no network; safe to
 * stop at any point (a crash, a lock, a closed window) — rows not yet rewritten are read as they are and
 * the pass runs again at the next unlock, so drafts and cached cases stay readable throughout. Rows
 * already at v3 are opened and sealed again (idempotent; their version goes up).
 * A row that does not open (changed on disk) is left as it is, logged (table, key, reason) and refused
 * once the store is sealed; it does not stop the pass.
 * Returns how many rows it rewrote (0 when already done for this key).
 */
export async function sealExistingRows(db: TeleradDB, deps: { log: Logger; now: () => number; onProgress?: (done: number, total: number) => void }): Promise<number> {
  const sealer = db.sealer;
  const layer = db.sealingLayer;
  if (!sealer || !layer) throw new Error('sealExistingRows needs a database opened with a sealer');
  await db.open();
  const state = await db.sealing.get('rows');
  if (state?.keyId === sealer.keyId && (state.format ?? 0) >= SEALED_FORMAT && (await layer.headSealed())) {
    layer.state.strict = true;
    return 0;
  }
  // A fresh database (marker written at creation) has nothing to rewrite; it still needs the sealed head.
  const fresh = state?.keyId === sealer.keyId && (state.format ?? 0) >= SEALED_FORMAT;
  const tables = Object.keys(SEALING_POLICY).map((name) => db.table(name));
  const keysByTable = fresh ? tables.map((): IndexableType[] => []) : await Promise.all(tables.map((t) => t.toCollection().primaryKeys()));
  const total = keysByTable.reduce((n, k) => n + k.length, 0);
  let done = 0;
  let rewritten = 0;
  const refused: { table: string; row: RefusedRow }[] = [];
  for (const [i, table] of tables.entries()) {
    const keys = keysByTable[i]!;
    for (let at = 0; at < keys.length; at += CHUNK) {
      const chunk = keys.slice(at, at + CHUNK);
      await db.transaction('rw', table, async () => {
        // A row that does not open (changed on disk) is left as it is and named; it must not stop the pass,
        // or the store would never become strict. Once it is, that row stays refused.
        const read = await readOpenableRows<object | undefined>({
          readAll: () => table.bulkGet(chunk),
          readKeys: async () => chunk,
          readOne: (key) => table.get(key as IndexableType),
        });
        const rows = read.rows.filter((r): r is object => r !== undefined);
        for (const row of read.refused) refused.push({ table: table.name, row });
        if (rows.length > 0) await table.bulkPut(rows);
        rewritten += rows.length;
      });
      done += chunk.length;
      deps.onProgress?.(done, total);
    }
  }
  await layer.markSealed({ id: 'rows', keyId: sealer.keyId, sealedAt: deps.now(), rows: total, format: SEALED_FORMAT });
  // Table, key and reason only: never a row's clinical fields.
  for (const { table, row } of refused) deps.log.warn(`Not sealed: a ${table} row (${String(row.key)}) does not open (${row.reason}); it is kept on disk as it is and refused from now on`);
  if (total > 0) deps.log.info(`Sealed ${rewritten} rows with their clear fields authenticated${refused.length > 0 ? ` (${refused.length} refused)` : ''}`);
  return rewritten;
}
