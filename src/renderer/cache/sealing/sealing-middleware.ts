import Dexie from 'dexie';
import type { DBCore, DBCoreCursor, DBCoreKeyRange, DBCoreRangeType, DBCoreTable, DBCoreTableSchema, DBCoreTransaction, Middleware, Transaction } from 'dexie';
import type { RowSealer, SealKeyName, SealedEnvelope } from './row-sealer';
import { LEGACY_FORMATS, SealedRowError, envelopeFormat } from './row-sealer';
import type { RowVersions } from './row-versions';
import { HEAD_ID, ROW_VERSIONS_TABLE, createRowVersions } from './row-versions';

/** Which tables are sealed, with which key, and which fields beyond the indexed ones stay in clear. */
export interface SealedTablePolicy {
  key: SealKeyName;
  /** Kept in clear for queries and bookkeeping (states, dates, sizes); indexed fields always are. */
  clear: readonly string[];
  /**
   * Issue 18: each row carries a version, checked against the version registry (row-versions.ts), so an
   * old sealed copy is refused. Left off for tables where AAD alone is enough (see SEALING_POLICY).
   */
  versioned?: boolean;
}
export type SealingPolicy = Readonly<Record<string, SealedTablePolicy>>;

/**
 * What the sealing layer knows about the store as a whole: whether it is sealed (every row written
 * with AAD), after which a row without an envelope, or in a format before AAD, is refused rather than
 * read as data. Set at open from the head of the version registry and the sealing marker, and by the
 * migration when it finishes; never set back to false in a run.
 */
export interface SealingState {
  strict: boolean;
}

/** The clear marker of sealing progress (table `sealing`, row 'rows'); mirrors SealingStateRecord. */
export interface SealingMarker {
  id: 'rows';
  keyId: string;
  sealedAt: number;
  rows: number;
  /** 3 once every row is sealed with AAD (issue 18); absent before. */
  format?: number;
}

/** Name of the clear table holding SealingMarker. */
export const SEALING_MARKER_TABLE = 'sealing';

/** What the TeleradDB gets back: the middleware, the store's state, and what the open check and the migration need. */
export interface Sealing {
  middleware: Middleware<DBCore>;
  state: SealingState;
  /**
   * At open: the store is sealed when the marker says format 3 or the registry's head says sealed (a
   * head that does not open counts as sealed: fail closed), or when the registry has rows but no head
   * (deleted: the head is written with every registry row). A head saying not sealed, with rows, is a
   * migration stopped part way: rows not yet rewritten must stay readable. Never throws (the database must open).
   */
  loadState(): Promise<void>;
  /** Whether the head of the registry says sealed (false when absent); throws when it does not open. */
  headSealed(): Promise<boolean>;
  /** The migration's last step: the head says sealed and the marker format 3, in one transaction; then strict. */
  markSealed(marker: SealingMarker): Promise<void>;
}

/** Every key of an index (Dexie's AnyRange: DBCoreRangeType.Any is a const enum, not importable as a value). */
const ANY_KEY: DBCoreKeyRange = { type: 3 as DBCoreRangeType, lower: -Infinity, lowerOpen: false, upper: [[]], upperOpen: false };

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

interface TableContext {
  policy: SealedTablePolicy;
  sealer: RowSealer;
  state: SealingState;
  versions: RowVersions;
  /** The schema has no version registry (a database below v10, opened so by a migration test): rows are written as v9 wrote them (v2). */
  beforeRegistry: boolean;
}

