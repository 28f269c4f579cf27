import { useSyncExternalStore } from 'react';
import type { JSX } from 'react';
import type { ConnectivityStore } from './connectivity';

/** The header's connectivity line: always visible, so "why is this case not loading" has an answer on screen. */
export function ConnectivityIndicator({ store }: { store: ConnectivityStore }): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState, store.getState);
  const title =
    state.unreachableSiteIds.length > 0 ? `Unreachable: ${state.unreachableSiteIds.join(', ')}` : state.browserOnline ? undefined : 'This computer has no network';
  return (
    <span className="connectivity" data-testid="connectivity" data-state={state.level} role="status" aria-live="polite" title={title}>
      <span className="dot" aria-hidden="true" />
      {state.text}
    </span>
  );
}
