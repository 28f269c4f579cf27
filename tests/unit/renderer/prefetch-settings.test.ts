import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { createPrefetchSettings } from '../../../src/renderer/prefetch/prefetch-settings';
import { testRowSealer } from '../../support/test-sealer';

const log = createLogger('test', () => undefined);
const dbs: TeleradDB[] = [];
let n = 0;
function freshDb(): TeleradDB {
  const db = new TeleradDB(`prefetch-settings-${process.pid}-${n++}`, { sealer: testRowSealer() });
  dbs.push(db);
  return db;
}

afterEach(async () => {
  for (const db of dbs.splice(0)) {
    db.close();
    await db.delete();
  }
});

describe('prefetch settings', () => {
  it('keeps marks, keep-offline sites and the bandwidth cap across sessions, and asks for a new plan on each change', async () => {
    const db = freshDb();
    let kicks = 0;
    const first = createPrefetchSettings(db, log, () => kicks++);
    await first.setMark('a', '1.2.3', true);
    await first.setMark('a', '1.2.4', true);
    await first.setMark('a', '1.2.4', false);
    await first.setKeepOffline('b', true);
    await first.setBandwidthCap(512 * 1024);
    expect(kicks).toBe(5);

    const second = createPrefetchSettings(db, log, () => undefined);
    await second.load();
    expect(second.getState()).toMatchObject({ loaded: true, bandwidthCap: 512 * 1024 });
    expect([...second.getState().marks]).toEqual(['1.2.3']);
    expect([...second.getState().keepOffline]).toEqual(['b']);
    expect((await second.marks()).map((m) => m.studyInstanceUID)).toEqual(['1.2.3']);
    expect([...(await second.keepOfflineSites())]).toEqual(['b']);
    expect(await second.bandwidthCap()).toBe(512 * 1024);
  });

  it('removes the cap when it is cleared', async () => {
    const db = freshDb();
    const s = createPrefetchSettings(db, log, () => undefined);
    await s.setBandwidthCap(100_000);
    await s.setBandwidthCap(undefined);
    expect(await s.bandwidthCap()).toBeUndefined();
    expect(s.getState().bandwidthCap).toBeUndefined();
  });
});
