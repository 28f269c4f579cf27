import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redactor, createLogger, memorySink } from '../../../src/shared/log';
import { FileSecretStore } from '../../../src/main/services/secrets/file-secret-store';
import { ProvisioningError, loadProvisioningFile, parseProvisioning, slugForSiteName } from '../../../src/main/services/sites/provisioning';
import { SiteRepository } from '../../../src/main/services/sites/site-repository';
import { SitesService } from '../../../src/main/services/sites/sites-service';
import type { SecretStore } from '../../../src/main/services/secrets/secret-store';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-sites-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const HOSPITAL_A = {
  name: 'Hospital A',
  url: 'http://127.0.0.1:8042/dicom-web',
  auth: { type: 'basic', username: 'reader', password: 'secret-a1' },
};

function problemsOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProvisioningError);
    return (err as Error).message;
  }
  throw new Error('expected a ProvisioningError');
}

describe('provisioning file', () => {
  it('accepts the documented format with none, basic and bearer auth', () => {
    const entries = parseProvisioning(
      [
        HOSPITAL_A,
        { name: 'Clinic B', url: 'https://pacs.b.example/dicom-web/', auth: { type: 'bearer', token: 'tok-123' } },
        { name: 'Open C', url: 'http://127.0.0.1:9000/dicomweb', auth: { type: 'none' } },
      ],
      'test',
    );
    expect(entries.map((e) => e.auth.type)).toEqual(['basic', 'bearer', 'none']);
    expect(entries[1]?.url).toBe('https://pacs.b.example/dicom-web');
  });

  it('names the entry and the field of a missing password', () => {
    const message = problemsOf(() =>
      parseProvisioning([HOSPITAL_A, { name: 'Hospital B', url: 'http://x.example', auth: { type: 'basic', username: 'u' } }], 'file sites.json'),
    );
    expect(message).toContain('sites.json');
    expect(message).toContain('entry 2 ("Hospital B")');
    expect(message).toContain('"auth.password"');
    expect(message).not.toMatch(/\n\s+at /);
  });

  it('rejects a misspelt key, an unknown auth type, a bad URL and credentials in the URL', () => {
    const message = problemsOf(() =>
      parseProvisioning(
        [
          { ...HOSPITAL_A, auth: { type: 'basic', username: 'u', pasword: 'p' } },
          { name: 'B', url: 'http://x.example', auth: { type: 'kerberos' } },
          { name: 'C', url: 'ftp://x.example', auth: { type: 'none' } },
          { name: 'D', url: 'http://u:pw@x.example', auth: { type: 'none' } },
          { name: 'E', url: 'not a url', auth: { type: 'none' } },
        ],
        'test',
      ),
    );
    expect(message).toMatch(/entry 1 \("Hospital A"\).*pasword/);
    expect(message).toMatch(/entry 2 \("B"\), field "auth.type"/);
    expect(message).toMatch(/entry 3 \("C"\), field "url"/);
    expect(message).toMatch(/entry 4 \("D"\), field "url": must not contain credentials/);
    expect(message).toMatch(/entry 5 \("E"\), field "url": must be an http/);
  });

  it('rejects duplicate names, a non-array and an empty list', () => {
    expect(problemsOf(() => parseProvisioning([HOSPITAL_A, HOSPITAL_A], 't'))).toMatch(/entry 2 .* duplicates entry 1/);
    expect(problemsOf(() => parseProvisioning({ sites: [] }, 't'))).toMatch(/JSON array/);
    expect(problemsOf(() => parseProvisioning([], 't'))).toMatch(/empty/);
  });

  it('reports invalid JSON by line and column without quoting the file', async () => {
    const file = join(dir, 'sites.json');
    writeFileSync(file, '[{"name": "A", "auth": {"password": "topsecret-pw"}\n  oops]');
    const err = await loadProvisioningFile(file).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(ProvisioningError);
    if (!err) return;
    expect(err.message).toMatch(/not valid JSON at line 2/);
    expect(err.message).not.toContain('topsecret-pw');
  });
});

describe('site ids', () => {
  it('are slugs of the name, with a suffix when one is taken', () => {
    expect(slugForSiteName('Hôpital St. Anne (Radiology)', new Set())).toBe('hopital-st-anne-radiology');
    expect(slugForSiteName('Hospital A', new Set(['hospital-a']))).toBe('hospital-a-2');
    expect(slugForSiteName('Hospital A', new Set(['hospital-a', 'hospital-a-2']))).toBe('hospital-a-3');
    expect(slugForSiteName('***', new Set())).toBe('site');
  });
});

