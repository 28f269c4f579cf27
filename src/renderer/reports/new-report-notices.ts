import { createNoticeList } from '../../shared/store/notice-list';
import type { NoticeList } from '../../shared/store/notice-list';
import type { WorklistState } from '../worklist';

/** One "new report" notice: a study of the worklist whose site now holds a report. */
export interface NewReportNotice {
  key: string;
  studyInstanceUID: string;
  patientName: string;
  description: string;
  at: number;
}

export interface NewReportNotices extends NoticeList<NewReportNotice> {
  /** Stops watching the worklist. */
  stop(): void;
}

export interface NewReportNoticesDeps {
  worklist: { getState(): WorklistState; subscribe(listener: () => void): () => void };
  now: () => number;
}

/**
 * Watches the worklist's referral answers: a study seen without a report
 * that is later answered with one (a report arrived at its site) raises a
 * notice. The first answer for a study only sets what is known, so opening
 * the app on a worklist full of reported cases raises nothing.
 */
export function createNewReportNotices(deps: NewReportNoticesDeps): NewReportNotices {
  const notices = createNoticeList<NewReportNotice>();
  const known = new Map<string, boolean>();
  let lastReferrals: WorklistState['referrals'] | undefined;

  const check = (): void => {
    const state = deps.worklist.getState();
    if (state.referrals === lastReferrals) return;
    lastReferrals = state.referrals;
    const fresh: NewReportNotice[] = [];
    for (const [key, entry] of state.referrals) {
      if (entry.state !== 'done') continue;
      const has = entry.record?.hasReport === true;
      const before = known.get(key);
      known.set(key, has);
      if (has && before === false && !notices.has(key)) {
        const uid = key.slice(key.indexOf('|') + 1);
        const row = state.sites.flatMap((s) => s.rows).find((r) => r.studyInstanceUID === uid) ?? state.cached.find((c) => c.studyInstanceUID === uid);
        fresh.push({ key, studyInstanceUID: uid, patientName: row?.patientName ?? '', description: row?.description ?? '', at: deps.now() });
      }
    }
    notices.add(fresh);
  };
  check();
  const unsubscribe = deps.worklist.subscribe(check);
  return {
    getState: notices.getState,
    subscribe: notices.subscribe,
    dismiss: notices.dismiss,
    stop: unsubscribe,
  };
}
