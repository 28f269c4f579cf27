import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditQueryResult, SiteSummary, VaultStatus } from '../../../src/shared/ipc/contract';
import type { Envelope } from '../../../src/shared/ipc/envelope';
import { GATEWAY_ERROR_HEADER } from '../../../src/shared/gateway';
import type { WebHost } from '../../../src/main/hosts/web/web-host';
import { buildStowBody } from '../../../src/renderer/dicomweb/stow-answer';
import { generateReportSr } from '../../fixtures/referral-packet';
import { loadCtStudy, startOrthanc } from '../../support/orthanc';
import type { OrthancHandle } from '../../support/orthanc';
import { startTestWebHost, unlockTestHost } from '../../support/web-host-api';

// Issue 18, hole 1: the lock held by the browser host itself, against a real
// Orthanc with a patient whose name must not come out while locked.
const PATIENT = 'LOCKED^PATIENT';
const STUDY_PATIENT_ID = 'LOCK-1';

let orthanc: OrthancHandle;
let studyUID: string;
let tmp: string;
const hosts: WebHost[] = [];

async function call<T>(host: WebHost, channel: string, payload: unknown = {}): Promise<Envelope<T>> {
  const res = await fetch(`${host.origin}/api/${channel}`, {
    method: 'POST',
    headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Envelope<T>;
}
async function value<T>(host: WebHost, channel: string, payload: unknown = {}): Promise<T> {
  const env = await call<T>(host, channel, payload);
  if (!env.ok) throw new Error(`${channel}: ${env.error.code} ${env.error.message}`);
  return env.value;
}
const qido = (host: WebHost, site: SiteSummary): Promise<Response> =>
  fetch(`${host.origin}${site.gatewayPath}/studies?PatientID=${STUDY_PATIENT_ID}`, { headers: { 'x-telerad-token': host.token, accept: 'application/dicom+json' } });
function stow(host: WebHost, site: SiteSummary, sent: string[] = []): Promise<Response> {
  const sr = generateReportSr({ studyInstanceUID: studyUID, patientName: PATIENT, patientId: STUDY_PATIENT_ID, studyDescription: 'CT chest' }, 'Sent while locked.');
  sent.push(sr.sopInstanceUID);
  const bytes = sr.bytes.buffer.slice(sr.bytes.byteOffset, sr.bytes.byteOffset + sr.bytes.byteLength) as ArrayBuffer;
  const { body, contentType } = buildStowBody([{ sopInstanceUID: sr.sopInstanceUID, sopClassUID: sr.sopClassUID, bytes }], 'lock-test-boundary');
  return fetch(`${host.origin}${site.gatewayPath}/studies`, {
    method: 'POST',
    headers: { 'x-telerad-token': host.token, 'content-type': contentType, accept: 'application/dicom+json' },
    body,
  });
}
async function instanceCount(): Promise<number> {
  const res = await fetch(`${orthanc.baseUrl}/statistics`, { headers: { authorization: orthanc.authorization } });
  return ((await res.json()) as { CountInstances: number }).CountInstances;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'telerad-int-host-lock-'));
  orthanc = await startOrthanc();
  ({ studyInstanceUID: studyUID } = await loadCtStudy(orthanc, { patientName: PATIENT, patientId: STUDY_PATIENT_ID, slices: 1, rows: 32, columns: 32 }));
});