function sealedTable(down: DBCoreTable, ctx: TableContext): DBCoreTable {
  const { policy, sealer, state, versions, beforeRegistry } = ctx;
  const name = down.name;
  const versioned = policy.versioned === true && !beforeRegistry;
  const clear = new Set([...indexedFields(down.schema), ...policy.clear]);
  const pk = down.schema.primaryKey;
  const keyOf = (row: Record<string, unknown>, fallback?: unknown): unknown => (pk.extractKey ? pk.extractKey(row) : fallback);

  const sealOne = async (value: unknown, key: unknown, version: number | undefined): Promise<unknown> => {
    if (typeof value !== 'object' || value === null || isSealedRow(value)) return value;
    const row = value as Record<string, unknown>;
    const kept: Record<string, unknown> = {};
    const hidden: Record<string, unknown> = {};
    for (const [f, v] of Object.entries(row)) (clear.has(f) ? kept : hidden)[f] = v;
    // v3: every field left in clear and the row's version are authenticated with the ciphertext.
    kept[SEALED_FIELD] = beforeRegistry
      ? await sealer.seal(policy.key, name, keyOf(row, key), hidden)
      : await sealer.seal(policy.key, name, keyOf(row, key), hidden, { clear: { ...kept }, ...(version !== undefined ? { version } : {}) });
    return kept;
  };
  /** A row as read from disk, opened; anything that does not authenticate throws SealedRowError (never handed on as data), naming the row. */
  const openOne = async (value: unknown, trans: DBCoreTransaction, key?: unknown): Promise<unknown> => {
    try {
      return await openChecked(value, trans, key);
    } catch (err) {
      if (err instanceof SealedRowError && err.table === undefined) {
        const row = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
        const { [SEALED_FIELD]: _envelope, ...found } = row;
        err.table = name;
        err.primaryKey = key ?? keyOf(found);
        err.found = found;
      }
      throw err;
    }
  };
  const openChecked = async (value: unknown, trans: DBCoreTransaction, key?: unknown): Promise<unknown> => {
    if (!isSealedRow(value)) {
      // Rows written before encryption was on pass as they are until the migration seals them; once the store is sealed, never.
      if (!state.strict || value === undefined) return value;
      throw new SealedRowError(`A ${name} row (${String(key ?? keyOf((value ?? {}) as Record<string, unknown>))}) has no sealed envelope: written outside the app`, 'unsealed');
    }
    const { [SEALED_FIELD]: envelope, ...kept } = value;
    const primaryKey = keyOf(kept, key);
    const format = typeof envelope === 'object' && envelope !== null && envelope.c instanceof ArrayBuffer ? envelopeFormat(envelope) : 0;
    if (LEGACY_FORMATS.includes(format)) {
      if (state.strict) throw new SealedRowError(`A ${name} row (${String(primaryKey)}) is in a format from before its clear fields were authenticated, in a store already sealed`, 'unsealed');
      return { ...((await sealer.open(policy.key, name, primaryKey, envelope)) as Record<string, unknown>), ...kept };
    }
    if (versioned) versions.prefetch(trans, name);
    const hidden = (await sealer.open(policy.key, name, primaryKey, envelope, { clear: kept })) as Record<string, unknown>;
    if (versioned) {
      const current = await versions.currentVersion(trans, name, primaryKey);
      if (current === undefined || envelope.n !== current) {
        throw new SealedRowError(
          current === undefined
            ? `A ${name} row (${String(primaryKey)}) is not one the app wrote (deleted, or put back from elsewhere)`
            : `A ${name} row (${String(primaryKey)}) is an older copy (version ${String(envelope.n)}, current ${current})`,
          'replayed',
        );
      }
    }
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
          if (!isSealedRow(raw) && !state.strict) {
            current = raw;
            onNext();
            return;
          }
          settleInTransaction(cursor.trans, name, openOne(raw, cursor.trans as DBCoreTransaction, cursor.primaryKey)).then(
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

  /** Keys of the rows a range delete will remove (for the version registry). */
  const keysIn = async (trans: DBCoreTransaction, range: Parameters<DBCoreTable['query']>[0]['query']['range']): Promise<unknown[]> =>
    (await down.query({ trans, values: false, query: { index: down.schema.primaryKey, range } })).result;

  return {
    ...down,
    async mutate(req) {
      if (req.type === 'delete' || req.type === 'deleteRange') {
        if (!versioned) return down.mutate(req);
        const keys = req.type === 'delete' ? req.keys : await keysIn(req.trans, req.range);
        const res = await down.mutate(req);
        // A deleted row leaves the registry: put back later, it is refused.
        await settleInTransaction(req.trans, name, versions.record(req.trans, name, [], keys));
        return res;
      }
      if (req.type !== 'add' && req.type !== 'put') return down.mutate(req);
      const keys = req.type === 'put' ? req.keys : undefined;
      const sealAll = async (): Promise<{ values: unknown[]; assigned: (number | undefined)[] }> => {
        const assigned: (number | undefined)[] = versioned ? await versions.reserve(req.trans, name, req.values.length) : req.values.map(() => undefined);
        // Rows handed in already sealed pass as they are (and get no version: they will not open).
        req.values.forEach((v, i) => {
          if (isSealedRow(v)) assigned[i] = undefined;
        });
        const values = await Promise.all(req.values.map((v, i) => sealOne(v, keys?.[i], assigned[i])));
        return { values, assigned };
      };
      const { values, assigned } = await settleInTransaction(req.trans, name, sealAll());
      const res = await down.mutate({ ...req, values });
      if (versioned) {
        // Only what IndexedDB took: a failed add (key already there) must not move the existing row's version.
        const written: [unknown, number][] = [];
        values.forEach((v, i) => {
          const n = assigned[i];
          if (n === undefined || res.failures[i]) return;
          written.push([keys?.[i] ?? keyOf(v as Record<string, unknown>), n]);
        });
        if (written.length > 0) await settleInTransaction(req.trans, name, versions.record(req.trans, name, written, []));
      }
      return res;
    },
    async get(req) {
      const oneShot = isOneShotRead(req.trans);
      if (versioned) versions.prefetch(req.trans, name);
      const row: unknown = await down.get(req);
      if (!isSealedRow(row) && (!state.strict || row === undefined)) return row;
      return oneShot ? openOne(row, req.trans, req.key) : settleInTransaction(req.trans, name, openOne(row, req.trans, req.key));
    },
    async getMany(req) {
      const oneShot = isOneShotRead(req.trans);
      if (versioned) versions.prefetch(req.trans, name);
      const rows: unknown[] = await down.getMany(req);
      if (!anySealed(rows) && !state.strict) return rows;
      const opened = Promise.all(rows.map((r, i) => openOne(r, req.trans, req.keys[i])));
      return oneShot ? opened : settleInTransaction(req.trans, name, opened);
    },
    async query(req) {
      const oneShot = isOneShotRead(req.trans);
      if (versioned && req.values) versions.prefetch(req.trans, name);
      const res = await down.query(req);
      if (!req.values || (!anySealed(res.result) && !state.strict)) return res;
      const opened = Promise.all(res.result.map((r) => openOne(r, req.trans)));
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
 * stay readable on disk: queries need them; since issue 18 they are authenticated with the ciphertext
 * (v3 AAD), versioned tables' rows are checked against the version registry (whose table it adds to
 * the scope of every transaction over one), and once `state.strict` a row without an envelope is refused.
 */
export function createSealing(policy: SealingPolicy, sealer: RowSealer): Sealing {
  const state: SealingState = { strict: false };
  let core: DBCore | undefined;
  const versions = createRowVersions(() => {
    if (!core) throw new Error('the sealing middleware is not in a stack yet');
    return core;
  }, sealer, settleInTransaction);
  const middleware: Middleware<DBCore> = {
    stack: 'dbcore',
    name: 'Sealing',
    level: -2,
    create: (down) => {
      core = down;
      const registry = down.schema.tables.some((t) => t.name === ROW_VERSIONS_TABLE);
      return {
        ...down,
        transaction(stores, mode, options) {
          const needs = stores.some((s) => policy[s]?.versioned) && !stores.includes(ROW_VERSIONS_TABLE) && registry;
          return down.transaction(needs ? [...stores, ROW_VERSIONS_TABLE] : stores, mode, options);
        },
        table(tableName) {
          const table = down.table(tableName);
          const p = policy[tableName];
          return p ? sealedTable(table, { policy: p, sealer, state, versions, beforeRegistry: !registry }) : table;
        },
      };
    },
  };
  const coreNow = (): DBCore => {
    if (!core) throw new Error('the database is not open');
    return core;
  };
  /** Runs `work` in a DBCore transaction kept alive meanwhile, and waits for the transaction to complete. */
  const inTransaction = async <T>(stores: string[], mode: 'readonly' | 'readwrite', work: (trans: DBCoreTransaction) => Promise<T>): Promise<T> => {
    const trans = coreNow().transaction(stores, mode);
    const idb = trans as unknown as IDBTransaction;
    const done = new Promise<void>((resolve, reject) => {
      idb.addEventListener('complete', () => resolve());
      idb.addEventListener('abort', () => reject(idb.error ?? new Error('transaction aborted')));
    });
    done.catch(() => undefined);
    const out = await settleInTransaction(trans, stores[0]!, work(trans));
    await done;
    return out;
  };
  return {
    middleware,
    state,
    async loadState() {
      try {
        const [marker, sealed, headMissing] = await inTransaction([SEALING_MARKER_TABLE, ROW_VERSIONS_TABLE], 'readonly', async (trans) => {
          const m = coreNow().table(SEALING_MARKER_TABLE).get({ trans, key: 'rows' }) as Promise<SealingMarker | undefined>;
          const h = versions.headSealed(trans).catch(() => true);
          // Registry rows with no head: the head was deleted (rows are only ever recorded with it). Keys only, one each.
          const registry = coreNow().table(ROW_VERSIONS_TABLE);
          const head = registry.get({ trans, key: HEAD_ID }) as Promise<unknown>;
          const any = registry.query({ trans, values: false, limit: 1, query: { index: registry.schema.primaryKey, range: ANY_KEY } });
          const missing = Promise.all([head, any]).then(([hd, rows]) => hd === undefined && rows.result.length > 0);
          return Promise.all([m, h, missing]);
        });
        if (sealed || headMissing || (marker?.format ?? 0) >= 3) state.strict = true;
      } catch {
        // No registry table (a database opened below v10 by a test) or IndexedDB failing: what rows say decides.
      }
    },
    headSealed: () => inTransaction([ROW_VERSIONS_TABLE], 'readonly', (trans) => versions.headSealed(trans)),
    async markSealed(marker) {
      await inTransaction([ROW_VERSIONS_TABLE, SEALING_MARKER_TABLE], 'readwrite', async (trans) => {
        await versions.markSealed(trans);
        const res = await coreNow().table(SEALING_MARKER_TABLE).mutate({ type: 'put', trans, values: [marker] });
        if (res.numFailures > 0) throw new Error('Writing the sealing marker failed');
      });
      state.strict = true;
    },
  };
}

/** The middleware alone (tests that need no registry); see createSealing. */
export function createSealingMiddleware(policy: SealingPolicy, sealer: RowSealer): Middleware<DBCore> {
  return createSealing(policy, sealer).middleware;
}
