// A real Orthanc (with the DICOMweb plugin) for integration tests, e2e tests and
// the demo: loopback only, HTTP basic authentication on, a random port and a
// random per-start password, all state in a fresh temp dir.
//
//   const orthanc = await startOrthanc();
//   await loadCtStudy(orthanc, { patientName: 'TEST^A', patientId: 'T1', slices: 8 });
//   … orthanc.dicomWebUrl, orthanc.username, orthanc.password …
//   await orthanc.stop({ keepData: true }); … offline … await orthanc.restart();
//   await orthanc.stop();
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { generateCtSeries } from '../fixtures/ct-phantom';
import type { CtSeriesOptions } from '../fixtures/ct-phantom';
import { readLogFile, trackChild, waitForExit } from './child-processes';

export const DEFAULT_ORTHANC_BIN = '/usr/sbin/Orthanc';
export const DEFAULT_DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

export interface StartOrthancOptions {
  /**
   * Extra (or overriding) registered users. The handle's own credentials are
   * those of `reader`, whose password is random per start unless given here.
   */
  users?: Record<string, string>;
  /** Reuse an existing storage folder (e.g. a stopped handle's `storageDir`); it is not deleted on stop. */
  storageDir?: string;
  /** Fixed HTTP port (default: a free random port on 127.0.0.1). */
  port?: number;
  /** Extra top-level Orthanc configuration, merged over the defaults. */
  config?: Record<string, unknown>;
}

export interface OrthancHandle {
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  /** baseUrl + '/dicom-web' (no trailing slash) */
  dicomWebUrl: string;
  username: string;
  password: string;
  port: number;
  /** Orthanc's StorageDirectory (and IndexDirectory). */
  storageDir: string;
  /** Orthanc's stdout/stderr. */
  logFile: string;
  /** 'Basic …' header value for the handle's credentials. */
  authorization: string;
  isRunning(): boolean;
  /** Orthanc's log so far. */
  log(): string;
  /**
   * Stops Orthanc (SIGTERM, SIGKILL after 5 s). Removes its temp dir unless
   * `keepData` (then `restart()` brings it back with the same data, port and
   * password). Safe to call more than once.
   */
  stop(opts?: { keepData?: boolean }): Promise<void>;
  /** Stops Orthanc if running and starts it again on the same port and storage. */
  restart(): Promise<void>;
  /** Stores one DICOM Part 10 file through REST `POST /instances`; returns its Orthanc ID. */
  upload(bytes: Uint8Array): Promise<string>;
}

export interface LoadedCtStudy {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  /** In slice order (instance number 1..N). */
  sopInstanceUIDs: string[];
  orthancIds: string[];
}

function orthancBin(): string {
  return process.env.ORTHANC_BIN ?? DEFAULT_ORTHANC_BIN;
}

function dicomWebPlugin(): string {
  return process.env.ORTHANC_DICOMWEB_PLUGIN ?? DEFAULT_DICOMWEB_PLUGIN;
}

/** True when the Orthanc binary and its DICOMweb plugin are installed. */
export function isOrthancAvailable(): boolean {
  return existsSync(orthancBin()) && existsSync(dicomWebPlugin());
}

