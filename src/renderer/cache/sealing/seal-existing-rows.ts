import type { Logger } from '../../../shared/log';
import type { TeleradDB } from '../telerad-db';
import { SEALING_POLICY } from '../telerad-db';

const CHUNK = 50;

/**
 * The migration to encryption at rest: rewrites every row of the sealed tables through the sealing
 * middleware, one small transaction per chunk, then records that it is done for this key. Offline
 * behaviour: needs no network; safe to stop at any point (a crash, a lock, a closed window) — rows not
 * yet rewritten are read as they are and the pass runs again at the next unlock, so drafts and cached
 * cases stay readable throughout. Rows already sealed are opened and sealed again (idempotent).
 * Returns how many rows it rewrote (0 when already done for this key).
 */
export async function sealExistingRows(db: TeleradDB, deps: { log: Logger; now: () => number; onProgress?: (done: number, total: number) => void }): Promise<number> {
  const sealer = db.sealer;
  if (!sealer) throw new Error('sealExistingRows needs a database opened with a sealer');
  const state = await db.sealing.get('rows');
  if (state?.keyId === sealer.keyId) return 0;
  const tables = Object.keys(SEALING_POLICY).map((name) => db.table(name));
  const keysByTable = await Promise.all(tables.map((t) => t.toCollection().primaryKeys()));
  const total = keysByTable.reduce((n, k) => n + k.length, 0);
  let done = 0;
  for (const [i, table] of tables.entries()) {
    const keys = keysByTable[i]!;
    for (let at = 0; at < keys.length; at += CHUNK) {
      const chunk = keys.slice(at, at + CHUNK);
      await db.transaction('rw', table, async () => {
        const rows = (await table.bulkGet(chunk)).filter((r): r is object => r !== undefined);
        if (rows.length > 0) await table.bulkPut(rows);
      });
      done += chunk.length;
      deps.onProgress?.(done, total);
    }
  }
  await db.sealing.put({ id: 'rows', keyId: sealer.keyId, sealedAt: deps.now(), rows: total });
  if (total > 0) deps.log.info(`Sealed ${total} rows written before encryption at rest`);
  return total;
}
