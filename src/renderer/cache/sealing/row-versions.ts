import type { DBCore, DBCoreTransaction } from 'dexie';
import type { RowSealer, SealedEnvelope } from './row-sealer';
import { SealedRowError, canonicalValue } from './row-sealer';

/**
 * The version registry of sealed rows (issue 18): which version of each row of a versioned table is the
 * current one, so an older sealed copy put back in place of a newer one (or a deleted row put back) is
 * refused. A version alone inside the row cannot tell: the old copy carries an old version that is just
 * as authentic. So the reference lives apart, authenticated:
 *
 * - one manifest row per versioned table (`rowVersions[<table>]`): `{ seq, versions: { <key>: n } }`,
 *   `seq` counting every write of the table; a row written gets `n = ++seq`;
 * - one head row (`rowVersions['$head']`): `{ seq, sealed, tables: { <table>: <its manifest's seq> } }`,
 *   `seq` counting every head write; `sealed` once every row of the store has been sealed with AAD.
 *
 * Both are sealed (AES-GCM, the outbox key: it is the one key present whenever the cache is open, and
 * they hold only primary keys and counters, which are in clear anyway) with their id as additional
 * data, and rewritten in the same IndexedDB transaction as the rows they describe (the middleware adds
 * `rowVersions` to the scope of every transaction over a versioned table). A row opens only when its
 * authenticated version equals its manifest entry, and a manifest only when its `seq` equals the head's.
 * So an old copy of a row is refused; an old copy of a row with an old copy of its manifest is refused
 * (the head names a later seq); an old head with them is refused when any versioned row written since
 * was kept (its version is unknown to the old manifest), and within a run when its seq is below the
 * highest this page has seen. Out of scope: putting back every versioned row, every manifest and the
 * head as they all were at one moment, i.e. restoring a whole earlier copy of the database — nothing
 * stored on the same disk can tell that from the real thing.
 *
 * Cost: two small extra puts per write transaction (the table's manifest, the head) sealed once per
 * write call, and two gets per read transaction; an opened manifest is kept in memory by its IV and
 * tag, so reading it again costs no decryption.
 */

export const ROW_VERSIONS_TABLE = 'rowVersions';
export const HEAD_ID = '$head';

interface Head {
  seq: number;
  sealed: boolean;
  tables: Record<string, number>;
}

interface Manifest {
  seq: number;
  versions: Record<string, number>;
}

/** The registry as one transaction sees it: read once (per table at first use), changed in memory, written back after each change. */
interface Working {
  head: Promise<Head>;
  manifests: Map<string, Promise<Manifest>>;
  /** Writes of this transaction, one after another (a later one always carries the earlier ones' entries). */
  chain: Promise<void>;
}

interface StoredRegistryRow {
  id: string;
  $sealed: SealedEnvelope;
}

/** The key a row's version is filed under: its primary key as text. */
export function versionKey(primaryKey: unknown): string {
  return typeof primaryKey === 'string' ? primaryKey : `\u0000${JSON.stringify(canonicalValue(primaryKey))}`;
}

function envelopeTag(env: SealedEnvelope): string {
  const c = new Uint8Array(env.c);
  let out = '';
  // IV (bytes 1..12) and GCM tag (last 16): a different ciphertext under the same key cannot share both.
  for (const b of [...c.subarray(0, 13), ...c.subarray(Math.max(13, c.length - 16))]) out += b.toString(16).padStart(2, '0');
  return out;
}

export interface RowVersions {
  /**
   * Starts reading the registry of `table` in `trans` (its gets are issued now, synchronously, once per
   * transaction): call before awaiting a read that will need it, so a one-shot read transaction holds them too.
   */
  prefetch(trans: DBCoreTransaction, table: string): void;
  /** The current version of a row; throws SealedRowError when the registry itself does not hold together. */
  currentVersion(trans: DBCoreTransaction, table: string, primaryKey: unknown): Promise<number | undefined>;
  /** `count` new versions of `table` (recorded by `record`). */
  reserve(trans: DBCoreTransaction, table: string, count: number): Promise<number[]>;
  /** Rows written (key → version) and rows deleted, then the manifest and head written back. */
  record(trans: DBCoreTransaction, table: string, written: readonly [unknown, number][], deleted: readonly unknown[]): Promise<void>;
  /** Marks the store sealed in the head (every row sealed with AAD): from then on rows without an envelope are refused. */
  markSealed(trans: DBCoreTransaction): Promise<void>;
  /** Whether the head, as stored, says the store is sealed (false when there is none yet). Throws when it does not open. */
  headSealed(trans: DBCoreTransaction): Promise<boolean>;
}

/**
 * `settle(trans, store, work)`: resolves with `work` inside a request callback of `trans`, kept alive
 * meanwhile (settleInTransaction of the middleware), so a request made right after WebCrypto answers
 * finds the transaction active.
 */
export type Settle = <T>(trans: unknown, storeName: string, work: Promise<T>) => Promise<T>;

