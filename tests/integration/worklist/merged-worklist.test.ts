import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { createServiceClient } from '../../../src/shared/ipc/proxy';
import { startWebHost } from '../../../src/main/hosts/web/web-host';
import type { WebHost } from '../../../src/main/hosts/web/web-host';
import { httpInvoke } from '../../../src/renderer/app/service-client';
import type { ReferralRecord } from '../../../src/renderer/cache/telerad-db';
import { createDicomWebApiFactory } from '../../../src/renderer/dicomweb/dicomweb-api';
import { classifyWorklistError, querySiteStudies } from '../../../src/renderer/worklist/qido-worklist';
import { createWorklistStore, selectVisibleRows, selectWorklistRows } from '../../../src/renderer/worklist/worklist-store';
import type { WorklistStore } from '../../../src/renderer/worklist/worklist-store';
import { loadCtStudy, startOrthanc } from '../../support/orthanc';
import type { OrthancHandle } from '../../support/orthanc';
import { unlockTestHost } from '../../support/web-host-api';

// The renderer's worklist store, run in Node against the browser host
// in-process and two real Orthancs (two sites), exactly as the page runs it:
// fetch against the host origin (the launch token as a header instead of the
// page's cookie), the gateway adding each site's credentials.

let siteA: OrthancHandle;
let siteB: OrthancHandle;
let host: WebHost;
let tmp: string;
let studyA: string;
let studyA2: string;
let studyB: string;
let store: WorklistStore;
let dicomweb: ReturnType<typeof createDicomWebApiFactory>;
const referralReads: string[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'telerad-int-worklist-'));
  const rendererDir = join(tmp, 'renderer');
  mkdirSync(rendererDir);
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Telerad</title>');

  [siteA, siteB] = await Promise.all([startOrthanc(), startOrthanc()]);
  const [a, a2, b] = await Promise.all([
    loadCtStudy(siteA, { patientName: 'ALPHA^ANNA', patientId: 'WL-A-1', slices: 3, studyDescription: 'CT CHEST', patientBirthDate: '19800615', studyDate: '20260614', patientSex: 'F' }),
    loadCtStudy(siteA, { patientName: 'ALPHA^AARON', patientId: 'WL-A-2', slices: 2, studyDescription: 'CT ABDOMEN', studyDate: '20260610', patientSex: 'M' }),
    loadCtStudy(siteB, { patientName: 'BRAVO^BEN', patientId: 'WL-B-1', slices: 4, studyDescription: 'CT HEAD', studyDate: '20260612', patientSex: 'M' }),
  ]);
  studyA = a.studyInstanceUID;
  studyA2 = a2.studyInstanceUID;
  studyB = b.studyInstanceUID;

  const sitesFile = join(tmp, 'sites.json');
  writeFileSync(
    sitesFile,
    JSON.stringify([
      { name: 'Hospital A', url: siteA.dicomWebUrl, auth: { type: 'basic', username: siteA.username, password: siteA.password } },
      { name: 'Hospital B', url: siteB.dicomWebUrl, auth: { type: 'basic', username: siteB.username, password: siteB.password } },
    ]),
  );
  host = await startWebHost({ dataDir: join(tmp, 'data'), rendererDir, sitesFile, version: 'test' });
  // Past the lock screen: the host answers no data channel while locked (issue 18).
  await unlockTestHost(host);

  const authedFetch = ((input: RequestInfo | URL, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('x-telerad-token', host.token);
    return fetch(input, { ...init, headers });
  }) as typeof fetch;
  const client = createServiceClient(httpInvoke(authedFetch, host.origin));
  dicomweb = createDicomWebApiFactory(host.origin, authedFetch);
  store = createWorklistStore({
    listSites: () => client.sites.list({}),
    queryStudies: (site) => querySiteStudies(dicomweb(site), site),
    listCachedStudies: async () => [],
    // A narrow double of referral-reader's lookup: Hospital B's study carries a STAT referral.
    lookupReferral: async (site, uid): Promise<ReferralRecord | undefined> => {
      referralReads.push(`${site.name}|${uid}`);
      return uid === studyB
        ? { studyInstanceUID: uid, siteId: site.id, noteSopInstanceUID: '2.25.1', priority: 'STAT', attachments: [], hasReport: false, fetchedAt: Date.now() }
        : undefined;
    },
    classifyError: classifyWorklistError,
    log: createLogger('test', memorySink()),
  });
});

