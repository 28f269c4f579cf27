import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SiteSummary, SiteTestResult } from '../../../src/shared/ipc/contract';
import type { AppServices } from '../../../src/main/services/app-services';
import { buildSiteRequest, keepsStoredSecret, siteFormFor } from '../../../src/renderer/sites/site-form';
import { contractCalls, overJson, startUnlockedWebServices } from '../../support/contract';

// Issue 18: the stored password belongs to the server it was typed for. A
// site moved to another origin (scheme, host, port) must not take it along:
// main refuses the move without new credentials, and the form asks for them.

interface Listener {
  server: Server;
  url: string;
  /** Every request the listener got: path and Authorization header (the latter never printed). */
  seen: Array<{ path: string; authorization: string | undefined }>;
}

/** A tiny DICOMweb site on 127.0.0.1 that holds no studies, recording what reaches it. */
async function listen(): Promise<Listener> {
  const seen: Listener['seen'] = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
    if (req.method === 'GET' && req.url?.startsWith('/dicom-web/studies')) res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[]');
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicom-web`, seen };
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

const OLD_PASSWORD = 'pw-old-host-8812';
const NEW_PASSWORD = 'pw-new-host-3390';

let dir: string;
let services: AppServices;
let oldHost: Listener;
let newHost: Listener;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-sites-origin-'));
  services = await startUnlockedWebServices(dir);
  oldHost = await listen();
  newHost = await listen();
});
afterEach(async () => {
  await services.sites.close();
  for (const l of [oldHost, newHost]) {
    l.server.closeAllConnections();
    await new Promise((r) => l.server.close(r));
  }
  rmSync(dir, { recursive: true, force: true });
});

const { value, errorOf } = contractCalls(overJson((channel, payload) => services.dispatch(channel, payload)));

async function addOldSite(): Promise<SiteSummary> {
  return value<SiteSummary>('sites.add', { name: 'Moving', url: oldHost.url, auth: { type: 'basic', username: 'reader', password: OLD_PASSWORD } });
}
async function viaGateway(site: SiteSummary): Promise<Response> {
  return services.gateway(new Request(`http://127.0.0.1:1${site.gatewayPath}/studies`, { headers: { accept: 'application/dicom+json' } }));
}
/** Whether any request carrying an Authorization header reached the listener, without printing the header. */
function gotCredentials(l: Listener): boolean {
  return l.seen.some((r) => r.authorization !== undefined);
}

