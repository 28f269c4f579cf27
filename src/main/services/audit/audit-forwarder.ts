import { closeSync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import tls from 'node:tls';
import type { AuditForwardingStatus } from '../../../shared/ipc/contract';
import type { Logger } from '../../../shared/log';
import { errorMessage } from '../../../shared/error-message';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../fs/private-json-file';
import type { AuditReadEvent } from './audit-entry';
import type { DicomAuditSource } from './dicom-audit-message';
import { syslogFrame } from './syslog-message';

/**
 * Forwards the audit trail to an IHE ATNA Audit Record Repository: one RFC
 * 5424 message per event (syslog-message.ts) over TCP or TLS (RFC 5425),
 * in seq order. The log itself is the durable queue: events are written
 * locally first, and the forwarder keeps only a cursor of how far it got.
 *
 * Two cursors, both in one fixed-width record of `<dataDir>/audit/forwarded.json`:
 *   - sent: the highest seq whose socket write completed (the kernel took
 *     it), written after every message. After a process crash forwarding
 *     resumes at sent + 1: the kernel goes on delivering what it accepted
 *     after the process is gone. A kill during the write of #sent+1 can
 *     leave that one message delivered and sent again (see the pump).
 *   - confirmed: sent as it was at the last clean close (we ended the
 *     connection, the repository closed its side without a reset), which
 *     proves it read everything before. After a connection failure the
 *     forwarder resends from confirmed + 1, so a repository that went down
 *     mid-session loses nothing; it may hold a few messages twice,
 *     recognisable by the seq in their structured data.
 */

/** Where the trail goes: `tcp://host:port` or `tcp+tls://host:port`; the CA (PEM) replaces the system roots for TLS. */
export interface AuditRepositoryConfig {
  url: string;
  caCertificate?: string | undefined;
}

export interface AuditRepositoryTarget {
  tls: boolean;
  host: string;
  port: number;
  /** scheme://host:port, no credentials: for logs and the status. */
  display: string;
}

/** Parses a repository URL; throws an Error saying what is wrong with it. */
export function parseAuditRepositoryUrl(url: string): AuditRepositoryTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`"${url}" is not a URL; expected tcp://host:port or tcp+tls://host:port`);
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  if (scheme !== 'tcp' && scheme !== 'tcp+tls') throw new Error(`unsupported scheme "${scheme}:"; expected tcp://host:port or tcp+tls://host:port`);
  // Syslog over TCP has no credentials; a URL carrying some is a mistake that would otherwise end up in logs.
  if (parsed.username || parsed.password) throw new Error('must not contain a user name or password');
  // tcp: is not a "special" URL scheme, so the URL parser leaves the host's case alone; DNS and certificate names ignore it.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === '') throw new Error('names no host');
  if (parsed.port === '') throw new Error('names no port (RFC 5425 TLS syslog is usually 6514)');
  const port = Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`port ${parsed.port} is not 1-65535`);
  if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search || parsed.hash) throw new Error('must be only scheme://host:port, without a path or query');
  return { tls: scheme === 'tcp+tls', host, port, display: `${scheme}://${parsed.host.toLowerCase()}` };
}

/**
 * The part of the AuditLog the forwarder reads. Events come with their sealed
 * fields opened; before the first unlock of a run a sealed line comes marked
 * `sealedState: 'waiting-for-unlock'`, and the forwarder waits there (the
 * repository must get the clinical fields, and in seq order).
 */
export interface AuditForwarderSource {
  readAfter(afterSeq: number, limit: number): Promise<AuditReadEvent[]>;
  onAppend(listener: (event: AuditReadEvent) => void): () => void;
  newestSeq(): Promise<number>;
  /** Whether sealed lines can be read now (from the first unlock of the run on). */
  canOpenSealed?(): boolean;
  /** Calls `listener` when sealed lines become readable (the first unlock); returns the unsubscribe. */
  onSealedReadable?(listener: () => void): () => void;
}

/** The forwarder's status while it waits at a sealed line before the first unlock. */
export const WAITING_FOR_UNLOCK = 'waiting for the first unlock to read sealed fields';

