import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { CaseNoteRecord } from '../../../src/renderer/cache/telerad-db';
import { OUTBOX_TABLE, createOutboxEnqueue } from '../../../src/renderer/outbox/outbox-enqueue';
import { testRowSealer } from '../../support/test-sealer';

const note = (uid: string): CaseNoteRecord => ({ sopInstanceUID: uid, studyInstanceUID: '1.2.3', siteId: 'a', kind: 'consult', outboxJobId: 'job-1', author: 'Dr A', createdAt: 5 });

describe('putting a delivery into the outbox', () => {
  it('writes a queued job in the producer\u2019s transaction and wakes the scheduler only after it commits', async () => {
    const db = new TeleradDB(`enqueue-${Math.random()}`, { sealer: testRowSealer() });
    const seenAtWake: number[] = [];
    let wakes = 0;
    const enqueue = createOutboxEnqueue(() => {
      wakes++;
      void db.outboxJobs.count().then((n) => seenAtWake.push(n));
    });
    await db.transaction('rw', [OUTBOX_TABLE, db.caseNotes], async (tx) => {
      await enqueue(tx, { id: 'job-1', siteId: 'a', studyInstanceUID: '1.2.3', kind: 'referral', label: 'Note', instances: [{ sopInstanceUID: '9.1', sopClassUID: '1.2.840.10008.5.1.4.1.1.88.11', seriesInstanceUID: '9', bytes: new ArrayBuffer(4) }], createdAt: 5 });
      expect(wakes).toBe(0);
      await db.caseNotes.add(note('9.1'));
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(wakes).toBe(1);
    expect(seenAtWake).toEqual([1]);
    const job = await db.outboxJobs.get('job-1');
    expect(job).toMatchObject({ state: 'queued', attempts: 0, nextAttemptAt: 5, uncertain: false, instances: [{ sopInstanceUID: '9.1', state: 'pending' }] });
    db.close();
  });

  it('leaves no job and wakes nothing when the producer\u2019s transaction aborts', async () => {
    const db = new TeleradDB(`enqueue-${Math.random()}`, { sealer: testRowSealer() });
    let wakes = 0;
    const enqueue = createOutboxEnqueue(() => void wakes++);
    await expect(
      db.transaction('rw', [OUTBOX_TABLE, db.caseNotes], async (tx) => {
        await enqueue(tx, { id: 'job-2', siteId: 'a', studyInstanceUID: '1.2.3', kind: 'referral', label: 'Note', instances: [], createdAt: 5 });
        throw new Error('the case was sent meanwhile');
      }),
    ).rejects.toThrow('sent meanwhile');
    await new Promise((r) => setTimeout(r, 20));
    expect(wakes).toBe(0);
    expect(await db.outboxJobs.count()).toBe(0);
    db.close();
  });
});
