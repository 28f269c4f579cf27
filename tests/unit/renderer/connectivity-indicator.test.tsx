// @vitest-environment node
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ConnectivityIndicator } from '../../../src/renderer/app/ConnectivityIndicator';
import { createConnectivityStore } from '../../../src/renderer/app/connectivity';

const network = (online: boolean): Parameters<typeof createConnectivityStore>[0] => ({ isOnline: () => online, onChange: () => () => undefined });

describe('the header connectivity indicator', () => {
  it('reads "Offline — cached cases only" with data-state offline when the browser is offline', () => {
    const html = renderToStaticMarkup(<ConnectivityIndicator store={createConnectivityStore(network(false))} />);
    expect(html).toContain('data-testid="connectivity"');
    expect(html).toContain('data-state="offline"');
    expect(html).toContain('Offline — cached cases only');
  });

  it('names how many sites are unreachable, with data-state degraded', () => {
    const store = createConnectivityStore(network(true));
    store.setSites(['a', 'b', 'c']);
    store.reportSiteReachable('b', false);
    store.reportSiteReachable('c', false);
    const html = renderToStaticMarkup(<ConnectivityIndicator store={store} />);
    expect(html).toContain('data-state="degraded"');
    expect(html).toContain('2 of 3 sites unreachable');
  });
});
