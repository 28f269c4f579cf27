import { describe, expect, it } from 'vitest';
import { createConnectivityStore } from '../../../src/renderer/app/connectivity';
import type { NetworkSignal } from '../../../src/renderer/app/connectivity';

function fakeNetwork(online = true): NetworkSignal & { set(online: boolean): void } {
  let up = online;
  const listeners = new Set<() => void>();
  return {
    isOnline: () => up,
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    set(v) {
      up = v;
      for (const l of listeners) l();
    },
  };
}

describe('connectivity', () => {
  it('says Online while the network is up and every site answers', () => {
    const store = createConnectivityStore(fakeNetwork());
    store.setSites(['a', 'b', 'c']);
    store.reportSiteReachable('a', true);
    expect(store.getState()).toMatchObject({ level: 'online', text: 'Online' });
  });

  it('says how many sites cannot be reached, and recovers when they answer again', () => {
    const store = createConnectivityStore(fakeNetwork());
    store.setSites(['a', 'b', 'c']);
    store.reportSiteReachable('a', false);
    store.reportSiteReachable('b', false);
    expect(store.getState()).toMatchObject({ level: 'degraded', text: '2 of 3 sites unreachable', unreachableSiteIds: ['a', 'b'] });
    store.reportSiteReachable('a', true);
    store.reportSiteReachable('b', true);
    expect(store.getState()).toMatchObject({ level: 'online', text: 'Online' });
  });

  it('goes offline with the browser, telling subscribers once per change, and back online with it', () => {
    const net = fakeNetwork();
    const store = createConnectivityStore(net);
    let calls = 0;
    store.subscribe(() => calls++);
    net.set(false);
    expect(store.getState()).toMatchObject({ level: 'offline', text: 'Offline — cached cases only', browserOnline: false });
    expect(store.isOnline()).toBe(false);
    net.set(false);
    expect(calls).toBe(1);
    net.set(true);
    expect(store.getState().level).toBe('online');
    expect(calls).toBe(2);
  });

  it('counts as offline when no configured site can be reached', () => {
    const store = createConnectivityStore(fakeNetwork());
    store.setSites(['a', 'b']);
    store.reportSiteReachable('a', false);
    store.reportSiteReachable('b', false);
    expect(store.getState()).toMatchObject({ level: 'offline', text: 'Offline — cached cases only' });
    // A site removed from the configuration no longer counts.
    store.setSites(['a', 'c']);
    expect(store.getState()).toMatchObject({ level: 'degraded', text: '1 of 2 sites unreachable' });
  });
});
