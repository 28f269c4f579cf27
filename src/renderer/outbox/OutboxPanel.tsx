import { useState, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { OutboxJobState } from '../cache/telerad-db';
import { formatDuration, formatMegabytes, formatRate } from './outbox-batches';
import type { DeliveryNotices } from './delivery-notices';
import { jobTotals } from './outbox-store';
import type { OutboxJobView, OutboxState } from './outbox-store';
import './outbox.css';

/** What the panel needs of the outbox. */
export interface OutboxView {
  getState(): OutboxState;
  subscribe(listener: () => void): () => void;
  retryNow(jobId: string): Promise<void>;
}

const STATE_LABEL: Record<OutboxJobState, string> = {
  queued: 'queued',
  sending: 'sending',
  sent: 'sent',
  failed: 'failed',
};

function formatTime(ms: number | undefined): string {
  if (ms === undefined) return '—';
  const d = new Date(ms);
  const sameDay = new Date().toDateString() === d.toDateString();
  return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
}

/** What the job waits for, in words: the network, a time, or the user. */
function waitingFor(job: OutboxJobView, online: boolean): string | undefined {
  if (job.state === 'sent' || job.state === 'sending' || job.refused) return undefined;
  if (!online) return 'waiting for the network';
  if (job.nextAttemptAt === undefined) return 'waiting for you: retry now when fixed';
  if (job.state === 'failed') return `next try at ${formatTime(job.nextAttemptAt)}`;
  return undefined;
}

/** The header button: "Outbox (n)", n = jobs not yet delivered. */
export function OutboxButton({ outbox, pressed, onToggle }: { outbox: OutboxView; pressed: boolean; onToggle: () => void }): JSX.Element {
  const state = useSyncExternalStore(outbox.subscribe, outbox.getState, outbox.getState);
  const failed = state.jobs.some((j) => j.state === 'failed');
  return (
    <button
      type="button"
      className="btn btn-small outbox-button"
      data-testid="outbox-button"
      data-unsent={state.unsent}
      data-failed={failed ? 'true' : 'false'}
      aria-pressed={pressed}
      aria-label={`Outbox, ${state.unsent} not yet sent`}
      onClick={onToggle}
    >
      Outbox ({state.unsent})
    </button>
  );
}

/** "12 of 300 instances, 6.1 MB of 157 MB" — what the site has. */
function JobAmounts({ job }: { job: OutboxJobView }): JSX.Element {
  const t = jobTotals(job);
  return (
    <span data-testid="outbox-job-amounts">
      {t.storedCount} of {t.count} instances, {formatMegabytes(t.storedBytes)} of {formatMegabytes(t.totalBytes)}
    </span>
  );
}

function OutboxRow({ job, online, onRetry }: { job: OutboxJobView; online: boolean; onRetry: (id: string) => void }): JSX.Element {
  const [asked, setAsked] = useState(false);
  const wait = waitingFor(job, online);
  const canRetry = !job.refused && (job.state === 'failed' || job.state === 'queued');
  return (
    <li
      className="outbox-row"
      data-testid="outbox-job"
      data-job-id={job.id}
      data-state={job.state}
      {...(job.refused ? { 'data-refused': 'true' } : {})}
      aria-label={`${job.label}: ${STATE_LABEL[job.state]}`}
    >
      <div className="outbox-row-head">
        <span className="outbox-label">{job.label}</span>
        <span className={`outbox-state outbox-state-${job.state}`} data-testid="outbox-job-state">
          {STATE_LABEL[job.state]}
        </span>
      </div>
      <div className="outbox-meta">
        <span>to {job.siteName}</span>
        {!job.refused && (
          <span data-testid="outbox-job-attempts">
            {job.attempts} attempt{job.attempts === 1 ? '' : 's'}
          </span>
        )}
        {job.createdAt > 0 && <span>created {formatTime(job.createdAt)}</span>}
        {job.sentAt !== undefined && <span>sent {formatTime(job.sentAt)}</span>}
        {job.instances.length > 1 && <JobAmounts job={job} />}
      </div>
      {job.state === 'sending' && job.progress?.bytesPerSecond !== undefined && (
        <div className="outbox-rate" data-testid="outbox-job-rate">
          {formatRate(job.progress.bytesPerSecond)}
          {job.progress.etaSeconds !== undefined && job.progress.bytesRemaining > 0 ? `, about ${formatDuration(job.progress.etaSeconds)} left` : ''}
        </div>
      )}
      {job.lastError && job.state !== 'sent' && (
        <div className="outbox-error" role="alert" data-testid="outbox-job-error">
          {job.lastError}
        </div>
      )}
      {wait && <div className="outbox-wait">{wait}</div>}
      {canRetry && (
        <button
          type="button"
          className="btn btn-small"
          aria-label={`Retry now: ${job.label}`}
          disabled={asked}
          onClick={() => {
            setAsked(true);
            onRetry(job.id);
            setTimeout(() => setAsked(false), 1000);
          }}
        >
          Retry now
        </button>
      )}
    </li>
  );
}

/** Every outbox job: what it carries, where to, its state, attempts, last error, and "retry now". */
export function OutboxPanel({ outbox, onClose }: { outbox: OutboxView; onClose: () => void }): JSX.Element {
  const state = useSyncExternalStore(outbox.subscribe, outbox.getState, outbox.getState);
  const onRetry = (id: string): void => void outbox.retryNow(id);
  return (
    <section className="outbox-panel" data-testid="outbox-panel" aria-label="Outbox">
      <header className="outbox-head">
        <span>
          {state.unsent} not yet sent{state.online ? '' : ' · offline: sending resumes when the network is back'}
        </span>
        <button type="button" className="btn btn-small" onClick={onClose} aria-label="Close the outbox">
          Close
        </button>
      </header>
      {state.jobs.length === 0 ? (
        <p className="outbox-empty">{state.loaded ? 'Nothing to send. Signed reports wait here until their site has them.' : 'Reading the outbox…'}</p>
      ) : (
        <ul className="outbox-list" aria-label="Outbox jobs">
          {state.jobs.map((j) => (
            <OutboxRow key={j.id} job={j} online={state.online} onRetry={onRetry} />
          ))}
        </ul>
      )}
    </section>
  );
}

/** "Report delivered to <site>": non-blocking notices, bottom left. */
export function DeliveryToasts({ notices }: { notices: DeliveryNotices }): JSX.Element {
  const list = useSyncExternalStore(notices.subscribe, notices.getState, notices.getState);
  return (
    <div className="outbox-toasts" role="status" aria-live="polite" data-testid="delivery-notices">
      {list.map((n) => (
        <div key={n.key} className="outbox-toast" data-testid="delivery-notice" data-job-id={n.jobId}>
          {n.text}{' '}
          <button type="button" className="btn btn-small" aria-label={`Dismiss: ${n.text}`} onClick={() => notices.dismiss(n.key)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
