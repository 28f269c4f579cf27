import { describe, expect, it } from 'vitest';
import type { ReferralCases } from '../../../src/renderer/referral-cases/referral-case-repo';
import { trackPendingSaves } from '../../../src/renderer/referral-cases/pending-saves';

describe('referral wizard saves before a lock', () => {
  it('waits for the write under way and for the one queued behind it', async () => {
    const written: string[] = [];
    const inner = {
      saveFields: (id: string, fields: { clinicalQuestion?: string }) =>
        new Promise((resolve) =>
          setTimeout(() => {
            written.push(fields.clinicalQuestion ?? '');
            resolve({ id });
          }, 20),
        ),
    } as unknown as ReferralCases;
    const { cases, flushPendingSaves } = trackPendingSaves(inner);
    // As the wizard chains them: the second starts when the first has landed.
    let chain: Promise<unknown> = Promise.resolve();
    for (const q of ['Fract', 'Fracture of the distal radius?']) chain = chain.then(() => cases.saveFields('c1', { clinicalQuestion: q }));
    await new Promise((r) => setTimeout(r, 0));
    await flushPendingSaves();
    expect(written).toEqual(['Fract', 'Fracture of the distal radius?']);
  });

  it('does not wait when nothing is being written', async () => {
    const { flushPendingSaves } = trackPendingSaves({ saveFields: async () => ({}) } as unknown as ReferralCases);
    await expect(flushPendingSaves()).resolves.toBeUndefined();
  });
});