/** A port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts a real Orthanc with DICOMweb on 127.0.0.1 and waits until it answers. */
export async function startOrthanc(opts: StartOrthancOptions = {}): Promise<OrthancHandle> {
  if (!isOrthancAvailable()) {
    throw new Error(
      `Orthanc is not installed (${orthancBin()} / ${dicomWebPlugin()}); apt-get install orthanc orthanc-dicomweb, or set ORTHANC_BIN / ORTHANC_DICOMWEB_PLUGIN`,
    );
  }
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'telerad-orthanc-'));
  const storageDir = opts.storageDir ?? path.join(workDir, 'storage');
  mkdirSync(storageDir, { recursive: true });
  const configPath = path.join(workDir, 'orthanc.json');
  const logFile = path.join(workDir, 'orthanc.log');
  const username = 'reader';
  const password = opts.users?.[username] ?? `pw-${randomBytes(8).toString('hex')}`;
  const users = { [username]: password, ...opts.users };
  const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

  let port = opts.port ?? (await freePort());
  let child: ChildProcess | null = null;
  let removed = false;

  const writeConfig = (): void => {
    const config = {
      Name: 'TeleradTest',
      StorageDirectory: storageDir,
      IndexDirectory: storageDir,
      StorageCompression: false,
      HttpServerEnabled: true,
      HttpPort: port,
      // Only loopback clients are accepted; Orthanc 1.10 has no bind-address option.
      RemoteAccessAllowed: false,
      AuthenticationEnabled: true,
      RegisteredUsers: users,
      // No DIMSE server: nothing to collide with, nothing listening on 4242.
      DicomServerEnabled: false,
      HttpDescribeErrors: true,
      HttpTimeout: 30,
      HttpThreadsCount: 20,
      KeepAlive: true,
      StableAge: 1,
      SaveJobs: false,
      JobsHistorySize: 10,
      ConcurrentJobs: 2,
      OverwriteInstances: true,
      MaximumStorageCacheSize: 64,
      Plugins: [dicomWebPlugin()],
      DicomWeb: {
        Enable: true,
        Root: '/dicom-web/',
        EnableWado: false,
        Ssl: false,
        StudiesMetadata: 'Full',
        SeriesMetadata: 'Full',
      },
      ...opts.config,
    };
    writeFileSync(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  };

  const readLog = (): string => readLogFile(logFile);

  const launch = async (): Promise<void> => {
    writeConfig();
    const fd = openSync(logFile, 'a');
    const proc = spawn(orthancBin(), [configPath], { stdio: ['ignore', fd, fd], cwd: workDir });
    closeSync(fd);
    trackChild(proc);
    child = proc;
    let spawnError: Error | null = null;
    proc.once('error', (e) => (spawnError = e));
    const url = `http://127.0.0.1:${port}/system`;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (spawnError) throw new Error(`could not run ${orthancBin()}: ${(spawnError as Error).message}`);
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`Orthanc exited (${proc.exitCode ?? proc.signalCode}) before answering on port ${port}. Log tail (${logFile}):\n${tail(readLog())}`);
      }
      try {
        const res = await fetch(url, { headers: { authorization }, signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await killChild();
        throw new Error(`Orthanc did not answer GET /system within ${READY_TIMEOUT_MS / 1000} s on port ${port}. Log tail (${logFile}):\n${tail(readLog())}`);
      }
      await sleep(100);
    }
  };

  const killChild = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    if (!(await waitForExit(proc, STOP_GRACE_MS))) {
      proc.kill('SIGKILL');
      await waitForExit(proc, STOP_GRACE_MS);
    }
  };

  // A random port can be taken between freePort() and Orthanc binding it: retry on a new one.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (e) {
      const portClash = /port|bind|address already in use/i.test(String(e));
      if (opts.port !== undefined || attempt >= 3 || !portClash) {
        await killChild();
        rmSync(workDir, { recursive: true, force: true });
        throw e;
      }
      port = await freePort();
    }
  }

  const baseUrl = `http://127.0.0.1:${port}`;
  const handle: OrthancHandle = {
    baseUrl,
    dicomWebUrl: `${baseUrl}/dicom-web`,
    username,
    password,
    port,
    storageDir,
    logFile,
    authorization,
    isRunning: () => child !== null && child.exitCode === null && child.signalCode === null,
    log: readLog,
    stop: async (stopOpts?: { keepData?: boolean }): Promise<void> => {
      await killChild();
      if (!stopOpts?.keepData && !removed) {
        removed = true;
        // An external storageDir lives outside workDir and is left alone.
        rmSync(workDir, { recursive: true, force: true });
      }
    },
    restart: async (): Promise<void> => {
      if (removed) throw new Error('this Orthanc was stopped without keepData: its data is gone; start a new one');
      await killChild();
      await launch(); // same port, config, password and storage
    },
    upload: async (bytes: Uint8Array): Promise<string> => {
      const res = await fetch(`${baseUrl}/instances`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/dicom' },
        // fetch wants ArrayBuffer-backed bytes; copy only if they are not.
        body: bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`Orthanc POST /instances failed: HTTP ${res.status} ${text.slice(0, 500)}`);
      const json = JSON.parse(text) as { ID?: string; Status?: string };
      if (!json.ID) throw new Error(`Orthanc POST /instances answered without an ID: ${text.slice(0, 500)}`);
      return json.ID;
    },
  };
  return handle;
}

/** Generates a CT series with the phantom and stores it in `handle` (4 uploads at a time). */
export async function loadCtStudy(handle: Pick<OrthancHandle, 'upload'>, opts: CtSeriesOptions): Promise<LoadedCtStudy> {
  const series = generateCtSeries(opts);
  const orthancIds: string[] = new Array<string>(series.instances.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < series.instances.length) {
      const i = next++;
      orthancIds[i] = await handle.upload(series.instances[i]!.bytes);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, series.instances.length) }, worker));
  return {
    studyInstanceUID: series.studyInstanceUID,
    seriesInstanceUID: series.seriesInstanceUID,
    sopInstanceUIDs: series.instances.map((i) => i.sopInstanceUID),
    orthancIds,
  };
}