describe('SitesService', () => {
  const make = (redactor = new Redactor()): { service: SitesService; secrets: FileSecretStore } => {
    const secrets = new FileSecretStore(dir, redactor);
    return { service: new SitesService(new SiteRepository(dir), secrets, redactor, createLogger('t', memorySink())), secrets };
  };

  it('lists provisioned sites with their gateway path and without secrets, keeping secrets out of sites.json', async () => {
    const { service } = make();
    await service.provision(parseProvisioning([HOSPITAL_A, { name: 'B', url: 'https://b.example', auth: { type: 'bearer', token: 'bearer-tok' } }], 't'));
    const list = await service.list();
    expect(list).toEqual([
      {
        id: 'hospital-a',
        name: 'Hospital A',
        url: 'http://127.0.0.1:8042/dicom-web',
        authType: 'basic',
        username: 'reader',
        gatewayPath: '/sites/hospital-a/dicom-web',
        hasCustomCa: false,
        timeouts: { connectMs: 30_000, idleMs: 30_000 },
      },
      {
        id: 'b',
        name: 'B',
        url: 'https://b.example',
        authType: 'bearer',
        gatewayPath: '/sites/b/dicom-web',
        hasCustomCa: false,
        timeouts: { connectMs: 30_000, idleMs: 30_000 },
      },
    ]);
    const sitesJson = readFileSync(join(dir, 'sites.json'), 'utf8');
    expect(sitesJson).not.toContain('secret-a1');
    expect(sitesJson).not.toContain('bearer-tok');
    expect(readFileSync(join(dir, 'secrets.json'), 'utf8')).toContain('secret-a1');
  });

  it('builds Basic and Bearer Authorization headers from the stored secret', async () => {
    const { service } = make();
    await service.provision(parseProvisioning([HOSPITAL_A, { name: 'B', url: 'https://b.example', auth: { type: 'bearer', token: 'bearer-tok' } }], 't'));
    expect(await service.authHeaders('hospital-a')).toEqual({ authorization: `Basic ${Buffer.from('reader:secret-a1').toString('base64')}` });
    expect(await service.authHeaders('b')).toEqual({ authorization: 'Bearer bearer-tok' });
  });

  it('re-provisioning by name keeps the id, replaces the secret and removes it when auth becomes none', async () => {
    const { service, secrets } = make();
    await service.provision(parseProvisioning([HOSPITAL_A], 't'));
    await service.provision(parseProvisioning([{ ...HOSPITAL_A, auth: { type: 'basic', username: 'reader', password: 'rotated-pw' } }], 't'));
    expect((await service.list()).map((s) => s.id)).toEqual(['hospital-a']);
    expect(await secrets.get('site:hospital-a:credential')).toBe('rotated-pw');
    await service.provision(parseProvisioning([{ ...HOSPITAL_A, auth: { type: 'none' } }], 't'));
    expect(await secrets.get('site:hospital-a:credential')).toBeUndefined();
    expect(await service.authHeaders('hospital-a')).toEqual({});
  });

  it('takes optional timeouts from a provisioning entry and goes back to the defaults when a later file leaves them out', async () => {
    const { service } = make();
    await service.provision(parseProvisioning([{ ...HOSPITAL_A, timeouts: { connectMs: 5000 } }], 't'));
    expect((await service.list())[0]?.timeouts).toEqual({ connectMs: 5000, idleMs: 30_000 });
    await service.provision(parseProvisioning([HOSPITAL_A], 't'));
    expect((await service.list())[0]?.timeouts).toEqual({ connectMs: 30_000, idleMs: 30_000 });
    expect(problemsOf(() => parseProvisioning([{ ...HOSPITAL_A, timeouts: { connectMs: 1 } }], 't'))).toMatch(/field "timeouts.connectMs": must be at least 500 ms/);
  });

  it('persists sites across restarts', async () => {
    await make().service.provision(parseProvisioning([HOSPITAL_A], 't'));
    expect((await make().service.list()).map((s) => s.name)).toEqual(['Hospital A']);
  });

  it('answers connection() from memory until sites or secrets change, then reads the secret again', async () => {
    const redactor = new Redactor();
    const files = new FileSecretStore(dir, redactor);
    const reads: string[] = [];
    const weaklyKept = 'site:hospital-a:credential';
    const secrets: SecretStore = {
      get: async (key) => (reads.push(key), files.get(key)),
      set: (key, value) => files.set(key, value),
      delete: (key) => files.delete(key),
      protection: () => files.protection(),
      // As SafeStorageSecretStore does when weak protection is withdrawn: the weakly kept secrets go.
      chooseWeakProtection: async (accept) => {
        if (!accept) await files.delete(weaklyKept);
        return files.protection();
      },
    };
    const service = new SitesService(new SiteRepository(dir), secrets, redactor, createLogger('t', memorySink()));
    const basicOf = (password: string) => ({ authorization: `Basic ${Buffer.from(`reader:${password}`).toString('base64')}` });
    await service.provision(parseProvisioning([HOSPITAL_A], 't'));
    expect((await service.connection('hospital-a'))?.auth).toEqual(basicOf('secret-a1'));
    expect((await service.connection('hospital-a'))?.auth).toEqual(basicOf('secret-a1'));
    expect(reads).toHaveLength(1);

    await service.update({ id: 'hospital-a', auth: { type: 'basic', username: 'reader', password: 'rotated-pw' } });
    expect((await service.connection('hospital-a'))?.auth).toEqual(basicOf('rotated-pw'));
    await service.update({ id: 'hospital-a', url: 'http://127.0.0.1:8042/other' });
    expect((await service.connection('hospital-a'))?.site.url).toBe('http://127.0.0.1:8042/other');
    await service.provision(parseProvisioning([{ ...HOSPITAL_A, auth: { type: 'basic', username: 'reader', password: 'provisioned-pw' } }], 't'));
    expect((await service.connection('hospital-a'))?.auth).toEqual(basicOf('provisioned-pw'));
    expect(reads).toHaveLength(4);

    await service.chooseWeakSecretProtection(false);
    await expect(service.connection('hospital-a')).rejects.toThrow(/No credential stored/);

    await service.add({ name: 'B', url: 'https://b.example', auth: { type: 'bearer', token: 'bearer-tok' } });
    expect((await service.connection('b'))?.auth).toEqual({ authorization: 'Bearer bearer-tok' });
    await service.remove('b');
    expect(await service.connection('b')).toBeUndefined();
  });

  it('registers the encoded Basic credential with the redactor', async () => {
    const redactor = new Redactor();
    const { service } = make(redactor);
    await service.provision(parseProvisioning([HOSPITAL_A], 't'));
    const header = (await service.authHeaders('hospital-a')).authorization ?? '';
    expect(redactor.redact(`sent ${header.split(' ')[1]}`)).toBe('sent ***');
  });
});
