import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SiteSummary, SiteTestResult } from '../../../src/shared/ipc/contract';
import type { Envelope } from '../../../src/shared/ipc/envelope';
import { startWebHost } from '../../../src/main/hosts/web/web-host';
import type { WebHost } from '../../../src/main/hosts/web/web-host';
import { startFaultProxy } from '../../support/fault-proxy';
import type { FaultProxy } from '../../support/fault-proxy';
import { freePort, loadCtStudy, startOrthanc } from '../../support/orthanc';
import type { OrthancHandle } from '../../support/orthanc';
import { unlockTestHost } from '../../support/web-host-api';

// "Test connection" against a real Orthanc 1.10 + DICOMweb 1.7 (authentication
// on), through the browser host's contract over HTTP, as the Sites panel calls it.

let orthanc: OrthancHandle;
let host: WebHost;
let tmp: string;
let dataDir: string;

async function call<T>(channel: string, payload: unknown): Promise<Envelope<T>> {
  const res = await fetch(`${host.origin}/api/${channel}`, {
    method: 'POST',
    headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
  return (await res.json()) as Envelope<T>;
}
async function value<T>(channel: string, payload: unknown): Promise<T> {
  const env = await call<T>(channel, payload);
  if (!env.ok) throw new Error(`${channel}: ${env.error.code} ${env.error.message}`);
  return env.value;
}
async function addSite(payload: Record<string, unknown>): Promise<SiteSummary> {
  return value<SiteSummary>('sites.add', payload);
}
async function instanceCount(): Promise<number> {
  const res = await fetch(`${orthanc.baseUrl}/statistics`, { headers: { authorization: orthanc.authorization } });
  return ((await res.json()) as { CountInstances: number }).CountInstances;
}
function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? allFiles(p) : [p];
  });
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'telerad-int-sites-'));
  dataDir = join(tmp, 'data');
  const rendererDir = join(tmp, 'renderer');
  mkdirSync(rendererDir);
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Telerad</title>');
  orthanc = await startOrthanc();
  await loadCtStudy(orthanc, { patientName: 'SITES^TEST', patientId: 'SITES-1', slices: 2 });
  host = await startWebHost({ dataDir, rendererDir, version: 'test' });
  // Past the lock screen: the host answers no data channel while locked (issue 18).
  await unlockTestHost(host);
});

