// The outbox's real path for integration tests and the bench: the scheduler
// (Node, fake-indexeddb) → the browser host's site gateway → a loopback
// fault proxy → a real Orthanc with authentication on, which counts every
// instance it receives (tests/support/orthanc-receipts.ts).
import 'fake-indexeddb/auto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gatewayPathForSite } from '../../../src/shared/gateway';
import { createLogger } from '../../../src/shared/log';
import { spawnSourceHost } from '../../support/host-process';
import type { SpawnedHost } from '../../support/host-process';
import type { LogRecord } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { OutboxJobRecord } from '../../../src/renderer/cache/telerad-db';
import { createOutbox } from '../../../src/renderer/outbox/outbox-scheduler';
import type { BackoffPolicy, Outbox, OutboxNetwork } from '../../../src/renderer/outbox/outbox-scheduler';
import { createSiteTransport } from '../../../src/renderer/outbox/stow-client';
import { startWebHost } from '../../../src/main/hosts/web/web-host';
import type { WebHost } from '../../../src/main/hosts/web/web-host';
import { unlockTestHost } from '../../support/web-host-api';
import { generateEncapsulatedPdf, generateReportSr, labResultsPdf } from '../../fixtures/referral-packet';
import type { StudyIdentity } from '../../fixtures/referral-packet';
import { seededRandom } from '../../fixtures/dicom-common';
import { startFaultProxy } from '../../support/fault-proxy';
import type { FaultProxy } from '../../support/fault-proxy';
import { loadCtStudy, startOrthanc } from '../../support/orthanc';
import type { OrthancHandle } from '../../support/orthanc';
import { orthancReceipts } from '../../support/orthanc-receipts';
import type { OrthancReceipts } from '../../support/orthanc-receipts';
import { testRowSealer } from '../../support/test-sealer';

export const SITE_NAME = 'Hospital A';
export const SITE_ID = 'hospital-a';

/** Where the outbox reaches the gateway: an in-process host, or one in a child process. */
export interface HostEndpoint {
  origin: string;
  token: string;
}

export interface OutboxWorld {
  orthanc: OrthancHandle;
  proxy: FaultProxy;
  receipts: OrthancReceipts;
  tmp: string;
  dataDir: string;
  rendererDir: string;
  sitesFile: string;
  study: StudyIdentity;
  /** The in-process browser host (undefined when the test runs it as a child process). */
  host?: WebHost;
  /** Log lines the outboxes wrote (to show in a failure). */
  logLines: string[];
  close(): Promise<void>;
}

