import type { Logger } from '../../shared/log';
import { createListeners } from '../../shared/store/listeners';
import type { OutboxJobRecord, OutboxJobState } from '../cache/telerad-db';
import type { SendProgress } from './outbox-batches';
import type { OutboxRepo, RefusedOutboxJob } from './outbox-repo';
import { ONLY_BY_USER } from './outbox-repo';

/** One job as the panel shows it: no Part 10 bytes. */
export interface OutboxJobView {
  id: string;
  siteId: string;
  /** The site's name when known, else its id. */
  siteName: string;
  kind: OutboxJobRecord['kind'];
  label: string;
  studyInstanceUID: string;
  reportId?: string;
  state: OutboxJobState;
  attempts: number;
  lastError?: string;
  /** Undefined when it waits for the user ("retry now") rather than for a time. */
  nextAttemptAt?: number;
  uncertain: boolean;
  createdAt: number;
  sentAt?: number;
  instances: { sopInstanceUID: string; sopClassUID: string; state: 'pending' | 'stored' | 'failed'; error?: string; bytes: number }[];
  /** While a run of this job is under way: rate and time left. */
  progress?: SendProgress;
  /** Issue 18: its stored row failed its integrity check: not sent, cannot be retried, kept on disk. */
  refused?: true;
}

/** A refused job as the panel shows it: failed, with the reason; what its clear fields say, marked as not trusted. */
export function refusedJobView(job: RefusedOutboxJob): OutboxJobView {
  return {
    id: job.id,
    siteId: '',
    siteName: job.found.siteId ? `${job.found.siteId} (as found on disk, not trusted)` : 'unknown',
    kind: job.found.kind === 'referral' ? 'referral' : 'report',
    label: `${job.found.kind === 'referral' ? 'Referral' : 'Report'} changed outside the app`,
    studyInstanceUID: '',
    state: 'failed',
    attempts: 0,
    lastError: job.reason,
    uncertain: false,
    createdAt: job.found.createdAt ?? 0,
    instances: [],
    refused: true,
  };
}

export interface OutboxState {
  jobs: OutboxJobView[];
  /** Jobs not yet sent: the header's "Outbox (n)". */
  unsent: number;
  online: boolean;
  loaded: boolean;
  /** Bumps with every change, so a late read of the table cannot overwrite a newer one. */
  revision: number;
  /** The upload rate the last answered batch measured (bytes/s), for "about n min" before sending. */
  lastUploadBytesPerSecond?: number;
}

/** "n of N instances, x MB of y MB": what of a job the site has. */
export function jobTotals(job: Pick<OutboxJobView, 'instances'>): { storedCount: number; count: number; storedBytes: number; totalBytes: number } {
  let storedCount = 0;
  let storedBytes = 0;
  let totalBytes = 0;
  for (const i of job.instances) {
    totalBytes += i.bytes;
    if (i.state === 'stored') {
      storedCount += 1;
      storedBytes += i.bytes;
    }
  }
  return { storedCount, count: job.instances.length, storedBytes, totalBytes };
}

/** What a delivery notice says. */
export interface DeliveredJob {
  jobId: string;
  siteId: string;
  siteName: string;
  kind: OutboxJobRecord['kind'];
  label: string;
  reportId?: string;
  studyInstanceUID: string;
  /** What reached the site (the audit trail lists it without reading the job again). */
  sopInstanceUIDs: string[];
}

export interface OutboxStore {
  getState(): OutboxState;
  subscribe(listener: () => void): () => void;
  /** Re-reads the jobs (coalesced: one read at a time, another after it if asked meanwhile). */
  refresh(): void;
  /** One job as the scheduler just wrote it: no need to read the whole table (and every job's bytes) again. */
  put(job: OutboxJobRecord): void;
  delivered(job: OutboxJobRecord): void;
  /** A job's run: its progress (undefined when the run ended). */
  setProgress(jobId: string, progress: SendProgress | undefined): void;
  onDelivered(listener: (job: DeliveredJob) => void): () => void;
}

