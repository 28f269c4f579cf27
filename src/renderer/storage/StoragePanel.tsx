import { useEffect, useState, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import { MB } from './storage-store';
import type { StorageCaseRow, StorageStore } from './storage-store';
import './storage.css';
import { formatBytes } from '../lib/format-bytes';

const formatStored = (n: number): string => formatBytes(n, { binary: true });

function formatDate(da: string): string {
  return /^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6)}` : da;
}

/** The header button that shows or hides the storage panel. */
export function StorageButton({ pressed, onToggle }: { pressed: boolean; onToggle: () => void }): JSX.Element {
  return (
    <button type="button" className="btn btn-small storage-button" data-testid="storage-button" aria-pressed={pressed} onClick={onToggle}>
      Storage
    </button>
  );
}

function BudgetField({ store }: { store: StorageStore }): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  const current = Math.round(state.budgetBytes / MB);
  const [draft, setDraft] = useState<string | undefined>(undefined);
  const commit = (): void => {
    if (draft === undefined) return;
    const mb = Number(draft);
    setDraft(undefined);
    if (mb !== current) void store.setBudgetMB(mb);
  };
  return (
    <form
      className="storage-budget"
      onSubmit={(e) => {
        e.preventDefault();
        commit();
      }}
    >
      <label>
        Budget{' '}
        <input
          type="number"
          min={1}
          step={1}
          data-testid="storage-budget"
          value={draft ?? String(current)}
          disabled={state.busy}
          onChange={(e) => setDraft(e.target.value)}
          onBlur={commit}
        />{' '}
        MB
      </label>
      {state.budgetIsDefault && <span className="storage-note">default: half the browser quota, at most 20 GB</span>}
    </form>
  );
}

function CaseRow({ row, store, busy }: { row: StorageCaseRow; store: StorageStore; busy: boolean }): JSX.Element {
  return (
    <tr data-testid="storage-row" data-study-uid={row.studyInstanceUID} data-pinned={row.pinned} data-open={row.open} data-complete={row.complete}>
      <td>
        <div className="storage-patient">{row.patientName || '(no name)'}</div>
        <div className="storage-sub">
          {formatDate(row.studyDate)} {row.description}
        </div>
      </td>
      <td className="num">{formatStored(row.bytes)}</td>
      <td className="num" data-testid="storage-instances">
        {row.instancesStored} / {row.instancesTotal}
      </td>
      <td>
        {row.complete ? 'complete' : 'partial'}
        {row.open && <span className="storage-tag">open</span>}
        {row.reported && <span className="storage-tag">reported</span>}
      </td>
      <td className="storage-actions">
        <button
          type="button"
          className="btn btn-small"
          data-testid="storage-pin"
          aria-pressed={row.pinned}
          disabled={busy}
          title={row.pinned ? 'Pinned: never evicted to make room' : 'Pin: never evict to make room'}
          onClick={() => void store.setPinned(row.studyInstanceUID, !row.pinned)}
        >
          {row.pinned ? 'Unpin' : 'Pin'}
        </button>
        <button
          type="button"
          className="btn btn-small"
          data-testid="storage-evict"
          disabled={busy || row.open}
          title={row.open ? 'Open in the viewer: close it to evict' : 'Remove from this computer; it can be retrieved again'}
          onClick={() => void store.evict(row.studyInstanceUID)}
        >
          Evict
        </button>
      </td>
    </tr>
  );
}

/** Usage of the offline cache per site and per case, the budget and the browser quota; evict, pin, clear all. */
export function StoragePanel({ store, onClose }: { store: StorageStore; onClose?: () => void }): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  useEffect(() => {
    void store.refresh();
  }, [store]);
  const { browser } = state;
  const openCount = state.cases.filter((c) => c.open).length;
  return (
    <section className="storage-panel" data-testid="storage-panel" aria-label="Storage" data-loading={state.loading}>
      <header className="storage-head">
        <h2>Storage</h2>
        <span data-testid="storage-used">
          {formatStored(state.usedBytes)} used of {formatStored(state.budgetBytes)}
        </span>
        {onClose && (
          <button type="button" className="btn btn-small storage-close" onClick={onClose}>
            Close
          </button>
        )}
      </header>
      <div className="storage-summary">
        <BudgetField store={store} />
        <span data-testid="storage-quota">
          Browser: {browser.usage !== undefined ? formatStored(browser.usage) : '?'} used of{' '}
          {browser.quota !== undefined ? formatStored(browser.quota) : 'unknown'} quota
        </span>
        <span data-testid="storage-persisted" data-persisted={browser.persisted === undefined ? 'unknown' : String(browser.persisted)}>
          {browser.persisted === true
            ? 'Persistent storage granted'
            : browser.persisted === false
              ? 'Persistent storage refused: the browser may clear the cache when the disk runs low'
              : 'Persistent storage: unknown'}
        </span>
      </div>
      {state.error && (
        <p className="storage-error" role="alert" data-testid="storage-error">
          {state.error}
        </p>
      )}
      <h3>Per site</h3>
      <ul className="storage-sites">
        {state.sites.map((s) => (
          <li key={s.siteId} data-testid="storage-site" data-site-id={s.siteId}>
            <span>{s.siteName}</span> <span className="num">{formatStored(s.bytes)}</span>{' '}
            <span className="storage-sub">
              {s.cases} case{s.cases === 1 ? '' : 's'}
            </span>
          </li>
        ))}
        {state.sites.length === 0 && <li className="storage-sub">Nothing cached.</li>}
      </ul>
      <h3>Cases, least recently used first</h3>
      <table className="storage-cases">
        <thead>
          <tr>
            <th>Case</th>
            <th className="num">Size</th>
            <th className="num">Instances</th>
            <th>State</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {state.cases.map((c) => (
            <CaseRow key={c.studyInstanceUID} row={c} store={store} busy={state.busy} />
          ))}
        </tbody>
      </table>
      <div className="storage-clear">
        {state.confirmingClear ? (
          <div className="storage-confirm" role="alertdialog" aria-label="Clear all">
            <span>
              Remove every cached case from this computer, pinned ones included
              {openCount === 1 ? ' (the case open in the viewer stays)' : openCount > 1 ? ` (the ${openCount} cases open in the viewer stay)` : ''}? They can be retrieved again
              while the sites are reachable.
            </span>
            <button type="button" className="btn btn-small btn-danger" data-testid="storage-clear-confirm" disabled={state.busy} onClick={() => void store.confirmClearAll()}>
              Clear all
            </button>
            <button type="button" className="btn btn-small" onClick={store.cancelClearAll}>
              Cancel
            </button>
          </div>
        ) : (
          <button type="button" className="btn btn-small" data-testid="storage-clear-all" disabled={state.busy || state.cases.length === 0} onClick={store.askClearAll}>
            Clear all…
          </button>
        )}
      </div>
    </section>
  );
}
