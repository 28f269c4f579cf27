import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ERROR_HEADER } from '../../../src/shared/gateway';
import { createLogger, memorySink } from '../../../src/shared/log';
import { createSiteGateway } from '../../../src/main/services/sites/site-gateway';
import type { SiteDirectory } from '../../../src/main/services/sites/sites-service';

// Issue 18: a site's redirect went through the gateway with its Location, so the renderer's fetch
// followed it wherever the site said — another host, or the app's own /api (same origin, so with the
// launch token the page adds). The gateway follows none and passes none on.
let upstream: Server;
let baseUrl: string;
let answer: (res: ServerResponse) => void = (res) => res.writeHead(200).end();

beforeAll(async () => {
  upstream = createServer((_req, res) => answer(res));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/dicom-web`;
});

afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});

function gateway(): { call: (path: string, init?: RequestInit) => Promise<Response>; log: ReturnType<typeof memorySink> } {
  const sites: SiteDirectory = {
    find: async (id) => (id === 'hospital-a' ? { id, name: 'Hospital A', url: baseUrl } : undefined),
    authHeaders: async () => ({ authorization: 'Bearer site-token' }),
  };
  const log = memorySink();
  const handler = createSiteGateway({ sites, log: createLogger('gw', log) });
  return { call: (path, init) => handler(new Request(`http://127.0.0.1:1${path}`, init)), log };
}

describe('gateway and site redirects', () => {
  for (const [status, location] of [
    [302, 'http://elsewhere.example:8042/dicom-web/studies?PatientName=DOE*'],
    [307, '/api/vault.keys'],
    [308, 'https://127.0.0.1:9/steal'],
    [301, 'http://127.0.0.1:1/sites/other/dicom-web/studies'],
  ] as const) {
    it(`answers a site's ${status} redirect as a gateway error without its Location`, async () => {
      answer = (res) => res.writeHead(status, { location, refresh: `0; url=${location}` }).end('moved');
      const { call, log } = gateway();
      const res = await call('/sites/hospital-a/dicom-web/studies?PatientName=DOE*', { method: status === 307 ? 'POST' : 'GET', body: status === 307 ? 'x' : null });
      expect(res.status).toBe(502);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('refresh')).toBeNull();
      expect(res.headers.get(GATEWAY_ERROR_HEADER)).toBe('SITE_ERROR');
      const body = (await res.json()) as { message: string };
      expect(body.message).toContain(`Hospital A answered with a redirect (HTTP ${status}`);
      expect(body.message).toContain('check the site');
      // The log names where it pointed by origin only: the path and query may name a patient.
      const logged = log.records.map((l) => l.message).join('\n');
      expect(logged).toContain(`${status} to ${new URL(location, baseUrl).origin}`);
      expect(logged).not.toContain('DOE');
    });
  }

  it('still passes a 304 Not Modified on', async () => {
    answer = (res) => res.writeHead(304, { etag: '"v1"' }).end();
    const res = await gateway().call('/sites/hospital-a/dicom-web/studies', { headers: { 'if-none-match': '"v1"' } });
    expect(res.status).toBe(304);
    expect(res.headers.get('etag')).toBe('"v1"');
  });
});
