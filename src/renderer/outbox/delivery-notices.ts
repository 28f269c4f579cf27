import { createListeners } from '../../shared/store/listeners';
import type { DeliveredJob } from './outbox-store';

export interface DeliveryNotice {
  key: number;
  /** "Report delivered to Hospital A" */
  text: string;
  jobId: string;
}

export interface DeliveryNotices {
  getState(): readonly DeliveryNotice[];
  subscribe(listener: () => void): () => void;
  dismiss(key: number): void;
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
  const listeners = createListeners();
  let list: readonly DeliveryNotice[] = [];
  let seq = 0;
  const dismiss = (key: number): void => {
    const next = list.filter((n) => n.key !== key);
    if (next.length === list.length) return;
    list = next;
    listeners.notify();
  };
  const unsubscribe = deps.onDelivered((job) => {
    const key = ++seq;
    list = [...list, { key, text: deliveryText(job), jobId: job.jobId }];
    listeners.notify();
    deps.setTimeout(() => dismiss(key), deps.showMs ?? 8000);
  });
  return { getState: () => list, subscribe: listeners.subscribe, dismiss, dispose: unsubscribe };
}
