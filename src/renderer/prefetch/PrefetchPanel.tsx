import { useEffect, useState, useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { SiteSummary } from '../../shared/ipc/contract';
import type { PrefetchScheduler, PrefetchState } from './prefetch-scheduler';
import type { PrefetchSettingsStore } from './prefetch-settings';
import { PanelToggleButton } from '../lib/ui/PanelToggleButton';

export function prefetchStatusText(s: PrefetchState): string {
  if (s.phase === 'paused-offline') return s.online ? 'Site unreachable — prefetch paused' : 'Offline — prefetch paused';
  if (s.phase === 'running') {
    if (s.yielding) return 'Prefetch waits for the open case';
    const n = s.active.length + s.queued;
    return `Prefetching ${n} ${n === 1 ? 'case' : 'cases'}`;
  }
  return 'Prefetch idle';
}

/** The header's one-line prefetch status; a button opening the prefetch settings. */
export function PrefetchStatus({ scheduler, pressed, onToggle }: { scheduler: PrefetchScheduler; pressed: boolean; onToggle: () => void }): JSX.Element {
  const s = useSyncExternalStore(scheduler.subscribe, scheduler.getState);
  return (
    <PanelToggleButton
      className="prefetch-status"
      data-testid="prefetch-status"
      data-state={s.phase}
      pressed={pressed}
      onToggle={onToggle}
      aria-live="polite"
      title="Background download of cases for offline use (settings)"
    >
      {prefetchStatusText(s)}
    </PanelToggleButton>
  );
}

/** Per-site "keep offline" and the bandwidth cap, in KB/s for people, bytes/s in the store. */
export function PrefetchPanel({ settings, sites }: { settings: PrefetchSettingsStore; sites: readonly SiteSummary[] }): JSX.Element {
  const s = useSyncExternalStore(settings.subscribe, settings.getState);
  const [capText, setCapText] = useState(s.bandwidthCap ? String(Math.round(s.bandwidthCap / 1024)) : '');
  useEffect(() => {
    setCapText(s.bandwidthCap ? String(Math.round(s.bandwidthCap / 1024)) : '');
  }, [s.bandwidthCap]);
  const applyCap = (): void => {
    const kb = Number(capText);
    void settings.setBandwidthCap(capText.trim() === '' || !Number.isFinite(kb) || kb <= 0 ? undefined : kb * 1024);
  };
  return (
    <section className="prefetch-panel" aria-label="Prefetch" data-testid="prefetch-panel">
      <h2>Prefetch for offline use</h2>
      <p>STAT and urgent cases are downloaded first, then cases you mark in the worklist, then every case of a site kept offline.</p>
      <ul className="prefetch-sites">
        {sites.map((site) => (
          <li key={site.id}>
            <label>
              <input
                type="checkbox"
                data-testid="keep-offline"
                data-site-id={site.id}
                checked={s.keepOffline.has(site.id)}
                onChange={(e) => void settings.setKeepOffline(site.id, e.target.checked)}
              />{' '}
              Keep every case of {site.name} offline
            </label>
          </li>
        ))}
      </ul>
      <label>
        Bandwidth cap (KB/s, empty for none){' '}
        <input
          type="number"
          min={0}
          data-testid="bandwidth-cap"
          value={capText}
          onChange={(e) => setCapText(e.target.value)}
          onBlur={applyCap}
          onKeyDown={(e) => {
            if (e.key === 'Enter') applyCap();
          }}
        />
      </label>
    </section>
  );
}
