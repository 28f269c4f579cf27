import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServiceClient } from '../../../src/shared/ipc/proxy';
import { Redactor, createLogger, memorySink } from '../../../src/shared/log';
import { createAppServices } from '../../../src/main/services/app-services';
import type { AppServices } from '../../../src/main/services/app-services';
import { FileSecretStore } from '../../../src/main/services/secrets/file-secret-store';
import { buildSiteRequest, emptySiteForm, fieldErrorFromMessage, siteFormFor } from '../../../src/renderer/sites/site-form';
import { createSitesStore } from '../../../src/renderer/sites/sites-store';
import type { SitesStore } from '../../../src/renderer/sites/sites-store';

// The renderer's sites store against the real main-side services, over the
// contract (JSON both ways, as over HTTP).
let dir: string;
let services: AppServices;
let store: SitesStore;
let changes: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-sites-store-'));
  const redactor = new Redactor();
  services = createAppServices({ dataDir: dir, host: 'web', version: 't', secretStore: new FileSecretStore(dir, redactor), logSink: memorySink(), redactor });
  const client = createServiceClient(async (channel, payload) => JSON.parse(JSON.stringify(await services.dispatch(channel, JSON.parse(JSON.stringify(payload))))));
  changes = 0;
  store = createSitesStore({ client, onSitesChanged: () => changes++, log: createLogger('t', memorySink()) });
});
afterEach(async () => {
  await services.sites.close();
  rmSync(dir, { recursive: true, force: true });
});

const FORM = { ...emptySiteForm(), name: 'Hospital A', url: 'http://127.0.0.1:9/dicom-web', authType: 'basic' as const, username: 'reader', password: 'pw-form-1' };

describe('site form', () => {
  it('names the field of each problem before anything is sent', () => {
    const result = buildSiteRequest({ ...FORM, url: 'pacs', password: '', connectMs: '12', caCertificate: 'hello' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(Object.keys(result.errors).sort()).toEqual(['caCertificate', 'connectMs', 'password', 'url']);
  });

  it('starts an edit with no password and leaves it out of the request, so the stored one is kept', () => {
    const site = { id: 'hospital-a', name: 'Hospital A', url: FORM.url, authType: 'basic' as const, username: 'reader', gatewayPath: '/sites/hospital-a/dicom-web' };
    const values = siteFormFor(site);
    expect(values.password).toBe('');
    const result = buildSiteRequest({ ...values, name: 'Hospital A2' }, site);
    expect(result).toMatchObject({ ok: true, kind: 'update' });
    if (!result.ok) return;
    expect(result.request).toMatchObject({ id: 'hospital-a', name: 'Hospital A2', auth: { type: 'basic', username: 'reader' } });
    expect(JSON.stringify(result.request)).not.toContain('password');
  });

  it("reads a field out of main's refusals", () => {
    expect(fieldErrorFromMessage('Invalid request for sites.add: ✖ Too small\n  → at timeouts.connectMs')).toEqual({ connectMs: 'Too small' });
    expect(fieldErrorFromMessage('name: a site named "A" already exists')).toEqual({ name: 'a site named "A" already exists' });
    expect(fieldErrorFromMessage('something else')).toEqual({ form: 'something else' });
  });
});

describe('sites store', () => {
  it('adds, lists and removes a site, refreshing the worklist after each change', async () => {
    const built = buildSiteRequest(FORM);
    if (!built.ok || built.kind !== 'add') throw new Error('form should be valid');
    expect(await store.add(built.request)).toMatchObject({ ok: true, site: { id: 'hospital-a' } });
    expect(store.getState().sites.map((s) => s.name)).toEqual(['Hospital A']);
    expect(changes).toBe(1);

    // The same name again: main's CONFLICT lands on the name field.
    expect(await store.add(built.request)).toEqual({ ok: false, errors: { name: 'a site named "Hospital A" already exists' } });
    expect(changes).toBe(1);

    expect(await store.remove('hospital-a')).toEqual({ ok: true });
    expect(store.getState().sites).toEqual([]);
    expect(changes).toBe(2);
  });

  it('keeps the outcome of "Test connection" per site, failure reason included', async () => {
    await services.sites.add({ name: 'Closed', url: 'http://127.0.0.1:9/dicom-web', auth: { type: 'none' } });
    await store.load();
    const pending = store.test('closed');
    expect(store.getState().tests.closed?.state).toBe('running');
    await pending;
    expect(store.getState().tests.closed).toMatchObject({ state: 'done', result: { ok: false, failure: { kind: 'unreachable' } } });
  });
});
