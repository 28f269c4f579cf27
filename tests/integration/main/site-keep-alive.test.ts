import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SiteSummary, SiteTestResult } from '../../../src/shared/ipc/contract';
import { hostValue, startTestWebHost } from '../../support/web-host-api';
import type { WebHost } from '../../../src/main/hosts/web/web-host';
import { startConnectionCounter } from '../../support/connection-counter';
import type { ConnectionCounter } from '../../support/connection-counter';
import { loadCtStudy, startOrthanc } from '../../support/orthanc';
import type { LoadedCtStudy, OrthancHandle } from '../../support/orthanc';

// Orthanc 1.10 answers `Keep-Alive: timeout=1`. undici's default
// keepAliveTimeoutThreshold takes a second or more off that hint, which left
// nothing: every request the gateway made opened a new TCP connection, one
// more round trip each on a slow link. Here a counting proxy sits between the
// browser host and a real Orthanc and tells how many connections a run of
// sequential requests needed.

let orthanc: OrthancHandle;
let study: LoadedCtStudy;
let host: WebHost;
let tmp: string;
const counters: ConnectionCounter[] = [];

const value = <T>(channel: string, payload: unknown): Promise<T> => hostValue<T>(host, channel, payload);

/** What the viewer does when a study opens: searches, metadata, then small previews, one after another. */
function viewerRequests(): Array<{ path: string; accept: string }> {
  const series = `/studies/${study.studyInstanceUID}/series/${study.seriesInstanceUID}`;
  const instance = (i: number): string => `${series}/instances/${study.sopInstanceUIDs[i]}`;
  const json = 'application/dicom+json';
  return [
    { path: '/studies?limit=5', accept: json },
    { path: `/studies/${study.studyInstanceUID}/series`, accept: json },
    { path: `${series}/instances`, accept: json },
    { path: `${series}/metadata`, accept: json },
    { path: `${instance(0)}/rendered?viewport=64,64&quality=50`, accept: 'image/jpeg' },
    { path: `${instance(1)}/rendered?viewport=64,64&quality=50`, accept: 'image/jpeg' },
  ];
}

/** Sends the requests through the gateway one at a time, each body read to its end (as the renderer does). */
async function sendSequentially(site: SiteSummary): Promise<number[]> {
  const statuses: number[] = [];
  for (const { path, accept } of viewerRequests()) {
    const res = await fetch(`${host.origin}${site.gatewayPath}${path}`, { headers: { 'x-telerad-token': host.token, accept } });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'telerad-int-keepalive-'));
  orthanc = await startOrthanc();
  study = await loadCtStudy(orthanc, { patientName: 'KEEP^ALIVE', patientId: 'KA-1', slices: 2 });
  host = await startTestWebHost(tmp);
});

afterAll(async () => {
  await host?.services.sites.close();
  await host?.close();
  await Promise.all(counters.map((c) => c.close()));
  await orthanc?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the site gateway keeps its connection to Orthanc alive', () => {
  it('sends six sequential viewer requests to an http site over at most two TCP connections', async () => {
    const counter = await startConnectionCounter({ upstreamPort: orthanc.port });
    counters.push(counter);
    const site = await value<SiteSummary>('sites.add', {
      name: 'Plain keep-alive',
      url: `${counter.url}/dicom-web`,
      auth: { type: 'basic', username: orthanc.username, password: orthanc.password },
    });

    const statuses = await sendSequentially(site);

    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    // One connection is what it should be; a second allows for a race with Orthanc's own idle close.
    expect(counter.connections()).toBeGreaterThanOrEqual(1);
    expect(counter.connections()).toBeLessThanOrEqual(2);
  });

  it('"Test connection" makes its dozen probes over a few connections, not one each', async () => {
    const counter = await startConnectionCounter({ upstreamPort: orthanc.port });
    counters.push(counter);
    const site = await value<SiteSummary>('sites.add', {
      name: 'Tested keep-alive',
      url: `${counter.url}/dicom-web`,
      auth: { type: 'basic', username: orthanc.username, password: orthanc.password },
    });

    const result = await value<SiteTestResult>('sites.test', { id: site.id });

    expect(result.ok).toBe(true);
    // The JPEG-LS probe stops reading after 64 kB, which must drop that connection: so one more, not one per probe.
    expect(counter.connections()).toBeLessThanOrEqual(3);
  });

  it('sends them over one TLS connection to an https site with a custom CA, which it still verifies', async () => {
    const tls = join(tmp, 'tls');
    mkdirSync(tls);
    const openssl = (...args: string[]): void => {
      execFileSync('openssl', args, { cwd: tls, stdio: 'ignore' });
    };
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Telerad Keep-Alive Test CA');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(join(tls, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
    const counter = await startConnectionCounter({
      upstreamPort: orthanc.port,
      tls: { key: readFileSync(join(tls, 'server.key')), cert: readFileSync(join(tls, 'server.pem')) },
    });
    counters.push(counter);
    const site = await value<SiteSummary>('sites.add', {
      name: 'TLS keep-alive',
      url: `${counter.url}/dicom-web`,
      auth: { type: 'basic', username: orthanc.username, password: orthanc.password },
      caCertificate: readFileSync(join(tls, 'ca.pem'), 'utf8'),
    });

    const statuses = await sendSequentially(site);

    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    expect(counter.connections()).toBeGreaterThanOrEqual(1);
    expect(counter.connections()).toBeLessThanOrEqual(2);

    // The same proxy without the CA: the keep-alive Agent did not loosen verification.
    const untrusted = await value<SiteSummary>('sites.add', {
      name: 'TLS keep-alive without CA',
      url: `${counter.url}/dicom-web`,
      auth: { type: 'basic', username: orthanc.username, password: orthanc.password },
    });
    const refused = await fetch(`${host.origin}${untrusted.gatewayPath}/studies`, {
      headers: { 'x-telerad-token': host.token, accept: 'application/dicom+json' },
    });
    expect(refused.status).toBe(502);
    expect(((await refused.json()) as { message: string }).message).toMatch(/TLS certificate error: the site's certificate is not signed by a trusted CA/);
  });
});
