import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServiceClient } from '../../../src/shared/ipc/proxy';
import { createLogger, memorySink } from '../../../src/shared/log';
import type { AppServices } from '../../../src/main/services/app-services';
import { buildSiteRequest, emptySiteForm, fieldErrorFromMessage, needsInsecureHttpConsent, siteFormFor } from '../../../src/renderer/sites/site-form';
import { createSitesStore } from '../../../src/renderer/sites/sites-store';
import type { SitesStore } from '../../../src/renderer/sites/sites-store';
import { overJson, startUnlockedWebServices } from '../../support/contract';

// The renderer's sites store against the real main-side services, over the
// contract (JSON both ways, as over HTTP).
let dir: string;
let services: AppServices;
let store: SitesStore;
let changes: number;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-sites-store-'));
  services = await startUnlockedWebServices(dir);
  const client = createServiceClient(overJson((channel, payload) => services.dispatch(channel, payload)));
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

  it('warns about plain http only for a host other than this machine', () => {
    expect(needsInsecureHttpConsent({ url: 'http://127.0.0.1:8042/dicom-web' })).toBe(false);
    expect(needsInsecureHttpConsent({ url: 'http://[::1]:8042/dicom-web' })).toBe(false);
    expect(needsInsecureHttpConsent({ url: 'http://localhost:8042/dicom-web' })).toBe(false);
    expect(needsInsecureHttpConsent({ url: 'https://pacs.clinic.example/dicom-web' })).toBe(false);
    expect(needsInsecureHttpConsent({ url: ' http://pacs.clinic.example/dicom-web ' })).toBe(true);
    expect(needsInsecureHttpConsent({ url: 'http://127.0.0.1.evil.example/dicom-web' })).toBe(true);
  });

  it('will not save remote plain http until "Send patient data unencrypted" is ticked, then sends the allowance', () => {
    const remote = { ...FORM, url: 'http://pacs.clinic.example/dicom-web' };
    const unticked = buildSiteRequest(remote);
    expect(unticked).toEqual({ ok: false, errors: { allowInsecureHttp: 'Tick this to send patient data unencrypted to this site, or use https' } });
    const ticked = buildSiteRequest({ ...remote, allowInsecureHttp: true });
    expect(ticked).toMatchObject({ ok: true, kind: 'add', request: { url: remote.url, allowInsecureHttp: true } });
    // A tick left over from an earlier http URL is not sent with an https one.
    const secure = buildSiteRequest({ ...remote, url: 'https://pacs.clinic.example/dicom-web', allowInsecureHttp: true });
    expect(secure.ok && 'allowInsecureHttp' in secure.request).toBe(false);
  });

  it('starts the edit of an allowed site ticked, and of any other site unticked', () => {
    const base = { id: 'c', name: 'C', authType: 'none' as const, gatewayPath: '/sites/c/dicom-web' };
    expect(siteFormFor({ ...base, url: 'http://pacs.clinic.example/dicom-web', allowInsecureHttp: true }).allowInsecureHttp).toBe(true);
    expect(siteFormFor({ ...base, url: 'http://127.0.0.1:9/dicom-web' }).allowInsecureHttp).toBe(false);
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

  it('saves a remote plain-http site only with the allowance, and lists it as unencrypted', async () => {
    const remote = { ...FORM, url: 'http://pacs.clinic.example/dicom-web' };
    // Main refuses on its own too, e.g. for a request built without the form: the refusal lands on the URL field.
    expect(await store.add({ name: remote.name, url: remote.url, auth: { type: 'none' } })).toEqual({
      ok: false,
      errors: { url: 'http://pacs.clinic.example/dicom-web sends patient data unencrypted; use https, or allow plain HTTP for this site explicitly' },
    });
    const built = buildSiteRequest({ ...remote, allowInsecureHttp: true });
    if (!built.ok || built.kind !== 'add') throw new Error('form should be valid');
    expect(await store.add(built.request)).toMatchObject({ ok: true, site: { allowInsecureHttp: true } });
    expect(store.getState().sites).toMatchObject([{ name: 'Hospital A', allowInsecureHttp: true }]);
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
