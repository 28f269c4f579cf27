import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GATEWAY_ERROR_HEADER } from '../../../src/shared/gateway';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import { Redactor, createLogger, memorySink } from '../../../src/shared/log';
import { isUnencryptedRemoteUrl } from '../../../src/shared/sites/plain-http';
import type { AppServices } from '../../../src/main/services/app-services';
import { FileSecretStore } from '../../../src/main/services/secrets/file-secret-store';
import { loadProvisioningFile } from '../../../src/main/services/sites/provisioning';
import { createSiteGateway } from '../../../src/main/services/sites/site-gateway';
import { SiteRepository } from '../../../src/main/services/sites/site-repository';
import { testSiteConnection } from '../../../src/main/services/sites/site-tester';
import { SitesService } from '../../../src/main/services/sites/sites-service';
import { contractCalls, overJson, startUnlockedWebServices } from '../../support/contract';

// Plain http:// sends images, reports and the site's password in clear. It is
// allowed without asking only to this machine itself; to any other host the
// user must allow it for that site, and main enforces that everywhere.

let dir: string;
let services: AppServices;
let logs: ReturnType<typeof memorySink>;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-plain-http-'));
  logs = memorySink();
  services = await startUnlockedWebServices(dir, logs);
});
afterEach(async () => {
  await services.sites.close();
  rmSync(dir, { recursive: true, force: true });
});

// JSON both ways, as over HTTP or IPC.
const { value, errorOf } = contractCalls(overJson((channel, payload) => services.dispatch(channel, payload)));

const REMOTE_HTTP = { name: 'Rural Clinic', url: 'http://pacs.clinic.example/dicom-web', auth: { type: 'basic', username: 'reader', password: 'pw-clinic-4410' } };

describe('which URLs count as unencrypted to another machine', () => {
  it('treats loopback addresses and localhost as local, in any spelling the URL parser accepts', () => {
    for (const url of [
      'http://127.0.0.1:8042/dicom-web',
      'http://127.255.3.9/dicom-web',
      'http://127.1/dicom-web',
      'http://0x7f000001/dicom-web',
      'http://[::1]:8042/dicom-web',
      'http://[0:0:0:0:0:0:0:1]/dicom-web',
      'http://[::ffff:127.0.0.1]/dicom-web',
      'http://localhost:8042/dicom-web',
      'http://LOCALHOST/dicom-web',
    ]) {
      expect(isUnencryptedRemoteUrl(url), url).toBe(false);
    }
  });

  it('treats every other http host as remote, including names that merely start like loopback', () => {
    for (const url of [
      'http://127.0.0.1.evil.example/dicom-web',
      'http://localhost.evil.example/dicom-web',
      'http://evil-localhost/dicom-web',
      'http://128.0.0.1/dicom-web',
      'http://10.0.0.5/dicom-web',
      'http://[::2]/dicom-web',
      'http://[::ffff:10.0.0.1]/dicom-web',
      'http://pacs.clinic.example/dicom-web',
    ]) {
      expect(isUnencryptedRemoteUrl(url), url).toBe(true);
    }
  });

  it('never flags https, whatever the host', () => {
    expect(isUnencryptedRemoteUrl('https://pacs.clinic.example/dicom-web')).toBe(false);
    expect(isUnencryptedRemoteUrl('https://127.0.0.1/dicom-web')).toBe(false);
  });
});

