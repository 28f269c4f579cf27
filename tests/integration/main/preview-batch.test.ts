import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import type { PreviewBatchRequest } from '../../../src/shared/gateway';
import { GATEWAY_ERROR_HEADER, PREVIEW_PART_STATUS_HEADER, previewBatchPathForSite } from '../../../src/shared/gateway';
import { hostValue, startTestWebHost } from '../../support/web-host-api';
import type { WebHost } from '../../../src/main/hosts/web/web-host';
import { boundaryOf, parseMultipart } from '../../../src/renderer/dicomweb/multipart';
import { isRendered, startFaultProxy } from '../../support/fault-proxy';
import type { FaultProxy } from '../../support/fault-proxy';
import { loadCtStudy, startOrthanc } from '../../support/orthanc';
import type { LoadedCtStudy, OrthancHandle } from '../../support/orthanc';

// The browser host's page holds six connections to its origin; a preview is a
// few kB, one round trip. `POST /sites/<id>/previews` lets one request carry a
// batch that the gateway asks of the site itself. Here against a real Orthanc,
// with a fault proxy between them to play a site that does not render.

let orthanc: OrthancHandle;
let study: LoadedCtStudy;
let host: WebHost;
let tmp: string;
let proxy: FaultProxy;
let site: SiteSummary;
let noRender: SiteSummary;

const value = <T>(channel: string, payload: unknown): Promise<T> => hostValue<T>(host, channel, payload);

function batchOf(sops: string[]): PreviewBatchRequest {
  return {
    studyInstanceUID: study.studyInstanceUID,
    items: sops.map((sopInstanceUID) => ({ seriesInstanceUID: study.seriesInstanceUID, sopInstanceUID })),
    viewport: { width: 128, height: 128 },
    quality: 50,
  };
}

