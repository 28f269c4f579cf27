import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GATEWAY_ERROR_HEADER } from '../../../src/shared/gateway';
import { createLogger, memorySink } from '../../../src/shared/log';
import { createSiteGateway } from '../../../src/main/services/sites/site-gateway';
import type { SiteDirectory } from '../../../src/main/services/sites/sites-service';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let upstream: Server;
let baseUrl: string;
let seen: Seen[];
let respond: (req: IncomingMessage, res: ServerResponse, body: string) => void;

beforeEach(async () => {
  seen = [];
  respond = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[]');
  };
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      respond(req, res, body);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/dicom-web`;
});

afterEach(async () => {
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});

const BASIC = `Basic ${Buffer.from('reader:site-password').toString('base64')}`;

function gateway(options: { timeoutMs?: number; idleTimeoutMs?: number } = {}): {
  call: (path: string, init?: RequestInit) => Promise<Response>;
  log: ReturnType<typeof memorySink>;
} {
  const sites: SiteDirectory = {
    find: async (id) => (id === 'hospital-a' ? { id, name: 'Hospital A', url: baseUrl } : undefined),
    authHeaders: async () => ({ authorization: BASIC }),
  };
  const log = memorySink();
  const handler = createSiteGateway({ sites, log: createLogger('gw', log), ...options });
  return { call: (path, init) => handler(new Request(`http://127.0.0.1:1${path}`, init)), log };
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  const body = (await res.json()) as { code: string; message: string };
  expect(res.headers.get(GATEWAY_ERROR_HEADER)).toBe(body.code);
  return body;
}

describe('site gateway', () => {
  it('forwards QIDO to the site URL with query, site credentials and Accept', async () => {
    const res = await gateway().call('/sites/hospital-a/dicom-web/studies?PatientID=X1&limit=5', {
      headers: { accept: 'application/dicom+json' },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('[]');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toBe('/dicom-web/studies?PatientID=X1&limit=5');
    expect(seen[0]?.headers.authorization).toBe(BASIC);
    expect(seen[0]?.headers.accept).toBe('application/dicom+json');
  });

  it("never forwards the renderer's own Authorization or Cookie headers", async () => {
    await gateway().call('/sites/hospital-a/dicom-web/studies', {
      headers: { authorization: 'Bearer renderer-made', cookie: 'telerad_token=abc' },
    });
    expect(seen[0]?.headers.authorization).toBe(BASIC);
    expect(seen[0]?.headers.cookie).toBeUndefined();
  });

  it.each([
    ['GET', '/tools/execute-script'],
    ['POST', '/tools/execute-script'],
    ['GET', '/system'],
    ['GET', '/'],
    ['DELETE', '/studies/1.2.3'],
    ['PUT', '/studies'],
    ['POST', '/studies/1.2.3/series'],
  ])('refuses %s %s with 403 FORBIDDEN without contacting the site', async (method, path) => {
    const res = await gateway().call(`/sites/hospital-a/dicom-web${path}`, { method, ...(method === 'GET' ? {} : { body: 'x' }) });
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe('FORBIDDEN');
    expect(seen).toHaveLength(0);
  });

  it('answers an unknown site with 404', async () => {
    const res = await gateway().call('/sites/nowhere/dicom-web/studies');
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('NOT_FOUND');
  });

  it('turns an upstream 401 into 502 SITE_AUTH_FAILED naming the site', async () => {
    respond = (_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="orthanc"' }).end('Unauthorized');
    };
    const res = await gateway().call('/sites/hospital-a/dicom-web/studies');
    expect(res.status).toBe(502);
    expect(res.headers.get('www-authenticate')).toBeNull();
    expect(await errorOf(res)).toEqual({ code: 'SITE_AUTH_FAILED', message: 'Authentication failed at Hospital A' });
  });

  it('answers 504 SITE_TIMEOUT when the site sends no headers in time', async () => {
    respond = () => {
      /* never answers */
    };
    const started = Date.now();
    const res = await gateway({ timeoutMs: 200 }).call('/sites/hospital-a/dicom-web/studies');
    expect(res.status).toBe(504);
    expect((await errorOf(res)).code).toBe('SITE_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('cuts a response body that stalls longer than the idle timeout', async () => {
    respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write('first chunk');
      // ...and nothing more.
    };
    const res = await gateway({ timeoutMs: 5000, idleTimeoutMs: 200 }).call('/sites/hospital-a/dicom-web/studies/1.2/series/3.4/instances/5.6');
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('answers 502 SITE_UNREACHABLE when nothing listens at the site', async () => {
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
    const res = await gateway().call('/sites/hospital-a/dicom-web/studies');
    expect(res.status).toBe(502);
    expect((await errorOf(res)).code).toBe('SITE_UNREACHABLE');
    upstream.listen(0, '127.0.0.1'); // so afterEach can close it again
  });

  it('forwards a STOW-RS body with its Content-Type, and drops hop-by-hop and Set-Cookie headers from the answer', async () => {
    respond = (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/dicom+json',
        'set-cookie': 'session=site-session',
        'keep-alive': 'timeout=5',
        'x-site-header': 'kept',
      });
      res.end('{}');
    };
    const body = '--b\r\nContent-Type: application/dicom\r\n\r\nDICM\r\n--b--';
    const res = await gateway().call('/sites/hospital-a/dicom-web/studies', {
      method: 'POST',
      headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=b' },
      body,
    });
    expect(res.status).toBe(200);
    expect(seen[0]?.method).toBe('POST');
    expect(seen[0]?.body).toBe(body);
    expect(seen[0]?.headers['content-type']).toBe('multipart/related; type="application/dicom"; boundary=b');
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('keep-alive')).toBeNull();
    expect(res.headers.get('x-site-header')).toBe('kept');
  });

  it('streams a large body through without waiting for its end', async () => {
    let finish: () => void = () => undefined;
    respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(64 * 1024, 1));
      finish = () => res.end(Buffer.alloc(64 * 1024, 2));
    };
    const res = await gateway().call('/sites/hospital-a/dicom-web/studies/1/series/2/instances/3');
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.value?.length).toBeGreaterThan(0);
    finish();
    let total = first.value?.length ?? 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
    }
    expect(total).toBe(128 * 1024);
  });

  it('logs method, site, path, status and time, but not the query or credentials', async () => {
    const gw = gateway();
    await gw.call('/sites/hospital-a/dicom-web/studies?PatientName=DOE*');
    const lines = gw.log.records.map((r) => r.message).join('\n');
    expect(lines).toMatch(/GET hospital-a \/studies 200 \d+ms/);
    expect(lines).not.toContain('DOE');
    expect(lines).not.toContain(BASIC.split(' ')[1]);
  });
});
