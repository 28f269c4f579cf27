import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GATEWAY_ERROR_HEADER } from '../../../src/shared/gateway';
import type { SiteCapabilities, SiteSummary } from '../../../src/shared/ipc/contract';
import type { AppServices } from '../../../src/main/services/app-services';
import { fileMetaTransferSyntax, returnedTransferSyntax } from '../../../src/main/services/sites/site-tester';
import { contractCalls, overJson, startUnlockedWebServices } from '../../support/contract';

// Site management over the contract, the way the renderer drives it: every
// request goes through the dispatcher (schema validation, response stripping).

let dir: string;
let services: AppServices;
let caPem: string;
let tlsDir: string;

beforeAll(() => {
  tlsDir = mkdtempSync(join(tmpdir(), 'telerad-ca-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(tlsDir, 'ca.key'), '-out', join(tlsDir, 'ca.pem'), '-days', '2', '-subj', '/CN=Telerad Test CA'], {
    stdio: 'ignore',
  });
  caPem = readFileSync(join(tlsDir, 'ca.pem'), 'utf8');
});
afterAll(() => rmSync(tlsDir, { recursive: true, force: true }));


beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-sites-mgmt-'));
  services = await startUnlockedWebServices(dir);
});
afterEach(async () => {
  await services.sites.close();
  rmSync(dir, { recursive: true, force: true });
});

// JSON both ways, as over HTTP or IPC.
const { call, value, errorOf } = contractCalls(overJson((channel, payload) => services.dispatch(channel, payload)));

const BASIC_SITE = { name: 'Hospital A', url: 'https://pacs.a.example/dicom-web/', auth: { type: 'basic', username: 'reader', password: 'pw-alpha-7731' } };
const BEARER_SITE = { name: 'Clinic B', url: 'http://127.0.0.1:9/dicom-web', auth: { type: 'bearer', token: 'tok-bravo-5521' } };

describe('adding a site', () => {
  it('rejects bad input with the field named', async () => {
    expect((await errorOf('sites.add', { ...BASIC_SITE, url: 'ftp://x.example' })).message).toMatch(/url/);
    const noPassword = await errorOf('sites.add', { ...BASIC_SITE, auth: { type: 'basic', username: 'reader' } });
    expect(noPassword.code).toBe('BAD_REQUEST');
    expect(noPassword.message).toMatch(/auth\.password/);
    expect((await errorOf('sites.add', { ...BASIC_SITE, name: '  ' })).message).toMatch(/name/);
    expect((await errorOf('sites.add', { ...BASIC_SITE, timeouts: { connectMs: 5 } })).message).toMatch(/timeouts\.connectMs/);
    expect((await errorOf('sites.add', { ...BASIC_SITE, timeouts: { idleMs: 86_400_000 } })).message).toMatch(/timeouts\.idleMs/);
    expect((await errorOf('sites.add', { ...BASIC_SITE, caCertificate: 'not a certificate' })).message).toMatch(/must be PEM text.*at caCertificate/s);
    const garbage = '-----BEGIN CERTIFICATE-----\nQUJDRA==\n-----END CERTIFICATE-----\n';
    const notX509 = await errorOf('sites.add', { ...BASIC_SITE, caCertificate: garbage });
    expect(notX509).toEqual({ code: 'BAD_REQUEST', message: 'caCertificate: certificate 1 is not a valid X.509 certificate' });
    expect(await value<SiteSummary[]>('sites.list', {})).toEqual([]);
  });

  it('refuses a second site with the same name, ignoring case', async () => {
    await value('sites.add', BASIC_SITE);
    expect(await errorOf('sites.add', { ...BEARER_SITE, name: 'HOSPITAL a' })).toEqual({
      code: 'CONFLICT',
      message: 'name: a site named "Hospital A" already exists',
    });
  });

  it('lists the site with its CA flag and timeouts but never its password, token or CA, and keeps them out of sites.json', async () => {
    const added = await value<SiteSummary>('sites.add', { ...BASIC_SITE, caCertificate: caPem, timeouts: { connectMs: 5000 } });
    expect(added).toEqual({
      id: 'hospital-a',
      name: 'Hospital A',
      url: 'https://pacs.a.example/dicom-web',
      authType: 'basic',
      username: 'reader',
      gatewayPath: '/sites/hospital-a/dicom-web',
      hasCustomCa: true,
      timeouts: { connectMs: 5000, idleMs: 30_000 },
    });
    await value('sites.add', BEARER_SITE);

    const listed = JSON.stringify(await call('sites.list', {}));
    for (const secret of ['pw-alpha-7731', 'tok-bravo-5521', 'BEGIN CERTIFICATE', caPem.split('\n')[1] ?? 'x']) expect(listed).not.toContain(secret);

    const sitesJson = readFileSync(join(dir, 'sites.json'), 'utf8');
    expect(sitesJson).not.toContain('pw-alpha-7731');
    expect(sitesJson).not.toContain('tok-bravo-5521');
    const secretsJson = readFileSync(join(dir, 'secrets.json'), 'utf8');
    expect(secretsJson).toContain('pw-alpha-7731');
    expect(secretsJson).toContain('tok-bravo-5521');
  });

  it('persists added sites across a restart', async () => {
    await value('sites.add', { ...BASIC_SITE, timeouts: { idleMs: 9000 } });
    await services.sites.close();
    services = await startUnlockedWebServices(dir);
    expect(await value<SiteSummary[]>('sites.list', {})).toMatchObject([{ id: 'hospital-a', timeouts: { connectMs: 30_000, idleMs: 9000 } }]);
    expect(await services.sites.authHeaders('hospital-a')).toEqual({ authorization: `Basic ${Buffer.from('reader:pw-alpha-7731').toString('base64')}` });
  });
});