async function postBatch(to: SiteSummary, body: unknown, token = host.token): Promise<Response> {
  return fetch(`${host.origin}${previewBatchPathForSite(to.id)}`, {
    method: 'POST',
    headers: { 'x-telerad-token': token, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function partsOf(res: Response): Promise<Array<{ sop: string; status: number; code: string | null; type: string | null; body: Uint8Array }>> {
  const boundary = boundaryOf(res.headers.get('content-type'));
  expect(boundary).toBeTruthy();
  return parseMultipart(await res.arrayBuffer(), boundary!).map((p) => ({
    sop: p.headers.get('content-location') ?? '',
    status: Number(p.headers.get(PREVIEW_PART_STATUS_HEADER)),
    code: p.headers.get(GATEWAY_ERROR_HEADER) ?? null,
    type: p.headers.get('content-type') ?? null,
    body: new Uint8Array(p.body),
  }));
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'telerad-int-previews-'));
  orthanc = await startOrthanc();
  study = await loadCtStudy(orthanc, { patientName: 'PREVIEW^BATCH', patientId: 'PB-1', slices: 6 });
  proxy = await startFaultProxy(`http://127.0.0.1:${orthanc.port}`);
  host = await startTestWebHost(tmp);
  const auth = { type: 'basic', username: orthanc.username, password: orthanc.password };
  site = await value<SiteSummary>('sites.add', { name: 'Renders', url: `http://127.0.0.1:${orthanc.port}/dicom-web`, auth });
  noRender = await value<SiteSummary>('sites.add', { name: 'Does not render', url: `${proxy.url}/dicom-web`, auth });
});

afterAll(async () => {
  await host?.services.sites.close();
  await host?.close();
  await proxy?.close();
  await orthanc?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('preview batches through the site gateway', () => {
  it('answers every slice of a batch with its own JPEG from the site, named by SOP Instance UID', async () => {
    const sops = study.sopInstanceUIDs.slice(0, 6);
    const res = await postBatch(site, batchOf(sops));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^multipart\/related/);
    const parts = await partsOf(res);
    expect(parts.map((p) => p.sop).sort()).toEqual([...sops].sort());
    for (const p of parts) {
      expect(p.status).toBe(200);
      expect(p.type).toBe('image/jpeg');
      // A whole JPEG: SOI at the start, EOI at the end.
      expect([p.body[0], p.body[1]]).toEqual([0xff, 0xd8]);
      expect([p.body[p.body.length - 2], p.body[p.body.length - 1]]).toEqual([0xff, 0xd9]);
    }
    // Distinct slices, distinct images.
    expect(new Set(parts.map((p) => Buffer.from(p.body).toString('base64'))).size).toBe(sops.length);
  });

  it('gives an instance the site does not hold its own 404, and the others their images', async () => {
    const sops = [study.sopInstanceUIDs[0]!, '1.2.3.4.5.6.7.8.9', study.sopInstanceUIDs[1]!];
    const parts = await partsOf(await postBatch(site, batchOf(sops)));
    const bySop = new Map(parts.map((p) => [p.sop, p]));
    expect(bySop.get(study.sopInstanceUIDs[0]!)?.status).toBe(200);
    expect(bySop.get(study.sopInstanceUIDs[1]!)?.status).toBe(200);
    expect(bySop.get('1.2.3.4.5.6.7.8.9')?.status).toBe(404);
  });

  it('asks a site that refuses /rendered once per batch, not once per slice', async () => {
    proxy.resetCounters();
    proxy.addFault({ fault: { kind: 'status', status: 404 }, match: isRendered, times: Infinity });
    try {
      const sops = study.sopInstanceUIDs.slice(0, 6);
      const parts = await partsOf(await postBatch(noRender, { ...batchOf(sops), items: [...batchOf(sops).items, ...batchOf(sops).items] }));
      expect(parts).toHaveLength(12);
      // The site's own refusal, not one the gateway made up: the renderer learns the site does not render.
      for (const p of parts) {
        expect(p.status).toBe(404);
        expect(p.code).toBeNull();
      }
      // A site not known to render is asked one preview first; refused, the rest of the batch is not asked.
      expect(proxy.exchanges.filter(isRendered)).toHaveLength(1);
    } finally {
      proxy.clearFaults();
    }
  });

  it('answers every part of a batch to a site with a wrong password "authentication failed", and tries the password once', async () => {
    const wrong = await value<SiteSummary>('sites.add', {
      name: 'Wrong password',
      url: `${proxy.url}/dicom-web`,
      auth: { type: 'basic', username: orthanc.username, password: 'not-the-password' },
    });
    proxy.resetCounters();
    const parts = await partsOf(await postBatch(wrong, batchOf(study.sopInstanceUIDs.slice(0, 4))));
    expect(parts).toHaveLength(4);
    for (const p of parts) {
      expect(p.status).toBe(502);
      expect(p.code).toBe('SITE_AUTH_FAILED');
    }
    // One refused login, not four: a PACS may lock an account after a few.
    expect(proxy.exchanges.filter(isRendered)).toHaveLength(1);
  });

  it('refuses a batch without the launch token, a GET, a malformed body and an unknown site', async () => {
    const sops = study.sopInstanceUIDs.slice(0, 1);
    expect((await postBatch(site, batchOf(sops), 'not-the-token')).status).toBe(401);
    const get = await fetch(`${host.origin}${previewBatchPathForSite(site.id)}`, { headers: { 'x-telerad-token': host.token } });
    expect(get.status).toBe(403);
    // A path smuggled in place of a UID goes nowhere.
    const smuggled = await postBatch(site, { ...batchOf(sops), studyInstanceUID: '../../tools/reset' });
    expect(smuggled.status).toBe(400);
    expect(((await smuggled.json()) as { code: string }).code).toBe('BAD_REQUEST');
    const tooMany = await postBatch(site, batchOf(Array.from({ length: 33 }, () => sops[0]!)));
    expect(tooMany.status).toBe(400);
    const unknown = await fetch(`${host.origin}${previewBatchPathForSite('no-such-site')}`, {
      method: 'POST',
      headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' },
      body: JSON.stringify(batchOf(sops)),
    });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get(GATEWAY_ERROR_HEADER)).toBeTruthy();
  });
});
