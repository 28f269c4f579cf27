import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertAuditTransportAllowed, checkAuditRepositoryFlags, effectiveAuditRepository, loadAppSettings } from '../../../src/main/services/settings/app-settings';
import { startWebHost } from '../../../src/main/hosts/web/web-host';
import { parseAuditRepositoryUrl } from '../../../src/main/services/audit/audit-forwarder';

let dir: string;
let pem: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-settings-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'), '-days', '2', '-subj', '/CN=Settings Test CA'], { stdio: 'ignore' });
  pem = readFileSync(join(dir, 'ca.pem'), 'utf8');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withSettings(json: unknown): string {
  const d = mkdtempSync(join(dir, 'data-'));
  writeFileSync(join(d, 'settings.json'), typeof json === 'string' ? json : JSON.stringify(json));
  return d;
}

describe('settings.json: where the audit trail is forwarded', () => {
  it('is optional: no file means no repository', async () => {
    const d = mkdtempSync(join(dir, 'empty-'));
    expect(await loadAppSettings(d)).toEqual({});
    expect(effectiveAuditRepository({}, {})).toBeUndefined();
  });

  it('reads the repository and its CA', async () => {
    const d = withSettings({ audit: { repository: 'tcp+tls://arr.hospital.example:6514', caCertificate: pem } });
    expect(await loadAppSettings(d)).toEqual({ audit: { repository: 'tcp+tls://arr.hospital.example:6514', caCertificate: pem } });
  });

  it.each([
    ['http://arr.example:6514', /field "audit\.repository": unsupported scheme "http:"/],
    ['tcp+tls://arr.example', /field "audit\.repository": names no port/],
    ['tcp://arr.example:70000', /field "audit\.repository": /],
    ['tcp://user:secret@arr.example:514', /field "audit\.repository": must not contain a user name or password/],
    ['tcp://arr.example:514/path', /without a path/],
  ])('refuses repository %s, naming the field', async (url, message) => {
    const d = withSettings({ audit: { repository: url } });
    await expect(loadAppSettings(d)).rejects.toThrow(message);
    await expect(loadAppSettings(d)).rejects.toThrow(join(d, 'settings.json'));
  });

  it('refuses a CA that is not a certificate, and unknown fields', async () => {
    await expect(loadAppSettings(withSettings({ audit: { repository: 'tcp+tls://a:1', caCertificate: 'nope' } }))).rejects.toThrow(
      /field "audit\.caCertificate": contains no PEM certificate/,
    );
    await expect(loadAppSettings(withSettings({ audit: { repositry: 'tcp://a:1' } }))).rejects.toThrow(/field "audit": .*repositry/);
    await expect(loadAppSettings(withSettings('{ not json'))).rejects.toThrow(/settings\.json is not valid JSON/);
  });

  it('lets the command line replace each part', () => {
    const settings = { audit: { repository: 'tcp+tls://a.example:6514', caCertificate: pem } };
    expect(effectiveAuditRepository(settings, { repository: 'tcp://b.example:514' })).toEqual({ url: 'tcp://b.example:514', caCertificate: pem });
    expect(effectiveAuditRepository(settings, { caCertificate: 'other' })).toEqual({ url: 'tcp+tls://a.example:6514', caCertificate: 'other' });
    expect(() => checkAuditRepositoryFlags({ repository: 'udp://a:514' })).toThrow(/^--audit-repository unsupported scheme/);
    expect(() => checkAuditRepositoryFlags({ repository: 'tcp://a:514', caCertificate: 'x', caFile: 'ca.pem' })).toThrow(/^--audit-ca ca\.pem: contains no PEM/);
  });

  it('shows the repository without credentials or anything but scheme, host and port', () => {
    expect(parseAuditRepositoryUrl('tcp+tls://ARR.example:6514')).toEqual({ tls: true, host: 'arr.example', port: 6514, display: 'tcp+tls://arr.example:6514' });
    expect(parseAuditRepositoryUrl('tcp://[::1]:514')).toMatchObject({ tls: false, host: '::1', port: 514 });
  });

  it('refuses plain tcp:// to another computer at start, since the trail carries patient names; TLS or a local relay pass', async () => {
    expect(() => assertAuditTransportAllowed({ url: 'tcp://arr.hospital.example:514' })).toThrow(
      'audit repository tcp://arr.hospital.example:514: plain tcp:// would send patient names unencrypted to another computer; use tcp+tls://arr.hospital.example:514 (RFC 5425) or a relay on this computer',
    );
    for (const url of ['tcp+tls://arr.hospital.example:6514', 'tcp://127.0.0.1:514', 'tcp://localhost:514', 'tcp://[::1]:514']) expect(() => assertAuditTransportAllowed({ url })).not.toThrow();
    expect(() => assertAuditTransportAllowed(undefined)).not.toThrow();
    // The browser host does not start with it, and says why.
    const dataDir = withSettings({ audit: { repository: 'tcp://arr.hospital.example:514' } });
    await expect(startWebHost({ dataDir, rendererDir: dir })).rejects.toThrow(/plain tcp:\/\/ would send patient names unencrypted/);
  });
});
