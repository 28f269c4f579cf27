import { describe, expect, it } from 'vitest';
import { createListeners } from '../../../src/shared/store/listeners';
import type { ReferralEntry } from '../../../src/renderer/worklist/referral-lookups';
import type { WorklistState } from '../../../src/renderer/worklist/worklist-store';
import { EMPTY_FILTER, DEFAULT_SORT } from '../../../src/renderer/worklist/worklist-filter';
import { createNewReportNotices } from '../../../src/renderer/reports/new-report-notices';

/** A worklist state holder: the notices only read `getState` and `subscribe`. */
function worklistWith(referrals: Map<string, ReferralEntry>): { getState(): WorklistState; subscribe(l: () => void): () => void; set(r: Map<string, ReferralEntry>): void } {
  const listeners = createListeners();
  let state: WorklistState = {
    sites: [],
    cached: [],
    cachedBytes: new Map(),
    referrals,
    localStatus: new Map(),
    referralLookups: true,
    filter: EMPTY_FILTER,
    sort: DEFAULT_SORT,
    refreshing: false,
  };
  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    set(r) {
      state = { ...state, referrals: r };
      listeners.notify();
    },
  };
}

const entry = (hasReport: boolean | undefined): ReferralEntry =>
  hasReport === undefined
    ? { state: 'done', version: '1' }
    : { state: 'done', version: '2', record: { studyInstanceUID: 's', siteId: 'a', attachments: [], hasReport, fetchedAt: 0 } };

describe('"new report" notices', () => {
  it('a study seen without a report that later has one raises one notice; reported from the start raises none', () => {
    const wl = worklistWith(new Map([['a|s1', entry(undefined)], ['a|s2', entry(true)]]));
    const notices = createNewReportNotices({ worklist: wl, now: () => 5 });
    expect(notices.getState()).toEqual([]);
    wl.set(new Map([['a|s1', entry(true)], ['a|s2', entry(true)]]));
    expect(notices.getState().map((n) => n.studyInstanceUID)).toEqual(['s1']);
    wl.set(new Map([['a|s1', { ...entry(true), version: '3' }], ['a|s2', entry(true)]]));
    expect(notices.getState()).toHaveLength(1);
    notices.dismiss('a|s1');
    expect(notices.getState()).toEqual([]);
    notices.stop();
  });
});
