import { createNoticeList } from '../../shared/store/notice-list';
import type { NoticeList } from '../../shared/store/notice-list';
import type { DeliveredJob } from './outbox-store';

export interface DeliveryNotice {
  key: number;
  /** "Report delivered to Hospital A" */
  text: string;
  jobId: string;
}

export interface DeliveryNotices extends NoticeList<DeliveryNotice> {
  /** Stops listening to the outbox. */
  dispose(): void;
}

/** Readable notice text per kind of job. */
export function deliveryText(job: Pick<DeliveredJob, 'kind' | 'siteName'>): string {
  return `${job.kind === 'referral' ? 'Referral' : 'Report'} delivered to ${job.siteName}`;
}

/**
 * The non-blocking "Report delivered to <site>" notices: one per delivered
 * job, gone by themselves after `showMs` (or when dismissed).
 */
export function createDeliveryNotices(deps: {
  onDelivered: (listener: (job: DeliveredJob) => void) => () => void;
  setTimeout: (fn: () => void, ms: number) => unknown;
  showMs?: number;
}): DeliveryNotices {
  const notices = createNoticeList<DeliveryNotice>();
  let seq = 0;
  const unsubscribe = deps.onDelivered((job) => {
    const key = ++seq;
    notices.add([{ key, text: deliveryText(job), jobId: job.jobId }]);
    deps.setTimeout(() => notices.dismiss(key), deps.showMs ?? 8000);
  });
  return { getState: notices.getState, subscribe: notices.subscribe, dismiss: notices.dismiss, dispose: unsubscribe };
}
