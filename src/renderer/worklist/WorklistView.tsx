import { useMemo, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import { formatDicomDate } from '../../shared/dicom/dicomweb-json';
import type { SiteStatus, WorklistRow, WorklistStore } from './worklist-store';
import { selectWorklistRows } from './worklist-store';

export interface WorklistViewProps {
  store: WorklistStore;
  onOpen: (row: WorklistRow) => void;
}

function statusText(s: SiteStatus): string {
  if (s.state === 'loading') return `${s.site.name}: loading…`;
  if (s.state === 'error') return `${s.site.name}: ${s.message ?? 'failed'}`;
  return `${s.site.name}: ${s.rows.length} ${s.rows.length === 1 ? 'study' : 'studies'}`;
}

/** The worklist: every site's studies and every cached one, with one status line per site. */
export function WorklistView({ store, onOpen }: WorklistViewProps): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  const rows = useMemo(() => selectWorklistRows(state), [state]);
  const siteNames = useMemo(() => new Map(state.sites.map((s) => [s.site.id, s.site.name])), [state.sites]);

  return (
    <section className="worklist" aria-label="Worklist">
      <div className="worklist-toolbar">
        <h2>Worklist</h2>
        <button type="button" className="btn" onClick={() => void store.refresh()} disabled={state.refreshing} data-testid="refresh">
          {state.refreshing ? 'Refreshing…' : 'Refresh'}
        </button>
        <ul className="site-statuses">
          {state.hostError && (
            <li className="site-status" data-state="error" role="alert">
              Sites unavailable: {state.hostError}
            </li>
          )}
          {state.sites.map((s) => (
            <li
              key={s.site.id}
              className="site-status"
              data-testid="site-status"
              data-site-id={s.site.id}
              data-state={s.state}
              title={s.site.url}
            >
              <span className="dot" aria-hidden="true" />
              {statusText(s)}
            </li>
          ))}
        </ul>
      </div>
      <div className="table-wrap">
        <table className="worklist-table">
          <thead>
            <tr>
              <th>Patient name</th>
              <th>Patient ID</th>
              <th>Study date</th>
              <th>Modalities</th>
              <th>Description</th>
              <th className="num">Images</th>
              <th>Site</th>
              <th>Offline</th>
              <th aria-label="Open" />
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr
                key={r.key}
                data-testid="worklist-row"
                data-study-uid={r.studyInstanceUID}
                data-site-id={r.siteId}
                onDoubleClick={() => onOpen(r)}
              >
                <td>{r.patientName}</td>
                <td>{r.patientId}</td>
                <td>{formatDicomDate(r.studyDate)}</td>
                <td>{r.modalities.join(', ')}</td>
                <td>{r.description}</td>
                <td className="num">{r.numInstances ?? ''}</td>
                <td>{siteNames.get(r.siteId) ?? r.siteId}</td>
                <td>
                  {r.availableOffline && (
                    <span className="badge" data-testid="offline-badge" title="Every image is in the local cache">
                      available offline
                    </span>
                  )}
                </td>
                <td>
                  <button type="button" className="btn btn-small" data-testid="open-study" onClick={() => onOpen(r)}>
                    Open
                  </button>
                </td>
              </tr>
            ))}
            {rows.length === 0 && (
              <tr>
                <td colSpan={9} className="empty">
                  {state.refreshing ? 'Loading studies…' : 'No studies.'}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
