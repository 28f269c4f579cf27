import { randomBytes } from 'node:crypto';
import Dexie from 'dexie';
import { TELERAD_DB_SCHEMA_V7, TELERAD_DB_VERSION } from '../../src/renderer/cache/telerad-db';
import { SEALED_FIELD } from '../../src/renderer/cache/sealing/sealing-middleware';
import type { RowSealer, SealKeyName } from '../../src/renderer/cache/sealing/row-sealer';
import { createRowSealer } from '../../src/renderer/cache/sealing/row-sealer';

/** Fresh random vault keys, as main's vault hands them over (base64 of 32 bytes each). */
export function randomVaultKeys(): { dataKey: string; outboxKey: string; keyId: string } {
  return {
    dataKey: randomBytes(32).toString('base64'),
    outboxKey: randomBytes(32).toString('base64'),
    keyId: randomBytes(8).toString('hex'),
  };
}

/** One vault per test process: databases reopened in a test ("after a reload") open with the same key. */
const PROCESS_KEYS = randomVaultKeys();

/**
 * A real RowSealer (WebCrypto AES-GCM) usable where a constructor cannot await: it imports its keys on
 * first use. Tests of the cache, outbox and reports open their databases with one, so they run through
 * the same sealing layer as the app.
 */
export function testRowSealer(keys = PROCESS_KEYS): RowSealer {
  const ready = createRowSealer(keys);
  let dropped = false;
  return {
    keyId: keys.keyId,
    hasKey: (name: SealKeyName) => name === 'outbox' || !dropped,
    seal: async (name, table, pk, payload, bound) => (await ready).seal(name, table, pk, payload, bound),
    open: async (name, table, pk, env, bound) => (await ready).open(name, table, pk, env, bound),
    dropDataKey: () => {
      dropped = true;
      void ready.then((s) => s.dropDataKey());
    },
  };
}

/**
 * Flips the last byte of a sealed row's ciphertext as IndexedDB holds it (the large-field part when there
 * is one), as a failing disk or a hand edit would: read and written under the sealing layer.
 */
export async function flipSealedByte(dbName: string, table: string, key: string): Promise<void> {
  const raw = new Dexie(dbName);
  raw.version(TELERAD_DB_VERSION).stores(TELERAD_DB_SCHEMA_V7);
  try {
    const row = (await raw.table(table).get(key)) as Record<string, { c: ArrayBuffer; b?: ArrayBuffer[] }> | undefined;
    const envelope = row?.[SEALED_FIELD];
    if (!row || !envelope) throw new Error(`${table} ${key} is not a sealed row`);
    const view = new Uint8Array(envelope.b?.[0] ?? envelope.c);
    view[view.length - 1] = view[view.length - 1]! ^ 0xff;
    await raw.table(table).put(row);
  } finally {
    raw.close();
  }
}