afterAll(async () => {
  await host?.close();
  await Promise.all([siteA?.stop(), siteB?.stop()]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const siteIdOf = (name: string): string => {
  const s = store.getState().sites.find((x) => x.site.name === name);
  if (!s) throw new Error(`site ${name} not in the worklist`);
  return s.site.id;
};

describe('merged worklist across two real sites', () => {
  it('lists the studies of both sites in one list, each with its site id and its fields', async () => {
    await store.refresh();
    const s = store.getState();
    expect(s.sites.map((x) => [x.site.name, x.state])).toEqual([
      ['Hospital A', 'ok'],
      ['Hospital B', 'ok'],
    ]);
    const rows = selectWorklistRows(s);
    const byUid = new Map(rows.map((r) => [r.studyInstanceUID, r]));
    expect(rows).toHaveLength(3);
    expect(byUid.get(studyA)).toMatchObject({
      siteId: siteIdOf('Hospital A'),
      patientName: 'ALPHA, ANNA',
      patientId: 'WL-A-1',
      patientSex: 'F',
      // From the birth date to the study date (the phantom stores no PatientAge).
      age: '45 y',
      modalities: ['CT'],
      // Series-level, answered by Orthanc at study level from one instance: no extra request.
      bodyPart: 'CHEST',
      description: 'CT CHEST',
      studyDate: '20260614',
      numInstances: 3,
      size: { bytes: 3 * 530_000, exact: false },
    });
    expect(byUid.get(studyA2)).toMatchObject({ siteId: siteIdOf('Hospital A'), patientId: 'WL-A-2', numInstances: 2 });
    expect(byUid.get(studyB)).toMatchObject({ siteId: siteIdOf('Hospital B'), patientName: 'BRAVO, BEN', numInstances: 4 });
    expect(byUid.get(studyA)?.arrivedAt).toBeDefined();
  });

  it('fills in the referral priority after the rows, and orders STAT first', async () => {
    await store.referralsIdle();
    const visible = selectVisibleRows(selectWorklistRows(store.getState()), store.getState(), Date.now());
    expect(visible[0]).toMatchObject({ studyInstanceUID: studyB, priority: 'STAT', status: 'awaiting-report' });
    expect(visible.slice(1).map((r) => [r.priority, r.status])).toEqual([
      ['routine', 'new'],
      ['routine', 'new'],
    ]);
    expect(referralReads).toHaveLength(3);
  });

  it('pages through a real Orthanc with limit/offset and says when a site holds more than the cap', async () => {
    const a = store.getState().sites.find((x) => x.site.name === 'Hospital A')!.site;
    const all = await querySiteStudies(dicomweb(a), a, { pageSize: 1, cap: 10 });
    expect(all.rows.map((r) => r.studyInstanceUID).sort()).toEqual([studyA, studyA2].sort());
    expect(all.cappedAt).toBeUndefined();
    const capped = await querySiteStudies(dicomweb(a), a, { pageSize: 1, cap: 1 });
    expect(capped.rows).toHaveLength(1);
    expect(capped.cappedAt).toBe(1);
  });

  it('a stopped site says "unreachable" while the other site\'s rows stay', async () => {
    await siteB.stop({ keepData: true });
    await store.refresh();
    const s = store.getState();
    const b = s.sites.find((x) => x.site.name === 'Hospital B');
    expect(b).toMatchObject({ state: 'error', message: 'unreachable', rows: [] });
    expect(s.sites.find((x) => x.site.name === 'Hospital A')?.state).toBe('ok');
    const rows = selectWorklistRows(s);
    expect(rows.map((r) => r.studyInstanceUID).sort()).toEqual([studyA, studyA2].sort());
    expect(rows.every((r) => r.siteId === siteIdOf('Hospital A'))).toBe(true);
    // An unchanged study is not read again on refresh.
    await store.referralsIdle();
    expect(referralReads).toHaveLength(3);
  });
});
