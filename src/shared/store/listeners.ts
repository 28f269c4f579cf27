/**
 * The subscription half of every small store in the app (getState +
 * subscribe, as React's useSyncExternalStore wants them). One place, so each
 * store only says what its state is and when it changes.
 */
export interface Listeners {
  /** Adds a listener; the returned function removes it. */
  subscribe(listener: () => void): () => void;
  /** Calls every listener once; a listener added or removed meanwhile does not disturb the round. */
  notify(): void;
}

export function createListeners(): Listeners {
  const listeners = new Set<() => void>();
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    notify() {
      for (const l of [...listeners]) l();
    },
  };
}