describe('editing a site', () => {
  it('keeps the stored password when the form leaves it out, also when the username changes', async () => {
    await value('sites.add', BASIC_SITE);
    const updated = await value<SiteSummary>('sites.update', { id: 'hospital-a', name: 'Hospital A (night)', auth: { type: 'basic', username: 'reader2' } });
    expect(updated).toMatchObject({ id: 'hospital-a', name: 'Hospital A (night)', username: 'reader2' });
    expect(await services.sites.authHeaders('hospital-a')).toEqual({ authorization: `Basic ${Buffer.from('reader2:pw-alpha-7731').toString('base64')}` });
  });

  it('replaces the password when a new one is given, and keeps everything not named', async () => {
    await value('sites.add', { ...BASIC_SITE, caCertificate: caPem, timeouts: { connectMs: 4000 } });
    await value('sites.update', { id: 'hospital-a', auth: { type: 'basic', username: 'reader', password: 'pw-rotated-2' } });
    await value('sites.update', { id: 'hospital-a', timeouts: { idleMs: 7000 } });
    expect(await value<SiteSummary[]>('sites.list', {})).toMatchObject([{ hasCustomCa: true, timeouts: { connectMs: 4000, idleMs: 7000 }, url: 'https://pacs.a.example/dicom-web' }]);
    expect(await services.sites.authHeaders('hospital-a')).toEqual({ authorization: `Basic ${Buffer.from('reader:pw-rotated-2').toString('base64')}` });
    expect(readFileSync(join(dir, 'secrets.json'), 'utf8')).not.toContain('pw-alpha-7731');
  });

  it('needs the token when switching to bearer, and forgets the secret when switching to none', async () => {
    await value('sites.add', BASIC_SITE);
    const missing = await errorOf('sites.update', { id: 'hospital-a', auth: { type: 'bearer' } });
    expect(missing.code).toBe('BAD_REQUEST');
    expect(missing.message).toMatch(/^auth\.token/);
    await value('sites.update', { id: 'hospital-a', auth: { type: 'none' } });
    expect(await services.sites.authHeaders('hospital-a')).toEqual({});
    expect(readFileSync(join(dir, 'secrets.json'), 'utf8')).not.toContain('pw-alpha-7731');
  });

  it('removes the CA with null and refuses an unknown id', async () => {
    await value('sites.add', { ...BASIC_SITE, caCertificate: caPem });
    expect(await value<SiteSummary>('sites.update', { id: 'hospital-a', caCertificate: null })).toMatchObject({ hasCustomCa: false });
    expect(readFileSync(join(dir, 'sites.json'), 'utf8')).not.toContain('BEGIN CERTIFICATE');
    expect((await errorOf('sites.update', { id: 'nope', name: 'X' })).code).toBe('NOT_FOUND');
  });

  it('keeps tested capabilities across a rename but drops them when the URL changes', async () => {
    await value('sites.add', BASIC_SITE);
    const site = await services.sites.find('hospital-a');
    if (!site) throw new Error('site missing');
    const caps: SiteCapabilities = { qido: 'yes', wado: 'yes', stow: 'unknown', jpegLsLossless: 'no', latencyMs: 12.5, testedAt: '2024-01-01T00:00:00.000Z' };
    expect(await services.sites.recordCapabilities(site, caps)).toBe(true);
    expect(await value<SiteSummary>('sites.update', { id: 'hospital-a', name: 'Renamed' })).toMatchObject({ capabilities: caps });
    // Another host needs the credentials again (sites-origin-change.test.ts).
    const moved = await value<SiteSummary>('sites.update', {
      id: 'hospital-a',
      url: 'https://pacs2.a.example/dicom-web',
      auth: { type: 'basic', username: 'reader', password: 'pw-pacs2-1024' },
    });
    expect(moved.capabilities).toBeUndefined();
    // A test that started before the move describes the old server: it is not stored.
    expect(await services.sites.recordCapabilities(site, caps)).toBe(false);
  });
});