export function toJobView(job: OutboxJobRecord, siteName: string): OutboxJobView {
  return {
    id: job.id,
    siteId: job.siteId,
    siteName,
    kind: job.kind,
    label: job.label,
    studyInstanceUID: job.studyInstanceUID,
    ...(job.reportId !== undefined ? { reportId: job.reportId } : {}),
    state: job.state,
    attempts: job.attempts,
    ...(job.lastError !== undefined ? { lastError: job.lastError } : {}),
    ...(job.nextAttemptAt < ONLY_BY_USER ? { nextAttemptAt: job.nextAttemptAt } : {}),
    uncertain: job.uncertain,
    createdAt: job.createdAt,
    ...(job.sentAt !== undefined ? { sentAt: job.sentAt } : {}),
    instances: job.instances.map((i) => ({
      sopInstanceUID: i.sopInstanceUID,
      sopClassUID: i.sopClassUID,
      state: i.state,
      ...(i.error !== undefined ? { error: i.error } : {}),
      bytes: i.bytes.byteLength,
    })),
  };
}

export function createOutboxStore(deps: {
  repo: Pick<OutboxRepo, 'list'>;
  log: Logger;
  siteName: (siteId: string) => string | undefined;
  isOnline: () => boolean;
  /** Jobs refused for failing their integrity check, shown as failed after the others. */
  refused?: () => readonly RefusedOutboxJob[];
}): OutboxStore {
  const listeners = createListeners();
  const deliveredListeners = new Set<(job: DeliveredJob) => void>();
  let state: OutboxState = { jobs: [], unsent: 0, online: deps.isOnline(), loaded: false, revision: 0 };
  let reading = false;
  let again = false;
  const progress = new Map<string, SendProgress>();
  let lastRate: number | undefined;
  const nameOf = (siteId: string): string => deps.siteName(siteId) ?? siteId;
  const withProgress = (view: OutboxJobView): OutboxJobView => {
    const p = progress.get(view.id);
    if (p) return { ...view, progress: p };
    if (!view.progress) return view;
    const { progress: _ended, ...rest } = view;
    return rest;
  };
  const publish = (listed: OutboxJobView[], loaded: boolean): void => {
    const refused = (deps.refused?.() ?? []).map(refusedJobView);
    const jobs = [...listed.filter((j) => !j.refused && !refused.some((r) => r.id === j.id)), ...refused];
    state = {
      jobs: jobs.map(withProgress),
      unsent: jobs.filter((j) => j.state !== 'sent').length,
      online: deps.isOnline(),
      loaded,
      revision: state.revision + 1,
      ...(lastRate !== undefined ? { lastUploadBytesPerSecond: lastRate } : {}),
    };
    listeners.notify();
  };

  const read = async (): Promise<void> => {
    reading = true;
    try {
      do {
        again = false;
        const rows = await deps.repo.list();
        publish(
          rows.map((j) => toJobView(j, nameOf(j.siteId))),
          true,
        );
      } while (again);
    } catch (err) {
      deps.log.warn('Reading the outbox failed', err);
    } finally {
      reading = false;
    }
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    refresh() {
      if (reading) {
        again = true;
        return;
      }
      void read();
    },
    put(job) {
      const view = toJobView(job, nameOf(job.siteId));
      const at = state.jobs.findIndex((j) => j.id === job.id);
      // A job this list has not seen yet: it came from elsewhere (signing); read them all to place it right.
      if (at < 0) {
        this.refresh();
        return;
      }
      const jobs = [...state.jobs];
      jobs[at] = view;
      publish(jobs, state.loaded);
      // A full read under way started before this write: read again after it, so it cannot overwrite this.
      if (reading) again = true;
    },
    setProgress(jobId, p) {
      if (p) progress.set(jobId, p);
      else progress.delete(jobId);
      if (p?.bytesPerSecond !== undefined) lastRate = p.bytesPerSecond;
      publish(state.jobs, state.loaded);
    },
    delivered(job) {
      const notice: DeliveredJob = {
        jobId: job.id,
        siteId: job.siteId,
        siteName: nameOf(job.siteId),
        kind: job.kind,
        label: job.label,
        studyInstanceUID: job.studyInstanceUID,
        sopInstanceUIDs: job.instances.map((i) => i.sopInstanceUID),
        ...(job.reportId !== undefined ? { reportId: job.reportId } : {}),
      };
      for (const l of [...deliveredListeners]) {
        try {
          l(notice);
        } catch (err) {
          deps.log.error('A delivery listener failed', err);
        }
      }
    },
    onDelivered(listener) {
      deliveredListeners.add(listener);
      return () => {
        deliveredListeners.delete(listener);
      };
    },
  };
}
