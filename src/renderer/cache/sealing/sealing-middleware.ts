import Dexie from 'dexie';
import type { DBCore, DBCoreCursor, DBCoreTable, DBCoreTableSchema, Middleware, Transaction } from 'dexie';
import type { RowSealer, SealKeyName, SealedEnvelope } from './row-sealer';

/** Which tables are sealed, with which key, and which fields beyond the indexed ones stay in clear. */
export interface SealedTablePolicy {
  key: SealKeyName;
  /** Kept in clear for queries and bookkeeping (states, dates, sizes); indexed fields always are. */
  clear: readonly string[];
}
export type SealingPolicy = Readonly<Record<string, SealedTablePolicy>>;

/** The property a sealed row keeps its ciphertext in. */
export const SEALED_FIELD = '$sealed';

interface SealedRow {
  [SEALED_FIELD]: SealedEnvelope;
  [field: string]: unknown;
}

export function isSealedRow(v: unknown): v is SealedRow {
  return typeof v === 'object' && v !== null && SEALED_FIELD in v;
}

/**
 * WebCrypto answers in a later task, by which time IndexedDB would have committed a transaction with no
 * request pending (and then refuse the next one). So while `work` runs, keep the transaction busy with
 * cheap reads, and settle only inside one of their success callbacks, where the transaction is active
 * again for whatever the caller does next. The same technique as Dexie.waitFor, at the DBCore level.
 */
export function settleInTransaction<T>(trans: unknown, storeName: string, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    work.then(
      (value) => (outcome = { ok: true, value }),
      (error: unknown) => (outcome = { ok: false, error }),
    );
    let store: IDBObjectStore;
    try {
      store = (trans as IDBTransaction).objectStore(storeName);
    } catch {
      // No transaction to keep alive (already finished): settle plainly; the caller's next request will say why.
      work.then(resolve, reject);
      return;
    }
    const spin = (): void => {
      if (outcome) {
        if (outcome.ok) resolve(outcome.value);
        else reject(outcome.error);
        return;
      }
      let req: IDBRequest;
      try {
        req = store.get(-Infinity);
      } catch (err) {
        reject(err);
        return;
      }
      req.onsuccess = spin;
      req.onerror = () => reject(req.error);
    };
    spin();
  });
}

/**
 * Whether a read runs in a read-only transaction Dexie made for that one call (`db.table.get(k)` outside
 * db.transaction()): Dexie hands the result back without another request in it, so the rows can be
 * opened without keeping it alive, saving an IndexedDB round trip (and the spinning) per read. Asked
 * synchronously at the call, while Dexie's zone still names the transaction; anything unsure (no
 * current transaction, another one, explicit, read-write) keeps it alive as before.
 */
function isOneShotRead(trans: unknown): boolean {
  const current = Dexie.currentTransaction as Transaction | null;
  return !!current && current.idbtrans === trans && current.explicit !== true && !current.parent && (trans as IDBTransaction).mode === 'readonly';
}

/** Indexed key paths of a table (primary key and indexes), flattened to their top-level field names. */
function indexedFields(schema: DBCoreTableSchema): Set<string> {
  const out = new Set<string>();
  const add = (kp: string | string[] | null | undefined): void => {
    if (!kp) return;
    for (const p of Array.isArray(kp) ? kp : [kp]) out.add(p.split('.')[0]!);
  };
  add(schema.primaryKey.keyPath);
  for (const ix of schema.indexes) add(ix.keyPath);
  return out;
}

