// A real rsyslogd as the Audit Record Repository for integration tests and
// the bench: loopback only, a random free port, plain TCP or TLS (the ossl
// network stream driver, a test CA and server certificate made by openssl),
// every message written to a file with its structured data.
//
//   const repo = await startRsyslog({ tls: true });
//   … forward to repo.url with caCertificate: repo.caCertificate …
//   repo.received() → [{ seq, pri, msgId, sd, msg }, …]
//   await repo.stop({ keepData: true }); … down … await repo.restart(); // same port
//   await repo.stop();
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './orthanc';
import { readLogFile, trackChild, waitForExit } from './child-processes';

export const DEFAULT_RSYSLOGD = '/usr/sbin/rsyslogd';
const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;

export interface ReceivedSyslog {
  pri: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  /** The STRUCTURED-DATA as rsyslog parsed it. */
  sd: string;
  /** seq="N" from the SD (NaN when missing). */
  seq: number;
  /** MSG (the DICOM audit message XML; rsyslog drops the leading BOM or keeps it, see xml). */
  msg: string;
  /** msg without a leading BOM. */
  xml: string;
}

export interface TestCa {
  dir: string;
  /** PEM of the CA certificate. */
  caCertificate: string;
  caCertFile: string;
  serverCertFile: string;
  serverKeyFile: string;
}

export interface RsyslogHandle {
  /** tcp://127.0.0.1:PORT or tcp+tls://127.0.0.1:PORT */
  url: string;
  port: number;
  /** PEM of the CA that signed the server certificate (TLS only). */
  caCertificate?: string;
  /** The file every received message is written to. */
  outputFile: string;
  logFile: string;
  isRunning(): boolean;
  /** rsyslogd's own stderr/stdout so far. */
  log(): string;
  /** The received messages, in file order, parsed. */
  received(): ReceivedSyslog[];
  /** How many messages the output file holds (read incrementally: cheap to poll). */
  receivedCount(): number;
  /** SIGTERM (SIGKILL after 5 s); removes the temp dir unless keepData. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
  /** Stops if running and starts again on the same port, certificates and output file. */
  restart(): Promise<void>;
}

export interface StartRsyslogOptions {
  tls?: boolean;
  /** Use this CA's server certificate instead of making a new one. */
  ca?: TestCa;
  port?: number;
}

function rsyslogd(): string {
  return process.env.RSYSLOGD_BIN ?? DEFAULT_RSYSLOGD;
}