describe('adding and changing a site', () => {
  it('refuses plain http to a remote host without the allowance, naming the URL and the way out, and stores nothing', async () => {
    const refused = await errorOf('sites.add', REMOTE_HTTP);
    expect(refused).toEqual({
      code: 'BAD_REQUEST',
      message: 'url: http://pacs.clinic.example/dicom-web sends patient data unencrypted; use https, or allow plain HTTP for this site explicitly',
    });
    expect(await value<SiteSummary[]>('sites.list', {})).toEqual([]);
    expect(await errorOf('sites.add', { ...REMOTE_HTTP, allowInsecureHttp: false })).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('adds it when the user allowed plain http for that site, and lists it as such after a restart', async () => {
    const added = await value<SiteSummary>('sites.add', { ...REMOTE_HTTP, allowInsecureHttp: true });
    expect(added).toMatchObject({ id: 'rural-clinic', url: 'http://pacs.clinic.example/dicom-web', allowInsecureHttp: true });
    expect(JSON.parse(readFileSync(join(dir, 'sites.json'), 'utf8')).sites[0].allowInsecureHttp).toBe(true);
    await services.sites.close();
    services = await startUnlockedWebServices(dir);
    expect((await value<SiteSummary[]>('sites.list', {}))[0]?.allowInsecureHttp).toBe(true);
  });

  it('accepts loopback http and https without any allowance, and marks neither as allowed-insecure', async () => {
    for (const [name, url] of [
      ['Local', 'http://127.0.0.1:8042/dicom-web'],
      ['Local Six', 'http://[::1]:8042/dicom-web'],
      ['Local Name', 'http://localhost:8042/dicom-web'],
      ['Secure', 'https://pacs.clinic.example/dicom-web'],
    ]) {
      const site = await value<SiteSummary>('sites.add', { name, url, auth: { type: 'none' } });
      expect(site.allowInsecureHttp, url).toBeUndefined();
    }
    // An allowance the URL does not need is not kept: it would silently cover a later switch to http.
    const secure = await value<SiteSummary>('sites.add', { name: 'Secure Too', url: 'https://b.example/dicom-web', auth: { type: 'none' }, allowInsecureHttp: true });
    expect(secure.allowInsecureHttp).toBeUndefined();
  });

  it('asks again when an https site moves to remote http, or an allowed site moves to another host', async () => {
    await value('sites.add', { name: 'Secure', url: 'https://pacs.clinic.example/dicom-web', auth: { type: 'none' } });
    expect((await errorOf('sites.update', { id: 'secure', url: 'http://pacs.clinic.example/dicom-web' })).message).toMatch(/^url: .*sends patient data unencrypted/);
    expect((await value<SiteSummary[]>('sites.list', {}))[0]?.url).toBe('https://pacs.clinic.example/dicom-web');

    const allowed = await value<SiteSummary>('sites.update', { id: 'secure', url: 'http://pacs.clinic.example/dicom-web', allowInsecureHttp: true });
    expect(allowed.allowInsecureHttp).toBe(true);
    // A rename, or a new path on the same server, keeps the allowance.
    expect(await value<SiteSummary>('sites.update', { id: 'secure', name: 'Clinic PACS', url: 'http://pacs.clinic.example/dicomweb' })).toMatchObject({ allowInsecureHttp: true });
    // Another host is another decision.
    expect((await errorOf('sites.update', { id: 'secure', url: 'http://other.example/dicom-web' })).code).toBe('BAD_REQUEST');
    // Back to https drops it, so a later switch to http asks again.
    expect((await value<SiteSummary>('sites.update', { id: 'secure', url: 'https://pacs.clinic.example/dicom-web' })).allowInsecureHttp).toBeUndefined();
    expect((await errorOf('sites.update', { id: 'secure', url: 'http://pacs.clinic.example/dicom-web' })).code).toBe('BAD_REQUEST');
  });

  it('lets the user withdraw the allowance only together with leaving plain http', async () => {
    await value('sites.add', { ...REMOTE_HTTP, allowInsecureHttp: true });
    expect((await errorOf('sites.update', { id: 'rural-clinic', allowInsecureHttp: false })).code).toBe('BAD_REQUEST');
    expect((await value<SiteSummary[]>('sites.list', {}))[0]?.allowInsecureHttp).toBe(true);
  });
});

describe('provisioning file', () => {
  const write = (entries: unknown[]): string => {
    const path = join(dir, 'provision.json');
    writeFileSync(path, JSON.stringify(entries));
    return path;
  };

  it('skips a remote plain-http entry without the allowance with a log line, and provisions the others', async () => {
    const secrets = new FileSecretStore(dir, new Redactor());
    const service = new SitesService(new SiteRepository(dir), secrets, new Redactor(), createLogger('sites', logs));
    const path = write([REMOTE_HTTP, { name: 'Local', url: 'http://127.0.0.1:8042/dicom-web', auth: { type: 'none' } }]);
    const provisioned = await service.provision(await loadProvisioningFile(path));
    expect(provisioned.map((s) => s.id)).toEqual(['local']);
    expect((await service.list()).map((s) => s.name)).toEqual(['Local']);
    const skipped = logs.records.find((r) => r.message.includes('skipped'));
    expect(skipped?.level).toBe('warn');
    expect(skipped?.message).toContain('"Rural Clinic"');
    expect(skipped?.message).toContain('http://pacs.clinic.example/dicom-web sends patient data unencrypted');
    expect(skipped?.message).toContain('"allowInsecureHttp": true');
    // Its password was never stored either.
    expect(await secrets.get('site:rural-clinic:credential')).toBeUndefined();
    await service.close();
  });

  it('provisions it when the entry carries "allowInsecureHttp": true', async () => {
    const service = new SitesService(new SiteRepository(dir), new FileSecretStore(dir, new Redactor()), new Redactor(), createLogger('sites', logs));
    const [site] = await service.provision(await loadProvisioningFile(write([{ ...REMOTE_HTTP, allowInsecureHttp: true }])));
    expect(site).toMatchObject({ id: 'rural-clinic', allowInsecureHttp: true });
    await service.close();
  });
});

describe('defence in depth: a sites file edited by hand', () => {
  let upstream: Server;
  let port: number;
  let seen: IncomingMessage[];

  beforeEach(async () => {
    seen = [];
    upstream = createServer((req, res) => {
      seen.push(req);
      res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[]');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    port = (upstream.address() as AddressInfo).port;
  });
  afterEach(async () => {
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  /** Resolves the clinic's name to the local test server, as DNS would, so a forwarded request really arrives. */
  const viaLocalDns: typeof fetch = (input, init) =>
    fetch(String(input).replace('http://pacs.clinic.example', `http://127.0.0.1:${port}`), init);

  function handEditedSite(extra: Record<string, unknown>): SitesService {
    writeFileSync(
      join(dir, 'sites.json'),
      JSON.stringify({ version: 1, sites: [{ id: 'rural-clinic', name: 'Rural Clinic', url: 'http://pacs.clinic.example/dicom-web', authType: 'none', ...extra }] }),
    );
    return new SitesService(new SiteRepository(dir), new FileSecretStore(dir, new Redactor()), new Redactor(), createLogger('sites', logs));
  }

  it('the gateway refuses to forward to remote plain http without the allowance, and sends nothing', async () => {
    const sites = handEditedSite({});
    const gateway = createSiteGateway({ sites, log: createLogger('gw', logs), fetchImpl: viaLocalDns });
    const res = await gateway(new Request('http://127.0.0.1:1/sites/rural-clinic/dicom-web/studies?limit=1'));
    expect(res.status).toBe(403);
    expect(res.headers.get(GATEWAY_ERROR_HEADER)).toBe('FORBIDDEN');
    expect(((await res.json()) as { message: string }).message).toBe(
      'Rural Clinic: http://pacs.clinic.example/dicom-web sends patient data unencrypted; use https, or allow plain HTTP for this site explicitly',
    );
    expect(seen).toHaveLength(0);
    await sites.close();
  });

  it('the gateway forwards once the site carries the allowance', async () => {
    const sites = handEditedSite({ allowInsecureHttp: true });
    const gateway = createSiteGateway({ sites, log: createLogger('gw', logs), fetchImpl: viaLocalDns });
    const res = await gateway(new Request('http://127.0.0.1:1/sites/rural-clinic/dicom-web/studies?limit=1'));
    expect(res.status).toBe(200);
    expect(seen.map((r) => r.url)).toEqual(['/dicom-web/studies?limit=1']);
    await sites.close();
  });

  it('"Test connection" sends no request (and no credential) to such a site and says why', async () => {
    const sites = handEditedSite({});
    const site = await sites.find('rural-clinic');
    if (!site) throw new Error('site should load');
    const result = await testSiteConnection(site, {
      fetchImpl: viaLocalDns,
      authHeaders: { authorization: 'Bearer tok-never-sent' },
      timeouts: { connectMs: 2000, idleMs: 2000 },
      log: createLogger('t', logs),
    });
    expect(result).toMatchObject({ ok: false, failure: { kind: 'http', message: expect.stringContaining('sends patient data unencrypted') } });
    expect(seen).toHaveLength(0);
    await sites.close();
  });
});