/** What the forwarder needs of a connected stream (a net.Socket or tls.TLSSocket). */
export interface ForwarderSocket {
  write(data: Uint8Array, callback: (err?: Error | null) => void): boolean;
  /** Bytes still queued in the process (net.Socket): 0 right after write() means the kernel took them all. */
  readonly writableLength?: number;
  end(): void;
  destroy(error?: Error): void;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'end' | 'close', listener: () => void): this;
  once(event: 'connect' | 'secureConnect', listener: () => void): this;
  setNoDelay?(noDelay?: boolean): this;
  resume?(): this;
}

export interface ForwarderTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface AuditForwarderBackoff {
  /** First retry delay (default 1 s); doubled per failure up to maxMs (default 60 s). */
  initialMs?: number;
  maxMs?: number;
  /** 0..1; each delay is drawn from [delay/2, delay] so many workstations do not retry in step. */
  random?: () => number;
}

export interface AuditForwarderOptions {
  repository: AuditRepositoryConfig;
  source: AuditForwarderSource;
  /** The persisted cursors; created 0600. */
  cursorFile: string;
  /** This machine's name, for the syslog HOSTNAME. */
  hostname: string;
  clock: () => Date;
  /** Already scoped by the caller (app-services passes log.child('audit-forward')). */
  log: Logger;
  /** AuditSourceIdentification in the XML (default telerad-workstation). */
  auditSource?: DicomAuditSource;
  procId?: string | number;
  backoff?: AuditForwarderBackoff;
  timers?: ForwarderTimers;
  /** Opens the connection; `ready` names the event after which it is writable (secureConnect for TLS: after the handshake). Tests may replace it. */
  connect?: (target: AuditRepositoryTarget, ca: string | undefined) => { socket: ForwarderSocket; ready: 'connect' | 'secureConnect' };
  /** A connection with nothing to send is ended after this long (default 1 s). */
  idleMs?: number;
  connectTimeoutMs?: number;
  /**
   * Events read from the log per chunk while behind (default 2000). Each
   * readAfter parses the log's files up to the point (≈ 40 ms for 10,000
   * lines), so bigger chunks drain a backlog faster: 5,500 → 7,200 events/s
   * over TLS from 500 to 2000 (bench/audit-forwarding), for ≈ 2 MB held.
   */
  chunk?: number;
}

export interface AuditForwarder {
  start(): Promise<void>;
  status(): AuditForwardingStatus;
  /** Stops sending, closes the connection cleanly if one is open, and flushes the cursor file. */
  close(): Promise<void>;
}

export const AUDIT_FORWARD_CURSOR_FILE = 'forwarded.json';

/** `<dataDir>/audit/forwarded.json`. */
export function auditForwardCursorPath(dataDir: string): string {
  return join(dataDir, 'audit', AUDIT_FORWARD_CURSOR_FILE);
}

const CURSOR_RECORD_BYTES = 64;
const DEFAULT_IDLE_MS = 1000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const CLOSE_WAIT_MS = 5000;
const FSYNC_EVERY_MS = 1000;
/** Live events kept in memory beyond this are read back from the log instead. */
const MAX_BUFFERED = 2000;

const realTimers: ForwarderTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

function defaultConnect(target: AuditRepositoryTarget, ca: string | undefined): { socket: ForwarderSocket; ready: 'connect' | 'secureConnect' } {
  if (!target.tls) return { socket: net.connect({ host: target.host, port: target.port }), ready: 'connect' };
  const socket = tls.connect({
    host: target.host,
    port: target.port,
    // An IP address is not a valid SNI name; the certificate is still checked against it.
    ...(net.isIP(target.host) ? {} : { servername: target.host }),
    // The given CA replaces the system roots (as for the sites); without one the system roots apply.
    ...(ca ? { ca } : {}),
    minVersion: 'TLSv1.2',
    rejectUnauthorized: true,
  });
  return { socket, ready: 'secureConnect' };
}