describe('removing a site', () => {
  it('deletes the site and its secret, and answers NOT_FOUND the second time', async () => {
    await value('sites.add', BASIC_SITE);
    await value('sites.add', BEARER_SITE);
    expect(await value('sites.remove', { id: 'hospital-a' })).toBeNull();
    expect((await value<SiteSummary[]>('sites.list', {})).map((s) => s.id)).toEqual(['clinic-b']);
    const secretsJson = readFileSync(join(dir, 'secrets.json'), 'utf8');
    expect(secretsJson).not.toContain('pw-alpha-7731');
    expect(secretsJson).toContain('tok-bravo-5521');
    expect((await errorOf('sites.remove', { id: 'hospital-a' })).code).toBe('NOT_FOUND');
    // Besides the vault's key file and the audit trail of the unlock (tests/support/contract.ts), only these two.
    expect(readdirSync(dir).sort()).toEqual(['audit', 'secrets.json', 'sites.json', 'vault.json']);
  });
});

describe('per-site timeouts in the gateway', () => {
  let hanging: Server;
  let port: number;
  beforeEach(async () => {
    hanging = createServer(() => undefined); // accepts, never answers
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    port = (hanging.address() as AddressInfo).port;
  });
  afterEach(async () => {
    hanging.closeAllConnections();
    await new Promise((r) => hanging.close(r));
  });

  it("answers SITE_TIMEOUT after the site's own connect timeout, not the default", async () => {
    await value('sites.add', { name: 'Slow', url: `http://127.0.0.1:${port}/dicom-web`, auth: { type: 'none' }, timeouts: { connectMs: 600 } });
    const started = Date.now();
    const res = await services.gateway(new Request('http://127.0.0.1:1/sites/slow/dicom-web/studies'));
    const elapsed = Date.now() - started;
    expect(res.status).toBe(504);
    expect(res.headers.get(GATEWAY_ERROR_HEADER)).toBe('SITE_TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(3000);
  });
});

describe('reading the transfer syntax of a WADO-RS answer', () => {
  function part10(ts: string): Uint8Array {
    const value = ts.length % 2 ? `${ts}\0` : ts;
    const el = Buffer.alloc(8 + value.length);
    el.writeUInt16LE(0x0002, 0);
    el.writeUInt16LE(0x0010, 2);
    el.write('UI', 4, 'latin1');
    el.writeUInt16LE(value.length, 6);
    el.write(value, 8, 'latin1');
    const version = Buffer.from([0x02, 0x00, 0x01, 0x00, 0x4f, 0x42, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
    return new Uint8Array(Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), version, el, Buffer.from([0x08, 0x00, 0x16, 0x00])]));
  }

  it('finds (0002,0010) in the file meta, past an OB element', () => {
    expect(fileMetaTransferSyntax(part10('1.2.840.10008.1.2.4.80'))).toBe('1.2.840.10008.1.2.4.80');
    expect(fileMetaTransferSyntax(part10('1.2.840.10008.1.2.1'))).toBe('1.2.840.10008.1.2.1');
    expect(fileMetaTransferSyntax(new Uint8Array(64))).toBeUndefined();
  });

  it("prefers the part's Content-Type parameter and falls back to the file meta", () => {
    const multipart = (partType: string, file: Uint8Array): Uint8Array =>
      new Uint8Array(Buffer.concat([Buffer.from(`--b1\r\nContent-Type: ${partType}\r\n\r\n`), file, Buffer.from('\r\n--b1--\r\n')]));
    const headers = new Headers({ 'content-type': 'multipart/related; type="application/dicom"; boundary=b1' });
    expect(returnedTransferSyntax({ headers, body: multipart('application/dicom; transfer-syntax=1.2.840.10008.1.2.4.80', part10('1.2.840.10008.1.2.1')) })).toBe(
      '1.2.840.10008.1.2.4.80',
    );
    expect(returnedTransferSyntax({ headers, body: multipart('application/dicom', part10('1.2.840.10008.1.2.1')) })).toBe('1.2.840.10008.1.2.1');
  });
});