export async function startOutboxWorld(opts: { inProcessHost?: boolean } = {}): Promise<OutboxWorld> {
  const receipts = orthancReceipts();
  const orthanc = await startOrthanc({ config: receipts.config });
  const proxy = await startFaultProxy(orthanc.baseUrl);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-int-outbox-'));
  const dataDir = path.join(tmp, 'data');
  const rendererDir = path.join(tmp, 'renderer');
  mkdirSync(rendererDir);
  writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>Telerad</title>');
  const sitesFile = path.join(tmp, 'sites.json');
  writeFileSync(
    sitesFile,
    JSON.stringify([{ name: SITE_NAME, url: `${proxy.url}/dicom-web`, auth: { type: 'basic', username: orthanc.username, password: orthanc.password } }]),
  );
  // The report goes into a real CT study at the site.
  const ct = await loadCtStudy(orthanc, { patientName: 'OUTBOX^TEST', patientId: 'OBX-1', slices: 2, rows: 64, columns: 64 });
  const study: StudyIdentity = { studyInstanceUID: ct.studyInstanceUID, patientName: 'OUTBOX^TEST', patientId: 'OBX-1', studyDescription: 'CT chest' };
  const host = opts.inProcessHost === false ? undefined : await startWebHost({ dataDir, rendererDir, sitesFile, version: 'test', gatewayTimeoutMs: 20_000 });
  // Unlocked once, as a user at the lock screen: the host forwards the outbox's STOW-RS only after that (issue 18).
  if (host) await unlockTestHost(host);
  const logLines: string[] = [];
  return {
    orthanc,
    proxy,
    receipts,
    tmp,
    dataDir,
    rendererDir,
    sitesFile,
    study,
    ...(host ? { host } : {}),
    logLines,
    async close() {
      await host?.close();
      await proxy.close();
      await orthanc.stop();
      receipts.dispose();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

const alwaysOnline: OutboxNetwork = { isOnline: () => true, subscribe: () => () => undefined };

/** The outbox as main.tsx builds it, but in Node: fetch with the host's token header instead of its cookie. */
export function makeOutbox(
  world: Pick<OutboxWorld, 'logLines'>,
  db: TeleradDB,
  host: HostEndpoint,
  opts: { backoff?: Partial<BackoffPolicy>; seed?: number; network?: OutboxNetwork } = {},
): Outbox {
  const fetchImpl: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('x-telerad-token', host.token);
    return fetch(input, { ...init, headers });
  };
  const sink = (r: LogRecord): void => {
    world.logLines.push(`${r.time} ${r.level} ${r.scope} ${r.message}`);
  };
  return createOutbox({
    db,
    transport: createSiteTransport({ fetchImpl, siteBaseUrl: (id) => host.origin + gatewayPathForSite(id), requestTimeoutMs: 30_000 }),
    clock: {
      now: () => Date.now(),
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    },
    random: seededRandom(opts.seed ?? 6),
    log: createLogger('outbox', sink),
    network: opts.network ?? alwaysOnline,
    siteName: (id) => (id === SITE_ID ? SITE_NAME : undefined),
    backoff: opts.backoff ?? { baseMs: 20, capMs: 200, authMs: 60_000 },
  });
}

let dbSeq = 0;
export function freshDb(): TeleradDB {
  return new TeleradDB(`outbox-int-${process.pid}-${++dbSeq}`, { sealer: testRowSealer() });
}

let pdfCache: Uint8Array | undefined;

/** A signed report's outbox job, as signing writes it: an SR and its Encapsulated PDF, UIDs fixed, queued and due now. */
export async function reportJob(study: StudyIdentity, n: number): Promise<OutboxJobRecord> {
  pdfCache ??= await labResultsPdf(study.patientName, study.patientId, 'Imaging report');
  const sr = generateReportSr(study, `Report ${n}: no acute abnormality.`);
  const pdf = generateEncapsulatedPdf(study, pdfCache, `Imaging report ${n}`);
  const now = Date.now();
  const toInstance = (o: { sopInstanceUID: string; sopClassUID: string; seriesInstanceUID: string; bytes: Uint8Array }): OutboxJobRecord['instances'][number] => ({
    sopInstanceUID: o.sopInstanceUID,
    sopClassUID: o.sopClassUID,
    seriesInstanceUID: o.seriesInstanceUID,
    bytes: o.bytes.slice().buffer,
    state: 'pending',
  });
  return {
    id: `job-${n}-${sr.sopInstanceUID.slice(-8)}`,
    siteId: SITE_ID,
    studyInstanceUID: study.studyInstanceUID,
    kind: 'report',
    reportId: `report-${n}`,
    label: `Report ${n} — CT chest, OUTBOX^TEST`,
    instances: [toInstance(sr), toInstance(pdf)],
    state: 'queued',
    attempts: 0,
    nextAttemptAt: now,
    uncertain: false,
    createdAt: now,
    updatedAt: now,
  };
}

/** The SOP Instance UIDs the site lists for the study (QIDO-RS straight at Orthanc), with repeats if any. */
export async function siteInstances(orthanc: OrthancHandle, studyUID: string): Promise<string[]> {
  const res = await fetch(`${orthanc.dicomWebUrl}/studies/${studyUID}/instances?includefield=00080018`, { headers: { authorization: orthanc.authorization } });
  if (res.status === 204) return [];
  const rows = (await res.json()) as Array<Record<string, { Value?: string[] }>>;
  return rows.map((r) => r['00080018']?.Value?.[0] ?? '');
}

export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The browser host as its own process (from source, with tsx), so a test can SIGKILL it. */
export type HostProcess = HostEndpoint & Pick<SpawnedHost, 'kill' | 'output'>;

export async function startHostProcess(world: Pick<OutboxWorld, 'dataDir' | 'rendererDir'>, sitesFile?: string): Promise<HostProcess> {
  const host = await spawnSourceHost(['--data-dir', world.dataDir, '--renderer-dir', world.rendererDir, ...(sitesFile ? ['--sites', sitesFile] : [])]);
  // A restarted host is locked: the user unlocks again before anything is sent (issue 18).
  await unlockTestHost(host);
  return host;
}
