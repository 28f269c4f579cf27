import { useEffect, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { AuditAction, AuditEvent } from '../../shared/ipc/contract';
import { AuditActionSchema } from '../../shared/ipc/contract';
import type { AuditStore } from './audit-store';
import { forwardingSummary } from './audit-store';

export interface AuditViewProps {
  store: AuditStore;
  onClose: () => void;
}

const ACTION_LABEL: Record<AuditAction, string> = {
  'study.view': 'Viewed study',
  'study.retrieve': 'Retrieved study',
  export: 'Exported',
  deidentify: 'De-identified',
  'report.sign': 'Signed report',
  'outbox.send': 'Sent',
  'login.failed': 'Failed login',
  login: 'Unlocked',
  lock: 'Locked',
  'site.auth.failed': 'Site refused credentials',
  'audit.integrity': 'Audit trail damaged',
  'integrity.failed': 'Stored data changed outside the app',
};

function when(at: string): string {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? at : d.toLocaleString();
}

function patientOf(e: AuditEvent): string {
  if (!e.patient) return '—';
  return [e.patient.name, e.patient.id ? `(${e.patient.id})` : undefined].filter(Boolean).join(' ');
}

/**
 * Saves text as a file through the browser's download: a Blob URL on an
 * <a download>. No CSP change is needed (a download is not a fetch, and the
 * page never loads the blob), and nothing leaves the machine.
 */
function saveXml(fileName: string, xml: string): void {
  const url = URL.createObjectURL(new Blob([xml], { type: 'application/xml' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  // Revoked after the click has been handled: revoking at once can cancel the download in some browsers.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The audit trail: who did what to which patient's study, when, filtered by patient and date. */
export function AuditView({ store, onClose }: AuditViewProps): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  useEffect(() => {
    void store.load(0);
    void store.loadStatus();
    // While the panel is open the backlog drains: keep "forwarded up to #N" current.
    const timer = setInterval(() => void store.loadStatus(), 3000);
    return () => clearInterval(timer);
  }, [store]);
  const { filters } = state;
  const lastShown = state.offset + state.events.length;

  return (
    <section className="audit-view" aria-label="Audit trail">
      <header>
        <h2>Audit trail</h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </header>
      {state.status && !state.status.integrity.ok ? (
        <p role="alert" className="audit-integrity" data-testid="audit-integrity">
          {state.status.integrity.message ?? 'The local audit trail failed its integrity check.'}
        </p>
      ) : null}
      <p className="audit-forwarding" data-testid="audit-forwarding" data-state={state.status?.forwarding.state}>
        {state.statusError ?? (state.status ? forwardingSummary(state.status) : 'Checking audit forwarding…')}
      </p>
      <form className="audit-filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Patient name or ID
          <input type="search" value={filters.patient} onChange={(e) => void store.setFilters({ patient: e.target.value })} />
        </label>
        <label>
          From
          <input type="date" value={filters.fromDate} onChange={(e) => void store.setFilters({ fromDate: e.target.value })} />
        </label>
        <label>
          To
          <input type="date" value={filters.toDate} onChange={(e) => void store.setFilters({ toDate: e.target.value })} />
        </label>
        <label>
          Action
          <select value={filters.action} onChange={(e) => void store.setFilters({ action: e.target.value as AuditAction | '' })}>
            <option value="">Any</option>
            {AuditActionSchema.options.map((a) => (
              <option key={a} value={a}>
                {ACTION_LABEL[a]}
              </option>
            ))}
          </select>
        </label>
      </form>
      <div className="audit-export">
        <button
          type="button"
          disabled={state.exporting}
          onClick={() => {
            store.exportAtnaFile().then(
              (file) => saveXml(file.fileName, file.xml),
              () => undefined, // the store shows why and recorded the failure
            );
          }}
        >
          {state.exporting ? 'Exporting…' : 'Export for ATNA (DICOM audit messages)'}
        </button>
        {state.exportResult ? <span role={state.exportResult.ok ? 'status' : 'alert'}>{state.exportResult.message}</span> : null}
      </div>
      {state.error ? <p role="alert">{state.error}</p> : null}
      <p aria-live="polite">{state.loading ? 'Loading…' : state.total === 0 ? 'No events match.' : `${state.offset + 1}–${lastShown} of ${state.total}`}</p>
      <table className="audit-events">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">What</th>
            <th scope="col">Patient</th>
            <th scope="col">Study</th>
            <th scope="col">Site</th>
            <th scope="col">Outcome</th>
          </tr>
        </thead>
        <tbody>
          {state.events.map((e) => (
            <tr key={e.seq} data-outcome={e.outcome}>
              <td>{when(e.at)}</td>
              <td>{e.actor}</td>
              <td>{ACTION_LABEL[e.action]}</td>
              <td>{patientOf(e)}</td>
              <td title={e.studyInstanceUID}>{e.studyInstanceUID ? `…${e.studyInstanceUID.slice(-12)}` : '—'}</td>
              <td>{e.siteId ?? '—'}</td>
              <td>{e.outcome === 'success' ? (e.reason ? `Success: ${e.reason}` : 'Success') : `Failed: ${e.reason ?? 'no reason given'}`}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <nav className="audit-pages" aria-label="Pages">
        <button type="button" disabled={state.loading || state.offset === 0} onClick={() => void store.load(Math.max(0, state.offset - state.pageSize))}>
          Newer
        </button>
        <button type="button" disabled={state.loading || lastShown >= state.total} onClick={() => void store.load(lastShown)}>
          Older
        </button>
      </nav>
    </section>
  );
}
