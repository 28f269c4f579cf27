import { useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { TransferSnapshot, TransfersStore } from '../cache/transfers-store';
import './transfers.css';
import { formatBytes } from '../lib/format-bytes';
import { PanelToggleButton } from '../lib/ui/PanelToggleButton';

/** Bits per second, as links are sold. */
function formatRate(bytesPerSecond: number): string {
  const bits = bytesPerSecond * 8;
  if (bits >= 1e6) return `${(bits / 1e6).toFixed(1)} Mbit/s`;
  if (bits >= 1e3) return `${Math.round(bits / 1e3)} kbit/s`;
  return bits > 0 ? `${Math.round(bits)} bit/s` : '—';
}

function formatEta(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  if (seconds < 60) return `${seconds} s left`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m} min ${seconds % 60} s left` : `${Math.floor(m / 60)} h ${m % 60} min left`;
}

const STATE_LABEL: Record<TransferSnapshot['state'], string> = {
  queued: 'queued',
  running: 'retrieving',
  paused: 'paused',
  done: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** The header button: how many transfers run, and the total bandwidth while they do. */
export function TransfersButton({ store, pressed, onToggle }: { store: TransfersStore; pressed: boolean; onToggle: () => void }): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  return (
    <PanelToggleButton className="transfers-button" data-testid="transfers-button" data-active={state.active} pressed={pressed} onToggle={onToggle}>
      Transfers{state.active > 0 ? ` · ${state.active} · ${formatRate(state.bandwidthBps)}` : ''}
    </PanelToggleButton>
  );
}

/** Every retrieval under way or recently finished: progress, bandwidth, ETA, the last error; cancel and resume. */
export function TransfersPanel({ store }: { store: TransfersStore }): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  const finished = state.transfers.some((t) => t.state !== 'running' && t.state !== 'queued');
  return (
    <section className="transfers-panel" data-testid="transfers-panel" aria-label="Transfers">
      <header className="transfers-head">
        <span>
          {state.active} active{state.active > 0 ? ` · ${formatRate(state.bandwidthBps)}` : ''}
        </span>
        {finished && (
          <button type="button" className="btn btn-small" onClick={() => store.clearFinished()}>
            Clear finished
          </button>
        )}
      </header>
      {state.transfers.length === 0 ? (
        <p className="transfers-empty">No transfers. Opening a study that is not in the local cache starts one.</p>
      ) : (
        <ul className="transfers-list">
          {state.transfers.map((t) => {
            const pct = t.instancesTotal > 0 ? Math.round((100 * t.instancesDone) / t.instancesTotal) : 0;
            const active = t.state === 'running' || t.state === 'queued' || t.state === 'paused';
            const moving = t.state === 'running' || t.state === 'queued';
            return (
              <li key={t.studyInstanceUID} className={`transfer-row is-${t.state}`} data-testid="transfer-row" data-study-uid={t.studyInstanceUID} data-state={t.state}>
                <div className="transfer-title">
                  <span className="transfer-label">{t.label}</span>
                  <span className="transfer-site">{t.siteName}</span>
                </div>
                <div className="transfer-bar" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
                  <div style={{ width: `${pct}%` }} />
                </div>
                <div className="transfer-figures">
                  <span>{STATE_LABEL[t.state]}</span>
                  <span data-testid="transfer-instances">
                    {t.instancesDone}/{t.instancesTotal} lossless
                  </span>
                  {t.previewsTotal > 0 && (
                    <span data-testid="transfer-previews" title="Small rendered previews, for navigating before the lossless images arrive">
                      {t.previewsDone >= t.previewsTotal ? 'previews ready' : `previews ${t.previewsDone}/${t.previewsTotal}`}
                    </span>
                  )}
                  <span data-testid="transfer-bytes">{formatBytes(t.bytes)}</span>
                  {moving && <span data-testid="transfer-rate">{formatRate(t.bandwidthBps)}</span>}
                  {moving && <span data-testid="transfer-eta">{formatEta(t.etaSeconds)}</span>}
                </div>
                {t.lastError && (
                  <div className="transfer-error" data-testid="transfer-error">
                    {t.lastError}
                  </div>
                )}
                <div className="transfer-actions">
                  {active && t.pausable && (
                    <button
                      type="button"
                      className="btn btn-small"
                      data-testid="transfer-pause"
                      aria-pressed={t.state === 'paused'}
                      title={t.state === 'paused' ? 'Carry on with this transfer' : 'Pause: nothing new is asked for; what arrived is kept'}
                      onClick={() => store.setPaused(t.studyInstanceUID, t.state !== 'paused')}
                    >
                      {t.state === 'paused' ? 'Continue' : 'Pause'}
                    </button>
                  )}
                  {active && (
                    <button type="button" className="btn btn-small" data-testid="transfer-cancel" onClick={() => store.cancel(t.studyInstanceUID)}>
                      Cancel
                    </button>
                  )}
                  {t.resumable && (
                    <button type="button" className="btn btn-small" data-testid="transfer-resume" onClick={() => store.resume(t.studyInstanceUID)}>
                      Resume
                    </button>
                  )}
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
