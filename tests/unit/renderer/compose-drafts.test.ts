import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { createComposeDrafts } from '../../../src/renderer/case-thread/compose-drafts';
import { createLogger } from '../../../src/shared/log';
import { testRowSealer } from '../../support/test-sealer';
import { deleteDbsAfterEach } from '../../support/test-dbs';

const dbs = deleteDbsAfterEach();

function setup(name = `compose-${Math.random()}`) {
  const db = new TeleradDB(name, { sealer: testRowSealer() });
  dbs.push(db);
  const timers: Array<{ fn: () => void; cleared: boolean }> = [];
  const drafts = createComposeDrafts({
    db,
    now: () => 1000,
    setTimeout: (fn) => {
      const t = { fn, cleared: false };
      timers.push(t);
      return t;
    },
    clearTimeout: (h) => void ((h as { cleared: boolean }).cleared = true),
    log: createLogger('test', () => undefined),
  });
  const firePending = async (): Promise<void> => {
    for (const t of timers.splice(0)) if (!t.cleared) t.fn();
    await drafts.flush();
  };
  return { db, drafts, firePending, name };
}

describe('case thread composer drafts', () => {
  it('keeps the latest typed text after the pause, and it reads back after a reopen', async () => {
    const { drafts, firePending, name, db } = setup();
    drafts.save('1.2.3', 'answer', 'The patient');
    drafts.save('1.2.3', 'answer', 'The patient had a CT in 2024');
    expect(await drafts.load('1.2.3')).toBeUndefined();
    await firePending();
    db.close();
    const again = setup(name);
    expect(await again.drafts.load('1.2.3')).toEqual({ form: 'answer', text: 'The patient had a CT in 2024' });
  });

  it('writes what is waiting at once on flush (a lock does this before it reloads)', async () => {
    const { drafts } = setup();
    drafts.save('1.2.3', 'ask', 'Older films?');
    await drafts.flush();
    expect(await drafts.load('1.2.3')).toEqual({ form: 'ask', text: 'Older films?' });
  });

  it('a discard cancels a waiting write, so sent text does not come back', async () => {
    const { drafts, firePending } = setup();
    drafts.save('1.2.3', 'outcome', 'Discharged');
    await drafts.flush();
    drafts.save('1.2.3', 'outcome', 'Discharged home');
    await drafts.discard('1.2.3');
    await firePending();
    expect(await drafts.load('1.2.3')).toBeUndefined();
  });
});
