import Dexie from 'dexie';
import { afterEach } from 'vitest';
import type { TeleradDB } from '../../src/renderer/cache/telerad-db';

/**
 * Registers an `afterEach` that closes and deletes every database pushed to
 * the returned list during the test. Call once at the top of a test file.
 */
export function deleteDbsAfterEach(): { push(...dbs: TeleradDB[]): void } {
  let dbs: TeleradDB[] = [];
  afterEach(async () => {
    for (const db of dbs) db.close();
    for (const name of new Set(dbs.map((db) => db.name))) await Dexie.delete(name);
    dbs = [];
  });
  return { push: (...more) => void dbs.push(...more) };
}
