import { createListeners } from '../../shared/store/listeners';

/**
 * What the workstation can reach right now, in one place: the browser's own
 * online/offline signal combined with what the sites last answered (the
 * worklist's queries, the prefetcher's probes). No React; a revision counter
 * lets a view skip work when nothing changed.
 */

export type ConnectivityLevel = 'online' | 'offline' | 'degraded';

export interface ConnectivityState {
  level: ConnectivityLevel;
  /** The browser's `navigator.onLine`: false means no network interface at all. */
  browserOnline: boolean;
  /** Sites known to the store (reported at least once, or listed with `setSites`). */
  siteCount: number;
  /** Sites whose last probe or query failed with a network-level error. */
  unreachableSiteIds: readonly string[];
  /** Plain text for the header: "Online", "Offline — cached cases only", "2 of 3 sites unreachable". */
  text: string;
  revision: number;
}

/** How the store hears about the browser's network state (window's online/offline events, or a fake). */
export interface NetworkSignal {
  isOnline(): boolean;
  /** Calls `listener` on every online/offline event; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
}

export interface ConnectivityStore {
  getState(): ConnectivityState;
  subscribe(listener: () => void): () => void;
  /** Whether a request to a site has any chance: the browser is online. */
  isOnline(): boolean;
  /** A site answered (true) or could not be reached (false). Fed by the worklist and the prefetcher. */
  reportSiteReachable(siteId: string, ok: boolean): void;
  /** The configured sites; sites no longer listed are forgotten. */
  setSites(siteIds: readonly string[]): void;
  /** Stops listening to the network signal. */
  dispose(): void;
}

export function describeConnectivity(browserOnline: boolean, siteCount: number, unreachable: number): { level: ConnectivityLevel; text: string } {
  if (!browserOnline || (siteCount > 0 && unreachable >= siteCount)) {
    // With every site down the reader is as good as offline: only cached cases open.
    return { level: 'offline', text: 'Offline — cached cases only' };
  }
  if (unreachable > 0) {
    return { level: 'degraded', text: `${unreachable} of ${siteCount} ${siteCount === 1 ? 'site' : 'sites'} unreachable` };
  }
  return { level: 'online', text: 'Online' };
}

export function createConnectivityStore(network: NetworkSignal): ConnectivityStore {
  /** Last known reachability per site; undefined: not heard from yet (counted as reachable). */
  const sites = new Map<string, boolean | undefined>();
  const listeners = createListeners();
  let revision = 0;

  const compute = (): ConnectivityState => {
    const browserOnline = network.isOnline();
    const unreachableSiteIds = [...sites].filter(([, ok]) => ok === false).map(([id]) => id);
    const { level, text } = describeConnectivity(browserOnline, sites.size, unreachableSiteIds.length);
    return { level, browserOnline, siteCount: sites.size, unreachableSiteIds, text, revision };
  };
  let state = compute();

  const update = (): void => {
    const next = compute();
    if (
      next.level === state.level &&
      next.text === state.text &&
      next.browserOnline === state.browserOnline &&
      next.unreachableSiteIds.join('\n') === state.unreachableSiteIds.join('\n')
    ) {
      return;
    }
    revision++;
    state = { ...next, revision };
    listeners.notify();
  };

  const unsubscribeNetwork = network.onChange(update);

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    isOnline: () => network.isOnline(),
    reportSiteReachable(siteId, ok) {
      sites.set(siteId, ok);
      update();
    },
    setSites(siteIds) {
      const keep = new Set(siteIds);
      for (const id of [...sites.keys()]) if (!keep.has(id)) sites.delete(id);
      for (const id of siteIds) if (!sites.has(id)) sites.set(id, undefined);
      update();
    },
    dispose: unsubscribeNetwork,
  };
}

/** The browser's online/offline events as a NetworkSignal; called from the composition root only. */
export function windowNetworkSignal(win: Pick<Window, 'addEventListener' | 'removeEventListener'>, nav: Pick<Navigator, 'onLine'>): NetworkSignal {
  return {
    isOnline: () => nav.onLine,
    onChange(listener) {
      win.addEventListener('online', listener);
      win.addEventListener('offline', listener);
      return () => {
        win.removeEventListener('online', listener);
        win.removeEventListener('offline', listener);
      };
    },
  };
}
