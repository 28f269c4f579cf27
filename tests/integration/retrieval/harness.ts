// The whole retrieval path in one Node process, as the browser runs it:
// the renderer's StudyRetriever (fetch, Dexie on fake-indexeddb) → the browser
// host's site gateway (in-process) → the fault proxy → a real Orthanc.
import 'fake-indexeddb/auto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWebHost } from '../../../src/main/hosts/web/web-host';
import type { WebHost } from '../../../src/main/hosts/web/web-host';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import { createLogger, memorySink } from '../../../src/shared/log';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import type { StudyUpsert } from '../../../src/renderer/cache/study-cache';
import { StudyRetriever } from '../../../src/renderer/cache/study-retriever';
import type { StudyRetrieverDeps } from '../../../src/renderer/cache/study-retriever';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { createDicomWebApiFactory } from '../../../src/renderer/dicomweb/dicomweb-api';
import { createTransfersStore } from '../../../src/renderer/cache/transfers-store';
import type { TransfersStore } from '../../../src/renderer/cache/transfers-store';
import { startFaultProxy } from '../../support/fault-proxy';
import type { FaultProxy } from '../../support/fault-proxy';
import { loadCtStudy, startOrthanc } from '../../support/orthanc';
import type { LoadedCtStudy, OrthancHandle } from '../../support/orthanc';
import { testRowSealer } from '../../support/test-sealer';
import { unlockTestHost } from '../../support/web-host-api';

export const SITE_NAME = 'Hospital A';

export interface Renderer {
  db: TeleradDB;
  cache: StudyCache;
  retriever: StudyRetriever;
  transfers: TransfersStore;
}

export interface RetrievalHarness {
  orthanc: OrthancHandle;
  proxy: FaultProxy;
  host: WebHost;
  site: SiteSummary;
  studies: LoadedCtStudy[];
  studyFields(study: LoadedCtStudy): StudyUpsert;
  /** A fresh renderer (its own IndexedDB) talking to the host. */
  renderer(deps?: Partial<StudyRetrieverDeps>): Renderer;
  close(): Promise<void>;
}

export async function startRetrievalHarness(opts: { studies: Array<{ slices: number; rows?: number; columns?: number }>; gatewayTimeoutMs?: number }): Promise<RetrievalHarness> {
  const tmp = mkdtempSync(join(tmpdir(), 'telerad-int-retrieval-'));
  const rendererDir = join(tmp, 'renderer');
  mkdirSync(rendererDir);
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Telerad</title>');
  const orthanc = await startOrthanc();
  const studies: LoadedCtStudy[] = [];
  for (const [k, s] of opts.studies.entries()) {
    studies.push(await loadCtStudy(orthanc, { patientName: `RETRIEVAL^${k + 1}`, patientId: `RET-${k + 1}`, seed: k + 1, ...s }));
  }
  const proxy = await startFaultProxy(orthanc.baseUrl);
  const sitesFile = join(tmp, 'sites.json');
  writeFileSync(
    sitesFile,
    JSON.stringify([{ name: SITE_NAME, url: `${proxy.url}/dicom-web`, auth: { type: 'basic', username: orthanc.username, password: orthanc.password } }]),
  );
  const host = await startWebHost({ dataDir: join(tmp, 'data'), rendererDir, sitesFile, version: 'test', gatewayTimeoutMs: opts.gatewayTimeoutMs ?? 2000 });
  // Past the lock screen: the host answers no data channel while locked (issue 18).
  await unlockTestHost(host);
  const listed = (await (
    await fetch(`${host.origin}/api/sites.list`, { method: 'POST', headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' }, body: '{}' })
  ).json()) as { value: SiteSummary[] };
  const site = listed.value[0]!;

  // The browser sends the launch cookie by itself; in Node the token header stands in for it.
  const tokenFetch: typeof fetch = (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set('x-telerad-token', host.token);
    return fetch(input, { ...init, headers });
  };
  let dbCount = 0;
  const dbs: TeleradDB[] = [];

  return {
    orthanc,
    proxy,
    host,
    site,
    studies,
    studyFields: (study) => ({
      studyInstanceUID: study.studyInstanceUID,
      siteId: site.id,
      patientName: 'RETRIEVAL',
      patientId: 'RET',
      studyDate: '20260101',
      modalities: ['CT'],
      description: 'CT CHEST',
      numInstances: study.sopInstanceUIDs.length,
    }),
    renderer(deps = {}) {
      const db = new TeleradDB(`telerad-int-${process.pid}-${dbCount++}-${Date.now()}`, { sealer: testRowSealer() });
      dbs.push(db);
      const cache = new StudyCache(db);
      const transfers = createTransfersStore();
      const retriever = new StudyRetriever({
        cache,
        dicomweb: createDicomWebApiFactory(host.origin, tokenFetch),
        log: createLogger('retrieve', memorySink()),
        transfers,
        concurrency: 4,
        retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 },
        ...deps,
      });
      return { db, cache, retriever, transfers };
    },
    async close() {
      for (const db of dbs) {
        db.close();
        await db.delete();
      }
      await host.close();
      await proxy.close();
      await orthanc.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
