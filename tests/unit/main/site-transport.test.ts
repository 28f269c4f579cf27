import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SiteTransports } from '../../../src/main/services/sites/site-transport';

// Each site's Agent holds its keep-alive connections; they must not outlive
// the site's URL, the site itself, or the app.

interface CountingServer {
  url: string;
  /** Connections accepted so far. */
  accepted: number;
  /** Connections currently open. */
  open: Set<Socket>;
  server: Server;
}

async function listen(): Promise<CountingServer> {
  const state: CountingServer = { url: '', accepted: 0, open: new Set(), server: undefined as unknown as Server };
  // Node's server hints `Keep-Alive: timeout=5`, so undici would keep an idle connection for seconds.
  state.server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[]'));
  state.server.on('connection', (s: Socket) => {
    state.accepted += 1;
    state.open.add(s);
    s.once('close', () => state.open.delete(s));
  });
  await new Promise<void>((r) => state.server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}/dicom-web`;
  return state;
}

async function waitUntil(check: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function get(f: typeof fetch, url: string): Promise<number> {
  const res = await f(`${url}/studies`);
  await res.arrayBuffer();
  return res.status;
}

let a: CountingServer;
let b: CountingServer;
let transports: SiteTransports;

beforeEach(async () => {
  [a, b] = await Promise.all([listen(), listen()]);
  transports = new SiteTransports();
});
afterEach(async () => {
  await transports.close();
  for (const s of [a, b]) {
    s.server.closeAllConnections();
    await new Promise((r) => s.server.close(r));
  }
});

describe('per-site transports', () => {
  it('reuse their connections for sequential requests of a plain http site', async () => {
    const site = { id: 'a', url: a.url };
    for (let i = 0; i < 5; i++) expect(await get(transports.fetchFor(site), site.url)).toBe(200);
    // A request sent the instant the previous body is read can find undici still finishing that exchange,
    // and its pool opens a second connection; from then on the two take turns.
    expect(a.accepted).toBeLessThanOrEqual(2);
  });

  it('close the old connections when the site moves to another URL', async () => {
    await get(transports.fetchFor({ id: 'a', url: a.url }), a.url);
    expect(a.open.size).toBe(1);

    await get(transports.fetchFor({ id: 'a', url: b.url }), b.url);
    await waitUntil(() => a.open.size === 0);
    expect(b.open.size).toBe(1);
  });

  it('close a removed site\'s connections, and every connection on close()', async () => {
    await get(transports.fetchFor({ id: 'a', url: a.url }), a.url);
    await get(transports.fetchFor({ id: 'b', url: b.url }), b.url);

    transports.forget('a');
    await waitUntil(() => a.open.size === 0);
    expect(b.open.size).toBe(1);

    await transports.close();
    await waitUntil(() => b.open.size === 0);
  });

  it('keep the same transport while neither URL nor CA changes', () => {
    const site = { id: 'a', url: 'https://pacs.a.example/dicom-web', caCertificate: 'PEM-1' };
    const first = transports.fetchFor(site);
    expect(transports.fetchFor({ ...site })).toBe(first);
    expect(transports.fetchFor({ ...site, caCertificate: 'PEM-2' })).not.toBe(first);
  });
});