afterAll(async () => {
  await host?.services.sites.close();
  await host?.close();
  await orthanc?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('test connection against a real Orthanc', () => {
  it('reports QIDO, WADO, STOW, JPEG-LS lossless and previews as supported, with a latency, and remembers them on the site', async () => {
    const site = await addSite({ name: 'Good', url: orthanc.dicomWebUrl, auth: { type: 'basic', username: orthanc.username, password: orthanc.password } });
    const before = await instanceCount();
    const result = await value<SiteTestResult>('sites.test', { id: site.id });

    expect(result.ok).toBe(true);
    expect(result.failure).toBeUndefined();
    expect(result.capabilities).toMatchObject({ qido: 'yes', wado: 'yes', stow: 'yes', jpegLsLossless: 'yes', rendered: 'yes' });
    expect(result.notes.rendered).toBeUndefined();
    expect(result.capabilities.latencyMs).toBeGreaterThan(0);
    // The STOW-RS probe is an empty multipart: nothing was stored.
    expect(await instanceCount()).toBe(before);

    const listed = (await value<SiteSummary[]>('sites.list', {})).find((s) => s.id === site.id);
    expect(listed?.capabilities).toEqual(result.capabilities);
  });

  it('says a site that answers 404 to /rendered does not render previews, and still supports the rest', async () => {
    const proxy: FaultProxy = await startFaultProxy(orthanc.baseUrl);
    try {
      proxy.addFault({ fault: { kind: 'status', status: 404 }, match: (r) => r.path.includes('/rendered'), times: Infinity });
      const site = await addSite({
        name: 'No previews',
        url: `${proxy.url}/dicom-web`,
        auth: { type: 'basic', username: orthanc.username, password: orthanc.password },
      });
      const result = await value<SiteTestResult>('sites.test', { id: site.id });

      expect(result.ok).toBe(true);
      expect(result.capabilities).toMatchObject({ qido: 'yes', wado: 'yes', jpegLsLossless: 'yes', rendered: 'no' });
      expect(result.notes.rendered).toBe('the site does not render previews (HTTP 404): studies open lossless only');
      // The probe asked for a small JPEG preview, of an image.
      const asked = proxy.exchanges.filter((e) => e.path.includes('/rendered'));
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatchObject({ accept: 'image/jpeg', status: 404 });
      expect(asked[0]?.path).toMatch(/\/instances\/[0-9.]+\/rendered\?viewport=64,64&quality=50$/);
      expect((await value<SiteSummary[]>('sites.list', {})).find((s) => s.id === site.id)?.capabilities?.rendered).toBe('no');
    } finally {
      await proxy.close();
    }
  });

  it("refuses a URL at Orthanc's root (its REST API, not DICOMweb), naming the DICOMweb root, and passes at …/dicom-web", async () => {
    const auth = { type: 'basic', username: orthanc.username, password: orthanc.password };
    for (const url of [orthanc.baseUrl, `${orthanc.baseUrl}/`]) {
      const root = await addSite({ name: `Orthanc root ${url.length}`, url, auth });
      const refused = await value<SiteTestResult>('sites.test', { id: root.id });
      expect(refused).toMatchObject({ ok: false, failure: { kind: 'http' } });
      expect(refused.failure?.message).toBe(`this is the Orthanc server's root, not its DICOMweb root: use ${orthanc.baseUrl}/dicom-web`);
      expect(refused.capabilities.qido).toBe('unknown');
      // Nothing learnt from the wrong endpoint is kept on the site.
      expect((await value<SiteSummary[]>('sites.list', {})).find((s) => s.id === root.id)?.capabilities).toBeUndefined();
    }

    const dicomWeb = await addSite({ name: 'Orthanc DICOMweb root', url: orthanc.dicomWebUrl, auth });
    const passed = await value<SiteTestResult>('sites.test', { id: dicomWeb.id });
    expect(passed.ok).toBe(true);
    expect(passed.capabilities).toMatchObject({ qido: 'yes', wado: 'yes' });
  });

  it('says "authentication failed" for a wrong password, and keeps no capabilities', async () => {
    const site = await addSite({ name: 'Wrong password', url: orthanc.dicomWebUrl, auth: { type: 'basic', username: orthanc.username, password: 'not-the-password' } });
    const result = await value<SiteTestResult>('sites.test', { id: site.id });
    expect(result.ok).toBe(false);
    expect(result.failure?.kind).toBe('auth');
    expect(result.failure?.message).toMatch(/^authentication failed/);
    expect((await value<SiteSummary[]>('sites.list', {})).find((s) => s.id === site.id)?.capabilities).toBeUndefined();
  });

  it('says "unreachable" for a closed port', async () => {
    const port = await freePort();
    const site = await addSite({ name: 'Closed port', url: `http://127.0.0.1:${port}/dicom-web`, auth: { type: 'none' } });
    const result = await value<SiteTestResult>('sites.test', { id: site.id });
    expect(result).toMatchObject({ ok: false, failure: { kind: 'unreachable' } });
    expect(result.failure?.message).toMatch(/connection refused/);
  });

  it('says "timed out" for a socket that accepts and never answers, within the configured timeout', async () => {
    const sockets = new Set<Socket>();
    const silent: NetServer = createNetServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as AddressInfo).port;
      const site = await addSite({ name: 'Silent', url: `http://127.0.0.1:${port}/dicom-web`, auth: { type: 'none' }, timeouts: { connectMs: 800 } });
      const started = Date.now();
      const result = await value<SiteTestResult>('sites.test', { id: site.id });
      const elapsed = Date.now() - started;
      expect(result).toMatchObject({ ok: false, failure: { kind: 'timeout' } });
      expect(elapsed).toBeGreaterThanOrEqual(750);
      expect(elapsed).toBeLessThan(2500);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('never shows the password: not in sites.list, and on disk only in secrets.json', async () => {
    const password = `pw-only-in-secrets-${Date.now()}`;
    const site = await addSite({ name: 'Secret keeper', url: orthanc.dicomWebUrl, auth: { type: 'basic', username: 'reader', password } });
    await value('sites.test', { id: site.id });
    const listText = JSON.stringify(await call('sites.list', {}));
    expect(listText).toContain('Secret keeper');
    expect(listText).not.toContain(password);
    const holders = allFiles(dataDir).filter((f) => readFileSync(f).includes(password));
    expect(holders.map((f) => basename(f))).toEqual(['secrets.json']);
  });
});

describe('a site with its own CA certificate', () => {
  let tls: string;
  let upstream: HttpsServer;
  let wrongName: HttpsServer;
  let url: string;
  let wrongNameUrl: string;
  let caPem: string;
  /** HTTP requests that got through a TLS handshake to either server: data only flows after one. */
  let answered = 0;

  async function listenHttps(certFile: string): Promise<{ server: HttpsServer; url: string }> {
    // A tiny DICOMweb site over https that holds no studies.
    const server = createHttpsServer({ key: readFileSync(join(tls, 'server.key')), cert: readFileSync(join(tls, certFile)) }, (req, res) => {
      answered += 1;
      if (req.method === 'GET' && req.url?.startsWith('/dicom-web/studies')) res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[]');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/dicom-web` };
  }
  async function viaGateway(site: SiteSummary): Promise<Response> {
    return fetch(`${host.origin}${site.gatewayPath}/studies`, { headers: { 'x-telerad-token': host.token, accept: 'application/dicom+json' } });
  }

  beforeAll(async () => {
    tls = join(tmp, 'tls');
    mkdirSync(tls);
    const openssl = (...args: string[]): void => {
      execFileSync('openssl', args, { cwd: tls, stdio: 'ignore' });
    };
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Telerad Test Site CA');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(join(tls, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
    // Same CA, same key, but issued to another host: trusting the CA must not make it valid for 127.0.0.1.
    writeFileSync(join(tls, 'other.cnf'), 'subjectAltName=DNS:pacs.other-hospital.example\nbasicConstraints=CA:FALSE\n');
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'other.pem', '-days', '2', '-extfile', 'other.cnf');
    caPem = readFileSync(join(tls, 'ca.pem'), 'utf8');
    ({ server: upstream, url } = await listenHttps('server.pem'));
    ({ server: wrongName, url: wrongNameUrl } = await listenHttps('other.pem'));
  });
  afterAll(async () => {
    for (const server of [upstream, wrongName]) {
      server?.closeAllConnections();
      await new Promise((r) => server?.close(r));
    }
  });

  it('connects with the CA, and the gateway passes the answer through', async () => {
    const trusted = await addSite({ name: 'TLS with CA', url, auth: { type: 'none' }, caCertificate: caPem });
    const ok = await value<SiteTestResult>('sites.test', { id: trusted.id });
    expect(ok.ok).toBe(true);
    expect(ok.capabilities).toMatchObject({ qido: 'yes', wado: 'unknown', jpegLsLossless: 'unknown', rendered: 'unknown', stow: 'no' });
    expect(ok.notes.wado).toMatch(/holds no instance/);
    const res = await viaGateway(trusted);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
  });

  it('without the CA: "Test connection" names the certificate problem, the gateway answers an error, and no request reaches the site', async () => {
    const untrusted = await addSite({ name: 'TLS without CA', url, auth: { type: 'none' } });
    const before = answered;
    const bad = await value<SiteTestResult>('sites.test', { id: untrusted.id });
    expect(bad).toMatchObject({ ok: false, failure: { kind: 'tls' } });
    expect(bad.failure?.message).toMatch(
      /^TLS certificate error: the site's certificate is not signed by a trusted CA \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\); add the site's CA certificate$/,
    );
    // A failed test keeps no capabilities: nothing was learnt from a server that was not verified.
    expect((await value<SiteSummary[]>('sites.list', {})).find((s) => s.id === untrusted.id)?.capabilities).toBeUndefined();

    const res = await viaGateway(untrusted);
    expect(res.status).toBe(502);
    const body = (await res.json()) as { code: string; message: string };
    expect(body).toMatchObject({ code: 'SITE_UNREACHABLE' });
    expect(body.message).toMatch(/^TLS without CA: TLS certificate error: the site's certificate is not signed by a trusted CA/);
    expect(answered).toBe(before);
  });

  it('a certificate issued to another host name fails even with the right CA, in the test and at the gateway', async () => {
    const misnamed = await addSite({ name: 'TLS wrong name', url: wrongNameUrl, auth: { type: 'none' }, caCertificate: caPem });
    const before = answered;
    const bad = await value<SiteTestResult>('sites.test', { id: misnamed.id });
    expect(bad).toMatchObject({ ok: false, failure: { kind: 'tls' } });
    expect(bad.failure?.message).toBe("TLS certificate error: the site's certificate is for another host name (ERR_TLS_CERT_ALTNAME_INVALID)");

    const res = await viaGateway(misnamed);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { message: string }).message).toMatch(/another host name \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
    expect(answered).toBe(before);
  });
});
