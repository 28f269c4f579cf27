import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redactor, createLogger, memorySink } from '../../../src/shared/log';
import { FileSecretStore } from '../../../src/main/services/secrets/file-secret-store';
import { SiteRepository } from '../../../src/main/services/sites/site-repository';
import { SitesService } from '../../../src/main/services/sites/sites-service';
import { createSiteGateway } from '../../../src/main/services/sites/site-gateway';

// Issue 18: the gateway read a site's URL and then, in a second step, its secret. A request racing an
// update that moves the site and gives it a new password could send the new password to the old host.

interface Listener {
  server: Server;
  url: string;
  authorizations: Array<string | undefined>;
}

async function listen(): Promise<Listener> {
  const authorizations: Listener['authorizations'] = [];
  const server = createServer((req: IncomingMessage, res) => {
    authorizations.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[]');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicom-web`, authorizations };
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let dir: string;
let sites: SitesService;
let oldHost: Listener;
let newHost: Listener;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-site-race-'));
  const redactor = new Redactor();
  const log = createLogger('t', memorySink());
  sites = new SitesService(new SiteRepository(dir), new FileSecretStore(dir, redactor), redactor, log);
  oldHost = await listen();
  newHost = await listen();
});
afterEach(async () => {
  await sites.close();
  for (const l of [oldHost, newHost]) {
    l.server.closeAllConnections();
    await new Promise((r) => l.server.close(r));
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('gateway requests racing a site move', () => {
  it('never send the new password to the old host, over 5 moves with 60 requests in flight each', async () => {
    const gateway = createSiteGateway({ sites, log: createLogger('gw', memorySink()) });
    const site = await sites.add({ name: 'Moving', url: oldHost.url, auth: { type: 'basic', username: 'reader', password: 'pw-0' } });
    const hosts = [oldHost, newHost];
    for (let move = 1; move <= 5; move++) {
      const to = hosts[move % 2]!;
      const requests = Array.from({ length: 60 }, async (_, i) => {
        // Spread over the update: some before it, some while its secret and its URL are being written.
        await new Promise((r) => setTimeout(r, i % 6));
        const res = await gateway(new Request(`http://127.0.0.1:1${site.gatewayPath}/studies`, { headers: { accept: 'application/dicom+json' } }));
        await res.arrayBuffer();
        return res.status;
      });
      const update = (async () => {
        await new Promise((r) => setTimeout(r, 1));
        await sites.update({ id: site.id, url: to.url, auth: { type: 'basic', username: 'reader', password: `pw-${move}` } });
      })();
      const statuses = await Promise.all(requests);
      await update;
      expect(statuses.every((s) => s === 200)).toBe(true);
    }
    // Each host only ever saw the passwords given while the site pointed at it: old host 0, 2, 4; new host 1, 3, 5.
    const wrongAtOld = oldHost.authorizations.filter((a) => ![0, 2, 4].some((n) => a === basic('reader', `pw-${n}`)));
    const wrongAtNew = newHost.authorizations.filter((a) => ![1, 3, 5].some((n) => a === basic('reader', `pw-${n}`)));
    expect(oldHost.authorizations.length + newHost.authorizations.length).toBe(300);
    expect(wrongAtOld.length).toBe(0);
    expect(wrongAtNew.length).toBe(0);
  });
});