describe('changing the origin of a site with a stored password', () => {
  it('is refused without new credentials, changes nothing, and never sends the stored password to the new host', async () => {
    const site = await addOldSite();
    const secretsBefore = readFileSync(join(dir, 'secrets.json'), 'utf8');

    for (const request of [
      { id: site.id, url: newHost.url },
      { id: site.id, url: newHost.url, auth: { type: 'basic', username: 'reader' } },
      { id: site.id, url: newHost.url, name: 'Moved', auth: { type: 'basic', username: 'someone-else' } },
    ]) {
      const refused = await errorOf('sites.update', request);
      expect(refused).toEqual({ code: 'BAD_REQUEST', message: "auth.password: The site's address changed: enter its user name and password again" });
    }

    // Nothing changed: the same site, at the old address, with the old password.
    expect(await value<SiteSummary[]>('sites.list', {})).toEqual([site]);
    expect(readFileSync(join(dir, 'secrets.json'), 'utf8')).toBe(secretsBefore);

    // A connection test and a gateway fetch after the refusal still go to the old host only.
    expect((await value<SiteTestResult>('sites.test', { id: site.id })).ok).toBe(true);
    expect((await viaGateway(site)).status).toBe(200);
    expect(newHost.seen).toEqual([]);
    expect(gotCredentials(newHost)).toBe(false);
    expect(oldHost.seen.every((r) => r.authorization === basic('reader', OLD_PASSWORD))).toBe(true);
  });

  it('is accepted with new credentials in the same request, and only the new ones reach the new host', async () => {
    const site = await addOldSite();
    const moved = await value<SiteSummary>('sites.update', { id: site.id, url: newHost.url, auth: { type: 'basic', username: 'reader2', password: NEW_PASSWORD } });
    expect(moved).toMatchObject({ id: site.id, url: newHost.url, username: 'reader2' });
    // The old password is gone from the store, not kept beside the new one.
    expect(readFileSync(join(dir, 'secrets.json'), 'utf8')).not.toContain(OLD_PASSWORD);

    expect((await value<SiteTestResult>('sites.test', { id: site.id })).ok).toBe(true);
    expect((await viaGateway(moved)).status).toBe(200);
    expect(newHost.seen.length).toBeGreaterThan(0);
    const wrong = newHost.seen.filter((r) => r.authorization !== basic('reader2', NEW_PASSWORD));
    expect(wrong.map((r) => r.path)).toEqual([]);
  });

  it('needs the token again for a bearer site, and lets a site without authentication move freely', async () => {
    await value('sites.add', { name: 'Bearer', url: oldHost.url, auth: { type: 'bearer', token: 'tok-old-1177' } });
    for (const request of [
      { id: 'bearer', url: newHost.url },
      { id: 'bearer', url: newHost.url, auth: { type: 'bearer' } },
    ]) {
      expect(await errorOf('sites.update', request)).toEqual({ code: 'BAD_REQUEST', message: "auth.token: The site's address changed: enter its token again" });
    }
    // Dropping authentication altogether needs no secret, and forgets the old one.
    expect(await value<SiteSummary>('sites.update', { id: 'bearer', url: newHost.url, auth: { type: 'none' } })).toMatchObject({ url: newHost.url, authType: 'none' });
    expect(readFileSync(join(dir, 'secrets.json'), 'utf8')).not.toContain('tok-old-1177');

    await value('sites.add', { name: 'Open', url: oldHost.url, auth: { type: 'none' } });
    expect(await value<SiteSummary>('sites.update', { id: 'open', url: newHost.url })).toMatchObject({ url: newHost.url, authType: 'none' });
  });

  it('keeps the password for a new path on the same origin, and counts a scheme or port change as a new origin', async () => {
    const site = await addOldSite();
    const oldOrigin = new URL(oldHost.url).origin;
    const samePath = await value<SiteSummary>('sites.update', { id: site.id, url: `${oldOrigin}/other/dicom-web` });
    expect(samePath.url).toBe(`${oldOrigin}/other/dicom-web`);
    expect(await services.sites.authHeaders(site.id)).toEqual({ authorization: basic('reader', OLD_PASSWORD) });

    const port = new URL(oldHost.url).port;
    for (const url of [`https://127.0.0.1:${port}/dicom-web`, `http://localhost:${port}/dicom-web`, `http://127.0.0.1:${Number(port) + 1}/dicom-web`]) {
      expect((await errorOf('sites.update', { id: site.id, url })).message, url).toMatch(/^auth\.password: The site's address changed/);
    }
  });
});

describe('the Sites form when the address changes', () => {
  const summary = (): SiteSummary => ({
    id: 'moving',
    name: 'Moving',
    url: 'https://pacs.a.example/dicom-web',
    authType: 'basic',
    username: 'reader',
    gatewayPath: '/sites/moving/dicom-web',
    hasCustomCa: false,
  });

  it('asks for the password again when the URL moves to another origin, and not for a new path', () => {
    const editing = summary();
    const values = siteFormFor(editing);
    expect(keepsStoredSecret(values, editing)).toBe(true);
    expect(buildSiteRequest({ ...values, url: 'https://pacs.a.example/other/dicom-web' }, editing)).toMatchObject({ ok: true, kind: 'update' });

    const moved = { ...values, url: 'https://pacs.b.example/dicom-web' };
    expect(keepsStoredSecret(moved, editing)).toBe(false);
    expect(buildSiteRequest(moved, editing)).toEqual({ ok: false, errors: { password: "The site's address changed: enter its user name and password again" } });
    const withPassword = buildSiteRequest({ ...moved, password: NEW_PASSWORD }, editing);
    expect(withPassword).toMatchObject({ ok: true, request: { url: 'https://pacs.b.example/dicom-web', auth: { type: 'basic', username: 'reader', password: NEW_PASSWORD } } });

    const bearer = { ...editing, authType: 'bearer' as const };
    expect(buildSiteRequest({ ...siteFormFor(bearer), url: 'https://pacs.b.example/dicom-web' }, bearer)).toEqual({
      ok: false,
      errors: { token: "The site's address changed: enter its token again" },
    });
  });
});
