import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ERROR_HEADER } from '../../../src/shared/gateway';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import { startWebHost } from '../../../src/main/hosts/web/web-host';
import type { WebHost } from '../../../src/main/hosts/web/web-host';
import { loadCtStudy, startOrthanc } from '../../support/orthanc';
import type { OrthancHandle } from '../../support/orthanc';
import { unlockTestHost } from '../../support/web-host-api';

// The browser host in-process against a real Orthanc (authentication on):
// one site provisioned with the right password, one with a wrong one.
const WRONG_PASSWORD = 'definitely-not-the-password';

let orthanc: OrthancHandle;
let host: WebHost;
let tmp: string;
let dataDir: string;
let studyUid: string;
let sites: SiteSummary[];

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? allFiles(p) : [p];
  });
}

const authed = (extra: Record<string, string> = {}): Record<string, string> => ({ 'x-telerad-token': host.token, ...extra });
const site = (name: string): SiteSummary => {
  const found = sites.find((s) => s.name === name);
  if (!found) throw new Error(`site ${name} not listed`);
  return found;
};

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'telerad-int-webhost-'));
  dataDir = join(tmp, 'data');
  const rendererDir = join(tmp, 'renderer');
  mkdirSync(rendererDir);
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Telerad</title>');

  orthanc = await startOrthanc();
  ({ studyInstanceUID: studyUid } = await loadCtStudy(orthanc, { patientName: 'INTEGRATION^HOST', patientId: 'INT-0001', slices: 3 }));

  const sitesFile = join(tmp, 'sites.json');
  writeFileSync(
    sitesFile,
    JSON.stringify([
      { name: 'Hospital A', url: orthanc.dicomWebUrl, auth: { type: 'basic', username: orthanc.username, password: orthanc.password } },
      { name: 'Hospital B', url: orthanc.dicomWebUrl, auth: { type: 'basic', username: orthanc.username, password: WRONG_PASSWORD } },
    ]),
  );
  host = await startWebHost({ dataDir, rendererDir, sitesFile, version: 'test' });
  // Past the lock screen: the host answers no data channel while locked (issue 18).
  await unlockTestHost(host);
  const listed = (await (
    await fetch(`${host.origin}/api/sites.list`, { method: 'POST', headers: authed({ 'content-type': 'application/json' }), body: '{}' })
  ).json()) as { ok: boolean; value: SiteSummary[] };
  sites = listed.value;
});

afterAll(async () => {
  await host?.close();
  await orthanc?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('browser host against a real Orthanc', () => {
  it('rejects an API or site request without the launch token with 401; the app\'s own page needs none', async () => {
    expect((await fetch(`${host.origin}/`)).status).toBe(200);
    expect((await fetch(`${host.origin}/api/sites.list`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
    expect((await fetch(`${host.origin}/sites/hospital-a/dicom-web/studies`)).status).toBe(401);
  });

  it('lists both provisioned sites, with gateway paths and without passwords', async () => {
    const res = await fetch(`${host.origin}/api/sites.list`, { method: 'POST', headers: authed({ 'content-type': 'application/json' }), body: '{}' });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(sites.map((s) => s.name).sort()).toEqual(['Hospital A', 'Hospital B']);
    expect(site('Hospital A')).toMatchObject({ authType: 'basic', username: orthanc.username, gatewayPath: `/sites/${site('Hospital A').id}/dicom-web` });
    expect(text).not.toContain(orthanc.password);
    expect(text).not.toContain(WRONG_PASSWORD);
  });

  it('answers QIDO-RS for the good site with the uploaded study', async () => {
    const res = await fetch(`${host.origin}${site('Hospital A').gatewayPath}/studies?PatientID=INT-0001`, {
      headers: authed({ accept: 'application/dicom+json' }),
    });
    expect(res.status).toBe(200);
    const studies = (await res.json()) as Array<Record<string, { Value?: unknown[] }>>;
    expect(studies.map((s) => s['0020000D']?.Value?.[0])).toContain(studyUid);
  });

  it('streams a WADO-RS frame retrieve from the good site', async () => {
    const series = (await (
      await fetch(`${host.origin}${site('Hospital A').gatewayPath}/studies/${studyUid}/series`, { headers: authed({ accept: 'application/dicom+json' }) })
    ).json()) as Array<Record<string, { Value?: string[] }>>;
    const seriesUid = series[0]?.['0020000E']?.Value?.[0];
    const instances = (await (
      await fetch(`${host.origin}${site('Hospital A').gatewayPath}/studies/${studyUid}/series/${seriesUid}/instances`, {
        headers: authed({ accept: 'application/dicom+json' }),
      })
    ).json()) as Array<Record<string, { Value?: string[] }>>;
    const sopUid = instances[0]?.['00080018']?.Value?.[0];
    const frame = await fetch(`${host.origin}${site('Hospital A').gatewayPath}/studies/${studyUid}/series/${seriesUid}/instances/${sopUid}/frames/1`, {
      headers: authed({ accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' }),
    });
    expect(frame.status).toBe(200);
    expect(frame.headers.get('content-type')).toMatch(/^multipart\/related/);
    expect((await frame.arrayBuffer()).byteLength).toBeGreaterThan(1000);
  });

  it('answers 502 SITE_AUTH_FAILED for the site with the wrong password', async () => {
    const res = await fetch(`${host.origin}${site('Hospital B').gatewayPath}/studies`, { headers: authed({ accept: 'application/dicom+json' }) });
    expect(res.status).toBe(502);
    expect(res.headers.get(GATEWAY_ERROR_HEADER)).toBe('SITE_AUTH_FAILED');
    expect(await res.json()).toEqual({ code: 'SITE_AUTH_FAILED', message: 'Authentication failed at Hospital B' });
  });

  it("refuses Orthanc's own API through the gateway with 403", async () => {
    const base = `${host.origin}${site('Hospital A').gatewayPath}`;
    expect((await fetch(`${base}/system`, { headers: authed() })).status).toBe(403);
    const script = await fetch(`${base}/tools/execute-script`, { method: 'POST', headers: authed(), body: 'print(1)' });
    expect(script.status).toBe(403);
    expect(script.headers.get(GATEWAY_ERROR_HEADER)).toBe('FORBIDDEN');
  });

  it('keeps the site passwords out of every file in the data dir except secrets.json, and out of the log', async () => {
    const files = allFiles(dataDir);
    expect(files.map((f) => basename(f))).toEqual(expect.arrayContaining(['secrets.json', 'sites.json', 'main.log']));
    for (const file of files) {
      if (basename(file) === 'secrets.json') continue;
      const text = readFileSync(file, 'latin1');
      expect(text, file).not.toContain(orthanc.password);
      expect(text, file).not.toContain(WRONG_PASSWORD);
    }
    expect(readFileSync(host.logFile, 'utf8')).toMatch(/GET hospital-a \/studies 200/);
    expect(statSync(join(dataDir, 'secrets.json')).mode & 0o777).toBe(0o600);
  });
});
