import { useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { NewReportNotices } from './new-report-notices';
import './report.css';

/** "New report" notices, bottom right: one per study of the worklist whose report just arrived at its site. */
export function NewReportNoticeList({ notices }: { notices: NewReportNotices }): JSX.Element {
  const list = useSyncExternalStore(notices.subscribe, notices.getState);
  return (
    <div className="report-notices" role="status" aria-live="polite" data-testid="new-report-notices">
      {list.map((n) => (
        <div key={n.key} className="report-notice" data-testid="new-report-notice" data-study-uid={n.studyInstanceUID}>
          New report: {n.patientName || 'unknown patient'}
          {n.description ? ` · ${n.description}` : ''}{' '}
          <button type="button" className="btn btn-small" onClick={() => notices.dismiss(n.key)}>
            Dismiss
          </button>
        </div>
      ))}
    </div>
  );
}
