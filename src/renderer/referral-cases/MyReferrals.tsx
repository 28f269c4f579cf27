import { useEffect, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { ReferralCaseRecord } from '../cache/telerad-db';
import type { MyReferralsStore } from './referral-case-status';
import { describeProgress } from './referral-case-status';
import './referral-cases.css';

export interface MyReferralsProps {
  store: MyReferralsStore;
  siteName: (siteId: string) => string | undefined;
  /** A draft goes back to the wizard. */
  onContinue: (record: ReferralCaseRecord) => void;
  /** Opens the case's study: at the site once delivered (the answer with it), else the local copy. */
  onOpenStudy: (record: ReferralCaseRecord) => void;
  onClose: () => void;
}

/** The referrer's cases and where each one is: draft, queued (n of N sent), received by the site, report arrived. */
export function MyReferrals({ store, siteName, onContinue, onOpenStudy, onClose }: MyReferralsProps): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState, store.getState);
  useEffect(() => {
    void store.refresh();
  }, [store]);
  return (
    <section className="my-referrals" aria-label="My referrals" data-testid="my-referrals">
      <header className="referral-wizard-head">
        <h2>My referrals</h2>
        <button type="button" className="btn btn-small" onClick={() => void store.refresh()}>
          Refresh
        </button>
        <button type="button" className="btn btn-small" onClick={onClose}>
          Close
        </button>
      </header>
      {state.error && <p role="alert">{state.error}</p>}
      {state.unreadable !== undefined && state.unreadable > 0 && (
        <p role="alert" data-testid="my-referrals-unreadable">
          {state.unreadable === 1
            ? '1 case could not be opened: its stored copy was changed outside the app. It is kept on this computer, not shown, and not sent; the log names it.'
            : `${state.unreadable} cases could not be opened: their stored copies were changed outside the app. They are kept on this computer, not shown, and not sent; the log names them.`}
        </p>
      )}
      {state.loaded && state.rows.length === 0 && <p>No referral cases yet: start one with “New referral”.</p>}
      <ul className="my-referrals-list">
        {state.rows.map(({ record, progress }) => (
          <li key={record.id} data-testid="my-referral" data-case-id={record.id} data-sent-study-uid={record.sentStudyInstanceUID ?? ''} data-state={progress.state}>
            <div className="my-referral-title">
              <strong>{record.patient.name || 'Patient not set'}</strong> · {record.urgency} · {record.clinicalQuestion.trim() || 'no question yet'}
            </div>
            <div className="my-referral-status" data-testid="my-referral-status">
              {describeProgress(progress)}
              {record.siteId ? ` · to ${siteName(record.siteId) ?? record.siteId}` : ''}
              {record.deidentify.enabled ? ' · de-identified' : ''}
              {progress.state === 'queued' && progress.lastError ? ` · last error: ${progress.lastError}` : ''}
            </div>
            {progress.state === 'draft' ? (
              <button type="button" className="btn btn-small" data-testid="my-referral-continue" onClick={() => onContinue(record)}>
                Continue
              </button>
            ) : (
              <button type="button" className="btn btn-small" data-testid="my-referral-open" onClick={() => onOpenStudy(record)}>
                {progress.state === 'reported' ? 'Open the answer' : 'Open the study'}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