const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** One sentence for the status and the log. */
export function describeForwardingError(err: unknown, target: AuditRepositoryTarget, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): string {
  const code = (err as { code?: string } | undefined)?.code ?? '';
  const where = `${target.host}:${target.port}`;
  if (code === 'ECONNREFUSED') return `connection refused by ${where}: the repository is not running or not listening there`;
  if (code === 'CONNECT_TIMEOUT' || code === 'ETIMEDOUT') {
    const within = connectTimeoutMs < 1000 ? `${connectTimeoutMs} ms` : `${Math.round(connectTimeoutMs / 1000)} s`;
    return `no answer from ${where} within ${within} (timeout): the connection${target.tls ? ' or its TLS handshake' : ''} did not complete`;
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `the repository host ${target.host} could not be resolved`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `${where} is unreachable from this machine`;
  if (UNTRUSTED_CODES.has(code)) return `the TLS certificate of ${where} is not trusted: it is not signed by the configured CA (${code})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the TLS certificate of ${where} does not name ${target.host} (host name mismatch)`;
  if (code === 'CERT_HAS_EXPIRED') return `the TLS certificate of ${where} has expired`;
  if (code === 'CERT_NOT_YET_VALID') return `the TLS certificate of ${where} is not valid yet`;
  if (code === 'PEER_CLOSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED') {
    return `the repository ${where} closed the connection`;
  }
  return `forwarding to ${where} failed: ${errorMessage(err)}`;
}

function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

interface Connection {
  socket: ForwarderSocket;
  /** The first error or unsolicited close; every later write fails with it. */
  failure: Error | undefined;
  /** The repository sent its FIN. */
  peerEnded: boolean;
  closed: Promise<void>;
  isClosed: boolean;
  /** Rejects whatever is waiting on this connection when it fails. */
  onFailure: Set<(err: Error) => void>;
  weEnded: boolean;
  /** Plain TCP: a write() that returns with nothing queued was taken by the kernel then and there (see writeFrame). */
  plain: boolean;
}

interface Cursor {
  sent: number;
  confirmed: number;
}

/** Creates the forwarder; nothing happens until start(). Never throws into the caller after that: errors go to the log and status(). */
export function createAuditForwarder(options: AuditForwarderOptions): AuditForwarder {
  const target = parseAuditRepositoryUrl(options.repository.url);
  const log = options.log;
  const timers = options.timers ?? realTimers;
  const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const chunk = options.chunk ?? 2000;
  const connect = options.connect ?? defaultConnect;
  const auditSource = options.auditSource ?? { sourceId: `telerad-workstation@${options.hostname}` };
  const frameOptions = { hostname: options.hostname, source: auditSource, ...(options.procId !== undefined ? { procId: options.procId } : {}) };
  const backoffInitial = options.backoff?.initialMs ?? 1000;
  const backoffMax = options.backoff?.maxMs ?? 60_000;
  const random = options.backoff?.random ?? Math.random;

  let fd: number | undefined;
  const cursor: Cursor = { sent: 0, confirmed: 0 };
  let cursorDirty = false;
  let lastFsync = 0;

  /** Seq of the last event handed to the current connection (or the resume point). */
  let position = 0;
  /** Events above `position`, contiguous and in order. */
  let buffer: AuditReadEvent[] = [];
  /** Why forwarding is held without a failure (a sealed line before the first unlock). */
  let waiting: string | undefined;
  let unsubscribeReadable: (() => void) | undefined;
  let newestKnown = 0;
  let state: AuditForwardingStatus['state'] = 'idle';
  let lastError: string | undefined;
  let nextRetryAt: string | undefined;
  let failures = 0;
  /** After a failure: the range resent, logged once it is through. */
  let resending: { from: number; to: number } | undefined;

  let conn: Connection | undefined;
  /** A connection still being opened: close() cuts it short rather than wait out the connect timeout. */
  let opening: ForwarderSocket | undefined;
  let stopped = false;
  let started = false;
  let unsubscribe: (() => void) | undefined;
  let wake: (() => void) | undefined;
  let pumpDone: Promise<void> = Promise.resolve();

  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  /* ---------------------------------------------------------- cursor -- */

  function openCursor(): void {
    mkdirSync(dirname(options.cursorFile), { recursive: true, mode: PRIVATE_DIR_MODE });
    let handle: number;
    try {
      handle = openSync(options.cursorFile, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      handle = openSync(options.cursorFile, 'w+', PRIVATE_FILE_MODE);
    }
    fd = handle;
    const bytes = Buffer.alloc(CURSOR_RECORD_BYTES * 2);
    const n = readSync(handle, bytes, 0, bytes.length, 0);
    const text = bytes.subarray(0, n).toString('utf8').trim();
    if (text === '') return;
    try {
      const parsed = JSON.parse(text) as Partial<Cursor>;
      if (!Number.isInteger(parsed.sent) || !Number.isInteger(parsed.confirmed)) throw new Error('sent/confirmed missing');
      cursor.sent = Math.max(0, parsed.sent ?? 0);
      cursor.confirmed = Math.min(cursor.sent, Math.max(0, parsed.confirmed ?? 0));
    } catch (err) {
      // Starting over resends (duplicates, recognisable by seq); guessing a point could skip events.
      log.error(`${options.cursorFile} is unreadable; forwarding starts again from #1 (the repository may receive some events twice)`, err);
    }
  }

  /**
   * One positional write of a fixed-width record at offset 0: no rename, no
   * open, a single syscall, so it can follow every socket write. The page
   * cache keeps it across a SIGKILL of this process; fsync (below) makes it
   * survive a power cut too, at most a second behind.
   */
  function saveCursor(forceSync: boolean): void {
    if (fd === undefined) return;
    const record = Buffer.alloc(CURSOR_RECORD_BYTES, 0x20);
    record.write(JSON.stringify(cursor), 0, 'utf8');
    record[CURSOR_RECORD_BYTES - 1] = 0x0a;
    try {
      writeSync(fd, record, 0, record.length, 0);
      cursorDirty = true;
      const now = Date.now();
      if (forceSync || now - lastFsync >= FSYNC_EVERY_MS) syncCursor(now);
    } catch (err) {
      log.error(`Could not write ${options.cursorFile}`, err);
    }
  }

  function syncCursor(now = Date.now()): void {
    if (fd === undefined || !cursorDirty) return;
    try {
      fsyncSync(fd);
      cursorDirty = false;
      lastFsync = now;
    } catch (err) {
      log.error(`Could not flush ${options.cursorFile}`, err);
    }
  }

  /* ------------------------------------------------------------ queue -- */

  const lastQueued = (): number => buffer[buffer.length - 1]?.seq ?? position;

  function onAppend(event: AuditReadEvent): void {
    if (event.seq > newestKnown) newestKnown = event.seq;
    // Only the next one in line; anything else (a gap, a backlog) is read from the files.
    if (event.seq === lastQueued() + 1 && buffer.length < MAX_BUFFERED) buffer.push(event);
    notify();
  }

  /** The next event to send, reading the log when the buffer is empty; undefined when caught up. */
  async function nextEvent(): Promise<AuditReadEvent | undefined> {
    for (;;) {
      const first = buffer[0];
      if (first) return first;
      const wanted = newestKnown;
      if (wanted <= position) return undefined;
      const after = position;
      const events = await options.source.readAfter(after, chunk);
      if (position !== after || buffer.length > 0) continue; // a failure reset the point meanwhile, or live events came
      const readable = events.filter((e) => e.seq > after);
      const firstRead = readable[0];
      if (!firstRead) {
        // Nothing readable up to what the log says was written: damaged lines at the end.
        log.error(`Skipped #${after + 1}–#${wanted}: the audit log holds no readable record for them (damaged lines; npm run audit:verify reports them)`);
        position = wanted;
        advanceSent(wanted);
        continue;
      }
      if (firstRead.seq > after + 1) {
        // A record that cannot be read must not stall the queue: forward what exists, say what was skipped.
        log.error(`Skipped #${after + 1}–#${firstRead.seq - 1}: the audit log holds no readable record for them (damaged lines; npm run audit:verify reports them)`);
      }
      let last = after;
      for (const e of readable) {
        if (e.seq <= last) continue;
        if (e.seq > last + 1 && last !== after) log.error(`Skipped #${last + 1}–#${e.seq - 1}: the audit log holds no readable record for them (damaged lines; npm run audit:verify reports them)`);
        buffer.push(e);
        last = e.seq;
      }
      if (last > newestKnown) newestKnown = last;
    }
  }

  /** Moves `sent` over skipped seqs with nothing to send (they cannot be forwarded, now or later). */
  function advanceSent(seq: number): void {
    if (seq > cursor.sent) {
      cursor.sent = seq;
      saveCursor(false);
    }
  }

  /* ------------------------------------------------------- connection -- */

  function openConnection(): Promise<Connection> {
    return new Promise<Connection>((resolve, reject) => {
      let socket: ForwarderSocket;
      let ready: 'connect' | 'secureConnect';
      try {
        ({ socket, ready } = connect(target, options.repository.caCertificate));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      opening = socket;
      let settled = false;
      let resolveClosed!: () => void;
      const c: Connection = {
        socket,
        failure: undefined,
        peerEnded: false,
        isClosed: false,
        closed: new Promise<void>((r) => (resolveClosed = r)),
        onFailure: new Set(),
        weEnded: false,
        plain: ready === 'connect',
      };
      const fail = (err: Error): void => {
        if (!c.failure) c.failure = err;
        for (const f of [...c.onFailure]) f(c.failure);
        c.onFailure.clear();
        // A pump lingering on an idle connection learns of it now, not at the next event.
        if (conn === c) notify();
      };
      const timer = timers.setTimeout(() => {
        if (settled) return;
        opening = undefined;
        const err = codedError('CONNECT_TIMEOUT', 'connect timeout');
        socket.destroy(err);
        settled = true;
        reject(err);
      }, connectTimeoutMs);
      socket.on('error', (err) => {
        fail(err);
        if (!settled) {
          settled = true;
          opening = undefined;
          timers.clearTimeout(timer);
          reject(err);
        }
      });
      socket.on('end', () => {
        c.peerEnded = true;
        // Before we asked: the repository hung up on its own (restart, overload); what it read is not known.
        if (!c.weEnded) fail(codedError('PEER_CLOSED', 'the repository closed the connection'));
      });
      socket.on('close', () => {
        c.isClosed = true;
        if (!c.weEnded || !c.peerEnded) fail(codedError('PEER_CLOSED', 'the repository closed the connection'));
        resolveClosed();
        if (!settled) {
          settled = true;
          opening = undefined;
          timers.clearTimeout(timer);
          reject(c.failure ?? codedError('PEER_CLOSED', 'closed before it was ready'));
        }
      });
      socket.once(ready, () => {
        if (settled) return;
        settled = true;
        opening = undefined;
        timers.clearTimeout(timer);
        socket.setNoDelay?.(true);
        // Nothing is expected from the repository; reading keeps its FIN (and a reset) visible.
        socket.resume?.();
        resolve(c);
      });
    });
  }

  /**
   * Writes one frame; calls `taken` once the kernel has it, then resolves.
   * Over plain TCP, libuv first tries the write() syscall synchronously: if
   * write() returns with nothing left queued, the kernel took every byte
   * before write() returned, and `taken` runs right then, without waiting
   * for the callback (Node defers it to a later tick). That shrinks the
   * window between the kernel taking a message and the cursor naming it
   * from a few event-loop steps to the return from one syscall. Over TLS
   * the socket's queue says nothing about the encrypted bytes below it, so
   * the callback decides.
   */
  function writeFrame(c: Connection, frame: Uint8Array, taken: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (c.failure) {
        reject(c.failure);
        return;
      }
      let tookIt = false;
      const onFail = (err: Error): void => reject(err);
      c.onFailure.add(onFail);
      c.socket.write(frame, (err) => {
        c.onFailure.delete(onFail);
        if (err) {
          reject(c.failure ?? err);
          return;
        }
        if (!tookIt) taken();
        resolve();
      });
      if (c.plain && c.socket.writableLength === 0 && !c.failure) {
        tookIt = true;
        taken();
      }
    });
  }

  /**
   * Ends the connection and waits for the repository to close its side. A
   * clean close (its FIN, no reset) proves it read everything: had it closed
   * with our data unread, its kernel would have answered with a reset, which
   * arrives here as an error.
   */
  async function closeGracefully(c: Connection): Promise<boolean> {
    c.weEnded = true;
    c.socket.end();
    let timer: unknown;
    const timedOut = await Promise.race([
      c.closed.then(() => false),
      new Promise<boolean>((r) => (timer = timers.setTimeout(() => r(true), CLOSE_WAIT_MS))),
    ]);
    timers.clearTimeout(timer);
    if (timedOut) {
      c.socket.destroy();
      await c.closed;
      return false;
    }
    return !c.failure && c.peerEnded;
  }

  /* ------------------------------------------------------------- pump -- */

  function waitForWork(ms: number | undefined): Promise<'work' | 'timeout'> {
    return new Promise((resolve) => {
      if (stopped) {
        resolve('work');
        return;
      }
      let timer: unknown;
      wake = () => {
        if (timer !== undefined) timers.clearTimeout(timer);
        resolve('work');
      };
      if (ms !== undefined) timer = timers.setTimeout(() => {
        wake = undefined;
        resolve('timeout');
      }, ms);
    });
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (stopped) {
        resolve();
        return;
      }
      const timer = timers.setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      // close() wakes a retry wait early; new events do not (they wait for the retry like the rest).
      wake = () => {
        if (stopped) {
          timers.clearTimeout(timer);
          resolve();
        }
      };
    });
  }

  /** Resets to the last confirmed point and schedules the retry; returns its delay. */
  function onConnectionFailed(err: unknown): number {
    const message = describeForwardingError(err, target, connectTimeoutMs);
    const wasSent = position;
    // Everything after the last clean close is sent again: the repository may not have read it.
    position = cursor.confirmed;
    buffer = [];
    if (cursor.sent !== cursor.confirmed) {
      // Persisted at once, so a crash while the repository is down still resends them.
      cursor.sent = cursor.confirmed;
      saveCursor(true);
    }
    if (wasSent > position) resending = { from: position + 1, to: Math.max(wasSent, resending?.to ?? 0) };
    failures++;
    const base = Math.min(backoffMax, backoffInitial * 2 ** Math.min(failures - 1, 30));
    const delay = Math.round(base / 2 + (base / 2) * random());
    state = 'retrying';
    lastError = message;
    nextRetryAt = new Date(options.clock().getTime() + delay).toISOString();
    log.warn(`${message}; retrying in ${(delay / 1000).toFixed(1)} s${resending ? ` (then #${resending.from}–#${resending.to} are sent again)` : ''}`);
    return delay;
  }

  async function pump(): Promise<void> {
    while (!stopped) {
      let event: AuditReadEvent | undefined;
      try {
        event = await nextEvent();
      } catch (err) {
        log.error('Could not read the audit log to forward it', err);
        failures++;
        state = 'retrying';
        lastError = `could not read the audit log: ${errorMessage(err)}`;
        await sleep(Math.min(backoffMax, backoffInitial * 2 ** Math.min(failures - 1, 30)));
        continue;
      }
      if (stopped) break;

      if (!event) {
        if (conn) {
          // Caught up with a connection open: keep it for a second in case more follows, then close it cleanly.
          if (!conn.failure && (await waitForWork(idleMs)) === 'work') continue;
          const c = conn;
          conn = undefined;
          // A repository that hung up on its own while we lingered: what it read is not proven, so it is a failure too.
          const clean = !c.failure && (await closeGracefully(c));
          if (clean) {
            cursor.confirmed = cursor.sent;
            saveCursor(true);
          } else {
            await sleep(onConnectionFailed(c.failure ?? codedError('PEER_CLOSED', 'no clean close')));
            continue;
          }
        }
        if (newestKnown <= position && !stopped) {
          state = 'idle';
          syncCursor();
          await waitForWork(undefined);
        }
        continue;
      }

      if (event.sealedState === 'waiting-for-unlock') {
        // Its clinical fields are sealed and the private key comes with the first unlock: wait here, in order.
        if (waiting === undefined) log.info(`Forwarding waits at #${event.seq}: ${WAITING_FOR_UNLOCK}`);
        waiting = WAITING_FOR_UNLOCK;
        if (conn) {
          // Not held open meanwhile: closed cleanly, which confirms what went before.
          const c = conn;
          conn = undefined;
          if (!c.failure && (await closeGracefully(c))) {
            cursor.confirmed = cursor.sent;
            saveCursor(true);
          }
        }
        syncCursor();
        // Woken by the unlock (onSealedReadable), a new line or close(); then the line is read again.
        if (!stopped && options.source.canOpenSealed?.() !== true) await waitForWork(undefined);
        buffer = [];
        continue;
      }
      if (waiting !== undefined) {
        log.info(`Sealed audit lines are readable now: forwarding goes on from #${event.seq}`);
        waiting = undefined;
      }
      if (event.sealedState === 'cannot-open') {
        log.error(`#${event.seq} is forwarded without its sealed fields: they do not open with this workstation's key (changed outside the app; see the Audit panel)`);
      }

      if (!conn) {
        // A retry stays "retrying" (with its last error) until a connection is actually up.
        if (state !== 'retrying') state = 'sending';
        try {
          conn = await openConnection();
        } catch (err) {
          await sleep(onConnectionFailed(err));
          continue;
        }
        if (stopped) break;
      }
      state = 'sending';
      const frame = syslogFrame(event, frameOptions);
      const seq = event.seq;
      try {
        await writeFrame(conn, frame, () => {
          // The kernel has taken the message. The cursor follows at once (a
          // pwrite into the page cache), so a SIGKILL from here on leaves it
          // naming exactly what the kernel will still deliver after the
          // process is gone. The window left is between the kernel accepting
          // the bytes and this line: microseconds of user space, but a kill
          // that arrives during the write() syscall itself takes effect only
          // when the syscall returns, after the kernel took the bytes. On
          // loopback that syscall carries the segment all the way into the
          // receiver (tens of µs, a large part of each message's time): 4 of
          // 10 SIGKILLs in the test landed there. Either way that one message
          // is sent again after the restart: a duplicate with the same seq
          // and hash, never a loss.
          cursor.sent = seq;
          saveCursor(false);
        });
      } catch (err) {
        const c = conn;
        conn = undefined;
        c?.socket.destroy();
        await sleep(onConnectionFailed(err));
        continue;
      }
      buffer.shift();
      position = seq;
      if (failures > 0 || lastError) {
        failures = 0;
        lastError = undefined;
        nextRetryAt = undefined;
      }
      if (resending && position >= resending.to) {
        log.warn(`Resent #${resending.from}–#${resending.to} after the connection failed; the repository may hold some of them twice (same seq)`);
        resending = undefined;
      }
    }
  }

  return {
    async start(): Promise<void> {
      if (started) return;
      started = true;
      try {
        openCursor();
      } catch (err) {
        state = 'retrying';
        lastError = `could not open ${options.cursorFile}: ${errorMessage(err)}`;
        log.error(`Audit forwarding is off: could not open ${options.cursorFile}`, err);
        return;
      }
      position = cursor.sent;
      unsubscribe = options.source.onAppend(onAppend);
      unsubscribeReadable = options.source.onSealedReadable?.(notify);
      let newestRead = false;
      try {
        newestKnown = Math.max(newestKnown, await options.source.newestSeq());
        newestRead = true;
      } catch (err) {
        log.error('Could not read the newest audit seq', err);
      }
      if (newestRead && cursor.sent > newestKnown) {
        // The log lost its newest records (see audit.integrity) or was restored from an older copy: the
        // next records reuse those seqs and must still go out (the repository tells them apart by hash).
        log.warn(`The forwarding cursor (#${cursor.sent}) is past the newest record in the audit log (#${newestKnown}); forwarding goes on from #${newestKnown + 1}`);
        cursor.sent = newestKnown;
        cursor.confirmed = Math.min(cursor.confirmed, newestKnown);
        saveCursor(true);
        position = cursor.sent;
      }
      log.info(`Forwarding the audit trail to ${target.display} from #${position + 1} (${Math.max(0, newestKnown - position)} waiting)`);
      pumpDone = pump().catch((err: unknown) => log.error('Audit forwarding stopped unexpectedly', err));
    },

    status(): AuditForwardingStatus {
      return {
        repository: target.display,
        state,
        forwardedUpTo: cursor.sent,
        backlog: Math.max(0, newestKnown - cursor.sent),
        ...(lastError !== undefined ? { lastError } : {}),
        ...(waiting !== undefined ? { waiting } : {}),
        ...(state === 'retrying' && nextRetryAt !== undefined ? { nextRetryAt } : {}),
      };
    },

    async close(): Promise<void> {
      if (stopped) return;
      stopped = true;
      unsubscribe?.();
      unsubscribeReadable?.();
      notify();
      opening?.destroy(codedError('CLOSING', 'the forwarder is closing'));
      await pumpDone;
      const c = conn;
      conn = undefined;
      if (c && !c.isClosed) {
        if (await closeGracefully(c).catch(() => false)) cursor.confirmed = cursor.sent;
      }
      saveCursor(true);
      if (fd !== undefined) {
        try {
          closeSync(fd);
        } catch (err) {
          log.error(`Could not close ${options.cursorFile}`, err);
        }
        fd = undefined;
      }
    },
  };
}
