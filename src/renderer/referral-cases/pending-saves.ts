import type { ReferralCases } from './referral-case-repo';

/**
 * The wizard writes each typed change as it happens, one after another (each waits for the one before).
 * This counts the writes under way so a lock can wait for them before it reloads the page; a write
 * queued behind one that just settled starts at once, so the flush looks again until none is left.
 */
export function trackPendingSaves(inner: ReferralCases): { cases: ReferralCases; flushPendingSaves: () => Promise<void> } {
  const inFlight = new Set<Promise<unknown>>();
  const cases: ReferralCases = {
    ...inner,
    saveFields(id, fields) {
      const p = inner.saveFields(id, fields);
      inFlight.add(p);
      p.then(
        () => inFlight.delete(p),
        () => inFlight.delete(p),
      );
      return p;
    },
  };
  const flushPendingSaves = async (): Promise<void> => {
    while (inFlight.size > 0) {
      await Promise.allSettled([...inFlight]);
      await new Promise((r) => setTimeout(r, 0));
    }
  };
  return { cases, flushPendingSaves };
}