export function createRowVersions(down: () => DBCore, sealer: RowSealer, settle: Settle): RowVersions {
  const perTrans = new WeakMap<object, Working>();
  const opened = new Map<string, { tag: string; value: unknown }>();
  /** The highest head seq this page has read or written: a head going back within a run is a put-back copy. */
  let headSeqSeen = 0;

  const store = () => down().table(ROW_VERSIONS_TABLE);
  const bindingOf = (id: string) => ({ clear: { id } });

  const openRow = async (id: string, raw: unknown): Promise<unknown> => {
    if (raw === undefined) return undefined;
    const row = raw as Partial<StoredRegistryRow>;
    if (!row.$sealed || row.id !== id || Object.keys(row).length !== 2) throw new SealedRowError(`The row version registry (${id}) has no sealed envelope`, 'unsealed');
    const tag = envelopeTag(row.$sealed);
    const cached = opened.get(id);
    if (cached && cached.tag === tag) return cached.value;
    const value = await sealer.open('outbox', ROW_VERSIONS_TABLE, id, row.$sealed, bindingOf(id));
    opened.set(id, { tag, value });
    return value;
  };

  const quiet = <T>(p: Promise<T>): Promise<T> => {
    // Failures are seen by whoever awaits them; none is left unhandled meanwhile.
    p.catch(() => undefined);
    return p;
  };

  const working = (trans: DBCoreTransaction): Working => {
    let w = perTrans.get(trans);
    if (!w) {
      const raw = store().get({ trans, key: HEAD_ID });
      const head = quiet(
        (async (): Promise<Head> => {
          const h = (await openRow(HEAD_ID, await raw)) as Head | undefined;
          if (h && h.seq < headSeqSeen) throw new SealedRowError('The row version registry went back to an older copy', 'replayed');
          if (h) headSeqSeen = h.seq;
          return h ?? { seq: 0, sealed: false, tables: {} };
        })(),
      );
      w = { head, manifests: new Map(), chain: Promise.resolve() };
      perTrans.set(trans, w);
    }
    return w;
  };

  const manifest = (trans: DBCoreTransaction, table: string): Promise<Manifest> => {
    const w = working(trans);
    let m = w.manifests.get(table);
    if (!m) {
      const raw = store().get({ trans, key: table });
      m = quiet(
        (async (): Promise<Manifest> => {
          const [head, row] = await Promise.all([w.head, raw]);
          const found = (await openRow(table, row)) as Manifest | undefined;
          const expected = head.tables[table];
          if (found && expected === undefined) throw new SealedRowError(`The row versions of ${table} are not the ones the registry names`, 'replayed');
          if (!found && expected !== undefined) throw new SealedRowError(`The row versions of ${table} are missing`, 'replayed');
          if (found && found.seq !== expected) throw new SealedRowError(`The row versions of ${table} are an older copy`, 'replayed');
          return found ? { seq: found.seq, versions: { ...found.versions } } : { seq: 0, versions: {} };
        })(),
      );
      w.manifests.set(table, m);
    }
    return m;
  };

  const writeBack = async (trans: DBCoreTransaction, w: Working, tables: readonly string[]): Promise<void> => {
    const old = await w.head;
    const head: Head = { ...old, seq: old.seq + 1, tables: { ...old.tables } };
    const ms = await Promise.all(tables.map((t) => manifest(trans, t)));
    tables.forEach((t, i) => (head.tables[t] = ms[i]!.seq));
    const values = await settle(
      trans,
      ROW_VERSIONS_TABLE,
      Promise.all([
        ...tables.map(async (id, i) => ({ id, $sealed: await sealer.seal('outbox', ROW_VERSIONS_TABLE, id, ms[i], bindingOf(id)) })),
        (async () => ({ id: HEAD_ID, $sealed: await sealer.seal('outbox', ROW_VERSIONS_TABLE, HEAD_ID, head, bindingOf(HEAD_ID)) }))(),
      ]),
    );
    const res = await store().mutate({ type: 'put', trans, values });
    if (res.numFailures > 0) throw new Error('Writing the row version registry failed');
    w.head = Promise.resolve(head);
    // Only once on disk: an aborted transaction leaves the older head, which is then still the current one.
    (trans as unknown as IDBTransaction).addEventListener?.('complete', () => (headSeqSeen = Math.max(headSeqSeen, head.seq)));
  };

  /** Runs `step` after the transaction's earlier registry writes. */
  const serial = (w: Working, step: () => Promise<void>): Promise<void> => {
    const next = w.chain.then(step);
    w.chain = next.catch(() => undefined);
    return next;
  };

  return {
    prefetch(trans, table) {
      void manifest(trans, table);
    },
    async currentVersion(trans, table, primaryKey) {
      return (await manifest(trans, table)).versions[versionKey(primaryKey)];
    },
    async reserve(trans, table, count) {
      const m = await manifest(trans, table);
      const out: number[] = [];
      for (let i = 0; i < count; i++) out.push(++m.seq);
      return out;
    },
    async record(trans, table, written, deleted) {
      const w = working(trans);
      await serial(w, async () => {
        const m = await manifest(trans, table);
        for (const pk of deleted) delete m.versions[versionKey(pk)];
        for (const [pk, n] of written) m.versions[versionKey(pk)] = n;
        await writeBack(trans, w, [table]);
      });
    },
    async markSealed(trans) {
      const w = working(trans);
      await serial(w, async () => {
        const head = await w.head;
        w.head = Promise.resolve({ ...head, sealed: true });
        await writeBack(trans, w, []);
      });
    },
    async headSealed(trans) {
      return (await working(trans).head).sealed;
    },
  };
}