afterAll(async () => {
  for (const h of hosts) {
    await h.services.sites.close();
    await h.close();
  }
  await orthanc?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the lock held by the browser host', () => {
  let host: WebHost;
  let site: SiteSummary;

  beforeAll(async () => {
    host = await startTestWebHost(join(tmp, 'a'));
    hosts.push(host);
    site = await value<SiteSummary>(host, 'sites.add', { name: 'Hospital A', url: orthanc.dicomWebUrl, auth: { type: 'basic', username: orthanc.username, password: orthanc.password } });
    await value(host, 'audit.record', { action: 'study.view', actor: 'Dr Ama Mensah', patient: { id: STUDY_PATIENT_ID, name: PATIENT }, studyInstanceUID: studyUID, outcome: 'success' });
    // Unlocked, the gateway finds the patient.
    const open = await qido(host, site);
    expect(open.status).toBe(200);
    expect(await open.text()).toContain(PATIENT);
  });

  it('locked host refuses audit.query, sites.update and gateway QIDO', async () => {
    await value(host, 'vault.lock', { reason: 'user' });
    expect((await value<VaultStatus>(host, 'vault.status')).state).toBe('locked');

    const audit = await call<AuditQueryResult>(host, 'audit.query', { patient: 'locked', offset: 0, limit: 50 });
    expect(audit).toEqual({ ok: false, error: { code: 'LOCKED', message: 'The workstation is locked; unlock it to see or add to the audit trail.' } });
    const moved = await call(host, 'sites.update', { id: site.id, url: 'https://elsewhere.example/dicom-web' });
    expect(moved).toMatchObject({ ok: false, error: { code: 'LOCKED', message: expect.stringMatching(/^The workstation is locked; unlock it to /) } });
    expect(await call(host, 'sites.list')).toMatchObject({ ok: false, error: { code: 'LOCKED' } });
    expect(await call(host, 'audit.exportDicom', {})).toMatchObject({ ok: false, error: { code: 'LOCKED' } });
    expect(await call(host, 'vault.activity')).toMatchObject({ ok: false, error: { code: 'LOCKED' } });

    const search = await qido(host, site);
    expect(search.status).toBe(423);
    expect(search.headers.get(GATEWAY_ERROR_HEADER)).toBe('LOCKED');
    const text = await search.text();
    expect(JSON.parse(text)).toEqual({ code: 'LOCKED', message: expect.stringMatching(/^The workstation is locked; unlock it to /) });
    expect(text).not.toContain(PATIENT);
    const retrieve = await fetch(`${host.origin}${site.gatewayPath}/studies/${studyUID}/metadata`, { headers: { 'x-telerad-token': host.token } });
    expect(retrieve.status).toBe(423);
    await retrieve.arrayBuffer();
    const previews = await fetch(`${host.origin}/sites/${site.id}/previews`, {
      method: 'POST',
      headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' },
      body: JSON.stringify({ studyInstanceUID: studyUID, items: [{ seriesInstanceUID: '1.2.3', sopInstanceUID: '1.2.3.4' }], viewport: { width: 64, height: 64 }, quality: 80 }),
    });
    expect(previews.status).toBe(423);
    await previews.arrayBuffer();

    // What the lock screen needs still answers.
    expect(await call(host, 'app.info')).toMatchObject({ ok: true });
    expect(await call(host, 'log.write', { level: 'info', scope: 'lock', message: 'at the lock screen' })).toMatchObject({ ok: true });

    // After the unlock, the site is where it was and the trail is there.
    await unlockTestHost(host);
    expect((await value<SiteSummary[]>(host, 'sites.list')).find((s) => s.id === site.id)?.url).toBe(site.url);
    expect((await value<AuditQueryResult>(host, 'audit.query', { patient: 'locked', offset: 0, limit: 50 })).total).toBe(1);
    expect((await qido(host, site)).status).toBe(200);
  });

  it('outbox STOW still passes while locked after one unlock', async () => {
    await value(host, 'vault.lock', { reason: 'user' });
    const before = await instanceCount();
    const sent: string[] = [];
    const stored = await stow(host, site, sent);
    expect(stored.status).toBe(200);
    await stored.arrayBuffer();
    expect(await instanceCount()).toBe(before + 1);
    // The outbox's check after an unknown outcome passes too, cut down to the UIDs: no patient leaves.
    const check = await fetch(`${host.origin}${site.gatewayPath}/studies/${studyUID}/instances?SOPInstanceUID=${sent[0]},1.2.3.4&includefield=00080018`, {
      headers: { 'x-telerad-token': host.token, accept: 'application/dicom+json' },
    });
    expect(check.status).toBe(200);
    const checked = await check.text();
    expect(JSON.parse(checked)).toEqual([{ '00080018': { vr: 'UI', Value: [sent[0]] } }]);
    expect(checked).not.toContain('LOCKED^');
    const wider = await fetch(`${host.origin}${site.gatewayPath}/studies/${studyUID}/instances`, { headers: { 'x-telerad-token': host.token } });
    expect(wider.status).toBe(423);
    await wider.arrayBuffer();
    // The delivery's audit record passes too; nothing else does.
    expect(await call(host, 'audit.record', { action: 'outbox.send', actor: 'background sending (workstation locked)', studyInstanceUID: studyUID, siteId: site.id, outcome: 'success' })).toMatchObject({ ok: true });
    expect(await call(host, 'audit.record', { action: 'study.view', actor: 'x', patient: { id: STUDY_PATIENT_ID, name: PATIENT }, outcome: 'success' })).toMatchObject({
      ok: false,
      error: { code: 'LOCKED' },
    });
    expect(await call(host, 'vault.outboxKey')).toMatchObject({ ok: true });
    await unlockTestHost(host);
  });

  it('a host not yet unlocked in this run forwards no STOW either', async () => {
    // A second host over the same data: locked since its start, no outbox key.
    const fresh = await startTestWebHost(join(tmp, 'a'), { locked: true });
    hosts.push(fresh);
    expect(await value<VaultStatus>(fresh, 'vault.status')).toMatchObject({ state: 'locked', outboxKeyAvailable: false });
    const before = await instanceCount();
    const refused = await stow(fresh, site);
    expect(refused.status).toBe(423);
    expect(refused.headers.get(GATEWAY_ERROR_HEADER)).toBe('LOCKED');
    expect(await instanceCount()).toBe(before);
    expect(await call(fresh, 'audit.record', { action: 'outbox.send', actor: 'x', studyInstanceUID: studyUID, siteId: site.id, outcome: 'success' })).toMatchObject({
      ok: false,
      error: { code: 'LOCKED' },
    });
  });
});

describe('the browser host without a page', () => {
  it('locks when no page has called for pageGoneLockMs, and not while one keeps calling', async () => {
    const host = await startTestWebHost(join(tmp, 'b'), { pageGoneLockMs: 600 });
    hosts.push(host);
    // A page polls vault.status every 3 s; here every 100 ms for three times the limit.
    const until = Date.now() + 1800;
    while (Date.now() < until) {
      expect((await value<VaultStatus>(host, 'vault.status')).state).toBe('unlocked');
      await new Promise((r) => setTimeout(r, 100));
    }
    // The tab is closed.
    await new Promise((r) => setTimeout(r, 1200));
    expect(await value<VaultStatus>(host, 'vault.status')).toMatchObject({ state: 'locked', lockReason: 'no-page', outboxKeyAvailable: true });
    expect(await call(host, 'sites.list')).toMatchObject({ ok: false, error: { code: 'LOCKED' } });
    await unlockTestHost(host);
    const locks = await value<AuditQueryResult>(host, 'audit.query', { action: 'lock', offset: 0, limit: 10 });
    expect(locks.events[0]).toMatchObject({ action: 'lock', actor: 'system', reason: 'locked because no app window was open' });
  });
});