/** True when rsyslogd and openssl are installed. */
export function isRsyslogAvailable(): boolean {
  return existsSync(rsyslogd()) && spawnSync('openssl', ['version']).status === 0;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${r.stderr}`);
}

/** A test CA (RSA 2048, 2 days) and a server certificate it signed for 127.0.0.1 (CN and SAN IP). */
export function makeTestCa(name = 'Telerad Test Audit CA'): TestCa {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'telerad-ca-'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'], dir);
  return {
    dir,
    caCertificate: readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
    caCertFile: path.join(dir, 'ca.pem'),
    serverCertFile: path.join(dir, 'server.pem'),
    serverKeyFile: path.join(dir, 'server.key'),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

// PRI VERSION-less fields as the template below writes them.
const LINE = /^(\d+) (\S+) (\S+) (\S+) (\S+) (\S+) (\[.*?[^\\]\]|-) ?(.*)$/;

export function parseReceived(text: string): ReceivedSyslog[] {
  const out: ReceivedSyslog[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`unexpected line in the rsyslog output: ${line.slice(0, 200)}`);
    const sd = m[7]!;
    const seq = /seq="(\d+)"/.exec(sd);
    const msg = m[8]!;
    out.push({
      pri: Number(m[1]),
      timestamp: m[2]!,
      hostname: m[3]!,
      appName: m[4]!,
      procId: m[5]!,
      msgId: m[6]!,
      sd,
      seq: seq ? Number(seq[1]) : Number.NaN,
      msg,
      xml: msg.replace(/^\uFEFF/, ''),
    });
  }
  return out;
}

/** Starts rsyslogd in the foreground on 127.0.0.1 and waits until its port accepts connections. */
export async function startRsyslog(opts: StartRsyslogOptions = {}): Promise<RsyslogHandle> {
  if (!isRsyslogAvailable()) throw new Error(`rsyslogd (${rsyslogd()}) or openssl is not installed; apt-get install rsyslog rsyslog-openssl openssl`);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'telerad-rsyslog-'));
  const ca = opts.tls ? (opts.ca ?? makeTestCa()) : undefined;
  const ownCa = opts.tls && !opts.ca;
  const configPath = path.join(workDir, 'rsyslog.conf');
  const pidFile = path.join(workDir, 'rsyslogd.pid');
  const outputFile = path.join(workDir, 'received.log');
  const logFile = path.join(workDir, 'rsyslogd.log');
  let port = opts.port ?? (await freePort());
  let child: ChildProcess | null = null;
  let removed = false;

  const writeConfig = (): void => {
    const tlsParams = ca
      ? ` streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon"` +
        ` streamDriver.CAFile="${ca.caCertFile}" streamDriver.CertFile="${ca.serverCertFile}" streamDriver.KeyFile="${ca.serverKeyFile}"`
      : '';
    writeFileSync(
      configPath,
      [
        `global(workDirectory="${workDir}" maxMessageSize="64k"${ca ? ` defaultNetstreamDriverCAFile="${ca.caCertFile}"` : ''})`,
        // Octet-counted frames up to 64 KiB (the default frame limit is 200000 bytes anyway).
        `module(load="imtcp" maxSessions="20")`,
        // PRI, the RFC 5424 header fields, the structured data and the message, one line per message.
        `template(name="audit" type="string" string="%pri% %timereported:::date-rfc3339% %hostname% %app-name% %procid% %msgid% %structured-data% %msg%\\n")`,
        `ruleset(name="audit") { action(type="omfile" file="${outputFile}" template="audit" flushOnTXEnd="on" asyncWriting="off") }`,
        `input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="audit"${tlsParams})`,
        '',
      ].join('\n'),
    );
  };

  const readLog = (): string => readLogFile(logFile);

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

  const launch = async (): Promise<void> => {
    writeConfig();
    const fd = openSync(logFile, 'a');
    const proc = spawn(rsyslogd(), ['-n', '-f', configPath, '-i', pidFile], { stdio: ['ignore', fd, fd], cwd: workDir });
    closeSync(fd);
    trackChild(proc);
    child = proc;
    let spawnError: Error | null = null;
    proc.once('error', (e) => (spawnError = e));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (spawnError) throw new Error(`could not run ${rsyslogd()}: ${(spawnError as Error).message}`);
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`rsyslogd exited (${proc.exitCode ?? proc.signalCode}) before listening on ${port}:\n${readLog()}`);
      if (await accepts(port)) return;
      if (Date.now() > deadline) {
        await killChild();
        throw new Error(`rsyslogd did not listen on ${port} within ${READY_TIMEOUT_MS / 1000} s:\n${readLog()}`);
      }
      await sleep(50);
    }
  };

  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (e) {
      // A random port can be taken between freePort() and rsyslogd binding it: retry on a new one.
      if (opts.port !== undefined || attempt >= 3 || !/address already in use|could not create|bind/i.test(String(e))) {
        await killChild();
        rmSync(workDir, { recursive: true, force: true });
        if (ownCa && ca) rmSync(ca.dir, { recursive: true, force: true });
        throw e;
      }
      port = await freePort();
    }
  }

  let counted = { offset: 0, lines: 0 };
  const receivedCount = (): number => {
    let fd: number;
    try {
      fd = openSync(outputFile, 'r');
    } catch {
      return counted.lines;
    }
    try {
      const buf = Buffer.alloc(1 << 20);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, counted.offset);
        if (n <= 0) break;
        let lines = 0;
        let last = -1;
        for (let i = buf.indexOf(0x0a); i >= 0 && i < n; i = buf.indexOf(0x0a, i + 1)) {
          lines++;
          last = i;
        }
        // Only whole lines count; a partial one is read again next time.
        if (last < 0) break;
        counted = { offset: counted.offset + last + 1, lines: counted.lines + lines };
      }
    } finally {
      closeSync(fd);
    }
    return counted.lines;
  };

  return {
    url: `${ca ? 'tcp+tls' : 'tcp'}://127.0.0.1:${port}`,
    receivedCount,
    port,
    ...(ca ? { caCertificate: ca.caCertificate } : {}),
    outputFile,
    logFile,
    isRunning: () => child !== null && child.exitCode === null && child.signalCode === null,
    log: readLog,
    received: () => {
      let text: string;
      try {
        text = readFileSync(outputFile, 'utf8');
      } catch {
        return [];
      }
      // A line still being written has no newline yet; it is read next time.
      return parseReceived(text.slice(0, text.lastIndexOf('\n') + 1));
    },
    stop: async (stopOpts) => {
      await killChild();
      if (!stopOpts?.keepData && !removed) {
        removed = true;
        rmSync(workDir, { recursive: true, force: true });
        if (ownCa && ca) rmSync(ca.dir, { recursive: true, force: true });
      }
    },
    restart: async () => {
      if (removed) throw new Error('this rsyslogd was stopped without keepData; start a new one');
      await killChild();
      await launch();
    },
  };
}