function sealedTable(down: DBCoreTable, policy: SealedTablePolicy, sealer: RowSealer): DBCoreTable {
  const name = down.name;
  const clear = new Set([...indexedFields(down.schema), ...policy.clear]);
  const pk = down.schema.primaryKey;
  const keyOf = (row: Record<string, unknown>, fallback?: unknown): unknown => (pk.extractKey ? pk.extractKey(row) : fallback);

  const sealOne = async (value: unknown, key?: unknown): Promise<unknown> => {
    if (typeof value !== 'object' || value === null || isSealedRow(value)) return value;
    const row = value as Record<string, unknown>;
    const kept: Record<string, unknown> = {};
    const hidden: Record<string, unknown> = {};
    for (const [f, v] of Object.entries(row)) (clear.has(f) ? kept : hidden)[f] = v;
    kept[SEALED_FIELD] = await sealer.seal(policy.key, name, keyOf(row, key), hidden);
    return kept;
  };
  const openOne = async (value: unknown, key?: unknown): Promise<unknown> => {
    // Rows written before encryption was on pass as they are until the migration seals them.
    if (!isSealedRow(value)) return value;
    const { [SEALED_FIELD]: envelope, ...kept } = value;
    const hidden = (await sealer.open(policy.key, name, keyOf(kept, key), envelope)) as Record<string, unknown>;
    return { ...hidden, ...kept };
  };
  const anySealed = (values: readonly unknown[]): boolean => values.some(isSealedRow);

  const wrapCursor = (cursor: DBCoreCursor): DBCoreCursor => {
    let current: unknown = cursor.value;
    const wrapped: DBCoreCursor = {
      get trans() {
        return cursor.trans;
      },
      get key() {
        return cursor.key;
      },
      get primaryKey() {
        return cursor.primaryKey;
      },
      get value() {
        return current;
      },
      get done() {
        return cursor.done;
      },
      continue: (key?: unknown) => cursor.continue(key),
      continuePrimaryKey: (key: unknown, primaryKey: unknown) => cursor.continuePrimaryKey(key, primaryKey),
      advance: (count: number) => cursor.advance(count),
      stop: (value?: unknown) => cursor.stop(value),
      fail: (error: Error) => cursor.fail(error),
      // Each step: open the row first (the transaction kept alive meanwhile), then hand it on.
      start: (onNext: () => void) =>
        cursor.start(() => {
          const raw = cursor.value;
          if (!isSealedRow(raw)) {
            current = raw;
            onNext();
            return;
          }
          settleInTransaction(cursor.trans, name, openOne(raw, cursor.primaryKey)).then(
            (row) => {
              current = row;
              try {
                onNext();
              } catch (err) {
                cursor.fail(err as Error);
              }
            },
            (err: unknown) => cursor.fail(err as Error),
          );
        }),
      next() {
        let gotOne = 1;
        return this.start(() => (gotOne-- ? this.continue() : this.stop())).then(() => this);
      },
    };
    return wrapped;
  };

  return {
    ...down,
    async mutate(req) {
      if (req.type !== 'add' && req.type !== 'put') return down.mutate(req);
      const keys = req.type === 'put' ? req.keys : undefined;
      const values = await settleInTransaction(
        req.trans,
        name,
        Promise.all(req.values.map((v, i) => sealOne(v, keys?.[i]))),
      );
      return down.mutate({ ...req, values });
    },
    async get(req) {
      const oneShot = isOneShotRead(req.trans);
      const row: unknown = await down.get(req);
      if (!isSealedRow(row)) return row;
      return oneShot ? openOne(row, req.key) : settleInTransaction(req.trans, name, openOne(row, req.key));
    },
    async getMany(req) {
      const oneShot = isOneShotRead(req.trans);
      const rows: unknown[] = await down.getMany(req);
      if (!anySealed(rows)) return rows;
      const opened = Promise.all(rows.map((r, i) => openOne(r, req.keys[i])));
      return oneShot ? opened : settleInTransaction(req.trans, name, opened);
    },
    async query(req) {
      const oneShot = isOneShotRead(req.trans);
      const res = await down.query(req);
      if (!req.values || !anySealed(res.result)) return res;
      const opened = Promise.all(res.result.map((r) => openOne(r)));
      return { ...res, result: await (oneShot ? opened : settleInTransaction(req.trans, name, opened)) };
    },
    async openCursor(req) {
      const cursor = await down.openCursor(req);
      return cursor && req.values ? wrapCursor(cursor) : cursor;
    },
  };
}

/**
 * Dexie middleware that seals the clinical fields of the tables in `policy` (AES-GCM, see RowSealer)
 * before they reach IndexedDB and opens them on the way back, so every repository above reads and
 * writes plain records. It sits below Dexie's own middlewares (level -2): hooks, liveQuery and the
 * cache see plain rows; only IndexedDB sees ciphertext. Indexed fields and the policy's `clear` fields
 * stay readable on disk: queries need them.
 */
export function createSealingMiddleware(policy: SealingPolicy, sealer: RowSealer): Middleware<DBCore> {
  return {
    stack: 'dbcore',
    name: 'Sealing',
    level: -2,
    create: (down) => ({
      ...down,
      table(tableName) {
        const table = down.table(tableName);
        const p = policy[tableName];
        return p ? sealedTable(table, p, sealer) : table;
      },
    }),
  };
}
