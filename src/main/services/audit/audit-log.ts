import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AuditEvent, AuditFilter, AuditIntegrity } from '../../../shared/ipc/contract';
import type { AuditHeadPoint, AuditHeadRecord, Sha256Hex } from '../../../shared/audit/audit-chain';
import { AUDIT_GENESIS, AUDIT_HEAD_FILE, AUDIT_LIVE_FILE, auditHeadMacInput, checkAuditHead, claimedAuditHead, orderAuditFileNames, parseAuditHead, parseRotatedAuditFileName, rotatedAuditFileName, sealAuditLine } from '../../../shared/audit/audit-chain';
import type { Logger } from '../../../shared/log';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, SerialQueue } from '../fs/private-json-file';
import type { AuditEntry, SystemAuditEntry } from './audit-entry';
import { AuditThrottle } from './audit-throttle';
import type { ThrottleTimers } from './audit-throttle';

/**
 * The live file of the log. When it grows past its size limit it is renamed
 * audit-<first seq>-<last seq>.jsonl beside it and a new live file continues
 * the chain; `audit:verify <dir>` checks all of them in order.
 */
export function auditLogPath(dataDir: string): string {
  return join(dataDir, 'audit', AUDIT_LIVE_FILE);
}

/** Default size past which the live file is rotated. */
export const DEFAULT_AUDIT_ROTATE_BYTES = 16 * 1024 * 1024;

/** The chain head record beside the log's files (see AUDIT_HEAD_FILE). */
export function auditHeadPath(logFilePath: string): string {
  return join(dirname(logFilePath), AUDIT_HEAD_FILE);
}

export const sha256Hex: Sha256Hex = (text) => createHash('sha256').update(text, 'utf8').digest('hex');

export type { AuditEntry, SystemAuditEntry } from './audit-entry';

export interface AuditLogOptions {
  filePath: string;
  /** Main's clock; tests pass a fixed one. */
  clock: () => Date;
  log: Logger;
  /** Scrubs known secrets from free text (reasons) before it is written: the process's Redactor. */
  redact?: (text: string) => string;
  /** The live file is rotated once it holds at least this many bytes (default 16 MiB). */
  rotateBytes?: number;
  /** recordSystemThrottled: at most one line per reason in this long (default 10 s); timers for tests. */
  throttle?: { windowMs?: number; timers?: ThrottleTimers };
}

interface ChainHead {
  seq: number;
  hash: string;
  /** Seq of the live file's first line (undefined while it is empty or missing). */
  fileFirstSeq: number | undefined;
  /** Bytes in the live file. */
  fileBytes: number;
}

/**
 * The audit trail: an append-only, hash-chained JSON-lines file. One writer
 * (a serial queue) stamps seq, time, prev and hash, so concurrent callers
 * never interleave or fork the chain; each line is a single write followed
 * by fsync. A crash mid-write leaves a last line without its newline, which
 * `audit:verify` reports; the next start terminates that line and chains on
 * from the last complete one, so the damage stays visible rather than hidden.
 */
export class AuditLog {
  private readonly queue = new SerialQueue();
  private head: ChainHead | undefined;
  private rotationFailed = false;
  private integrityFound: AuditIntegrity = { ok: true, missingNewest: 0 };
  /** The vault's audit key, from the first unlock of this run on (main's memory only). */
  private headKey: Buffer | undefined;
  /** The newest head authenticated with that key (this run's, or the one found in the head file). */
  private signedHead: AuditHeadRecord['signed'];

  private readonly throttle: AuditThrottle;
  private readonly appendListeners = new Set<(event: AuditEvent) => void>();

  constructor(private readonly options: AuditLogOptions) {
    this.throttle = new AuditThrottle({ record: (entry) => this.recordSystem(entry), ...options.throttle });
  }

  get filePath(): string {
    return this.options.filePath;
  }

  /** Appends one event; resolves with the line as written. */
  append(entry: AuditEntry): Promise<AuditEvent> {
    return this.queue.run(() => this.write(entry));
  }

  /**
   * For events main notices on a request path that must not wait or fail
   * because of the audit file (a gateway answer, a 401): queued now, written
   * in order, a write error logged.
   */
  recordSystem(entry: SystemAuditEntry): void {
    this.append({ ...entry, actor: 'system', source: 'main' }).catch((err: unknown) => {
      this.options.log.error(`Could not write audit event ${entry.action}`, err);
    });
  }

  /**
   * recordSystem for what an outsider can repeat at will (refused launch
   * tokens): at most one line per reason per 10 s, the repeats counted in the
   * next line's reason ("… (37 more in the last 10 s)").
   */
  recordSystemThrottled(entry: SystemAuditEntry): void {
    this.throttle.record(entry);
  }

  /** Writes the throttle's pending counts (the host is closing); resolves when every queued line is on disk. */
  async close(): Promise<void> {
    this.throttle.close();
    await this.queue.run(async () => undefined);
  }

  /** Events matching the filters, newest first. */
  async query(filter: AuditFilter, page: { offset: number; limit: number }): Promise<{ events: AuditEvent[]; total: number }> {
    const matching = (await this.readMatching(filter)).reverse();
    return { events: matching.slice(page.offset, page.offset + page.limit), total: matching.length };
  }

  /** Events matching the filters, oldest first (the order an ATNA repository should receive them). */
  readMatching(filter: AuditFilter): Promise<AuditEvent[]> {
    // Through the queue, so a query never sees half of an append in progress.
    return this.queue.run(async () => {
      const events = await this.readAll();
      return events.filter(matcher(filter));
    });
  }

  /**
   * Up to `limit` events with seq above `afterSeq`, oldest first, as read
   * from the files (the forwarder's durable queue is the log itself).
   */
  readAfter(afterSeq: number, limit: number): Promise<AuditEvent[]> {
    return this.queue.run(async () => {
      const out: AuditEvent[] = [];
      for (const file of await this.files()) {
        const range = parseRotatedAuditFileName(basename(file));
        // A rotated file that ends at or before the point holds nothing wanted: not read at all.
        if (range && range.lastSeq <= afterSeq) continue;
        const events: AuditEvent[] = [];
        collectEvents(await readTextIfExists(file), events);
        for (const e of events) {
          if (e.seq > afterSeq) out.push(e);
          if (out.length >= limit) return out;
        }
      }
      return out;
    });
  }

  /** Calls `listener` with each line once it is on disk; returns the unsubscribe. */
  onAppend(listener: (event: AuditEvent) => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /** What the files held against the chain head when the log was opened, and whether the head's MAC held at unlock. */
  integrity(): AuditIntegrity {
    return this.integrityFound;
  }

  /**
   * The vault's audit key, handed over at each unlock (the same key every
   * time: it is derived from the master secret). The first time in a run it
   * checks the head record's MAC, which only someone holding the key can
   * write, then signs the current head.
   */
  useHeadKey(key: Buffer): Promise<void> {
    return this.queue.run(async () => {
      if (this.headKey?.equals(key)) return;
      this.headKey = Buffer.from(key);
      const head = await this.currentHead();
      const signed = this.signedHead;
      if (signed && !macMatches(this.headKey, signed)) {
        this.foundProblem({ ok: false, missingNewest: this.integrityFound.missingNewest, message: `The audit chain head record fails its check with this workstation's key: it was changed outside the app${this.integrityFound.message ? `. ${this.integrityFound.message}` : ''}` });
      }
      await this.writeHeadRecord(head);
    });
  }

  /** The seq of the newest line written (0 before the first). */
  newestSeq(): Promise<number> {
    return this.queue.run(async () => (await this.currentHead()).seq);
  }

  /** The log's files, oldest first: the rotated ones, then the live one (if it exists). */
  async files(): Promise<string[]> {
    const dir = dirname(this.options.filePath);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return orderAuditFileNames(names).map((n) => join(dir, n));
  }

  private async readAll(): Promise<AuditEvent[]> {
    const events: AuditEvent[] = [];
    // Rotated files hold at most rotateBytes each; one is read at a time.
    for (const file of await this.files()) collectEvents(await readTextIfExists(file), events);
    return events;
  }

  private async write(entry: AuditEntry): Promise<AuditEvent> {
    const head = await this.currentHead();
    const redact = this.options.redact ?? ((t: string) => t);
    const stamped = {
      seq: head.seq + 1,
      at: this.options.clock().toISOString(),
      ...entry,
      actor: redact(entry.actor),
      ...(entry.reason !== undefined ? { reason: redact(entry.reason) } : {}),
    };
    const line = sealAuditLine(stamped, head.hash, sha256Hex);
    const text = `${JSON.stringify(line)}\n`;
    try {
      const file = await open(this.options.filePath, 'a', PRIVATE_FILE_MODE);
      try {
        await file.write(text);
        await file.sync();
      } finally {
        await file.close();
      }
    } catch (err) {
      // Part of the line may be on disk: re-read the file before the next append.
      this.head = undefined;
      throw err;
    }
    this.head = {
      seq: line.seq,
      hash: line.hash,
      fileFirstSeq: head.fileFirstSeq ?? line.seq,
      fileBytes: head.fileBytes + Buffer.byteLength(text, 'utf8'),
    };
    await this.writeHeadRecord(this.head);
    for (const listener of this.appendListeners) {
      try {
        listener(line as AuditEvent);
      } catch (err) {
        this.options.log.error('An audit append listener failed', err);
      }
    }
    if (!this.rotationFailed && this.head.fileBytes >= (this.options.rotateBytes ?? DEFAULT_AUDIT_ROTATE_BYTES)) await this.rotate(this.head);
    return line as AuditEvent;
  }

  /**
   * Renames the full live file to audit-<first>-<last>.jsonl. The chain head
   * stays in memory, so the next line (in a new live file) names the rotated
   * file's last hash as prev. link + unlink rather than rename: link refuses
   * to replace an existing file, so a name clash can never overwrite an older
   * part of the trail; then the live file simply keeps growing and says so.
   */
  private async rotate(head: ChainHead): Promise<void> {
    const live = this.options.filePath;
    const target = join(dirname(live), rotatedAuditFileName(head.fileFirstSeq ?? head.seq, head.seq));
    try {
      await link(live, target);
    } catch (err) {
      // Not retried on every line (that would flood main's log); the next start tries again.
      this.rotationFailed = true;
      this.options.log.error(`Could not rotate ${live} to ${basename(target)}; the live file keeps growing until the next start`, err);
      return;
    }
    try {
      await unlink(live);
    } catch (err) {
      // Both names are one file now: appending to it would change the "rotated" one too. Undo the link.
      this.rotationFailed = true;
      this.options.log.error(`Could not finish rotating ${live}; it keeps growing until the next start`, err);
      await unlink(target).catch((e: unknown) => this.options.log.error(`Could not remove ${target}`, e));
      return;
    }
    await syncDir(dirname(live));
    this.head = { ...head, fileFirstSeq: undefined, fileBytes: 0 };
    this.options.log.info(`Audit log rotated to ${basename(target)}`);
  }

  /** The head in memory, read from the files (and checked against the head record) the first time. */
  private async currentHead(): Promise<ChainHead> {
    this.head ??= await this.loadHead();
    return this.head;
  }

  private async loadHead(): Promise<ChainHead> {
    await mkdir(dirname(this.options.filePath), { recursive: true, mode: PRIVATE_DIR_MODE });
    const text = await readTextIfExists(this.options.filePath);
    if (text.length > 0 && !text.endsWith('\n')) {
      this.options.log.error(`${this.options.filePath} ends in a partial line (an append was cut off); it stays, marked broken for audit:verify`);
      const file = await open(this.options.filePath, 'a', PRIVATE_FILE_MODE);
      try {
        await file.write('\n');
        await file.sync();
      } finally {
        await file.close();
      }
    }
    const fileBytes = text.length > 0 ? (await stat(this.options.filePath)).size : 0;
    const lastLive = lastCompleteLine(text);
    let found: ChainHead;
    if (lastLive) {
      found = { ...lastLive, fileFirstSeq: firstSeqOf(text) ?? lastLive.seq, fileBytes };
    } else {
      // The live file is new (just rotated, or the first start): the chain goes on from the newest rotated file.
      const rotated = (await this.files()).filter((f) => f !== this.options.filePath);
      const newest = rotated[rotated.length - 1];
      const lastRotated = newest ? lastCompleteLine(await readTextIfExists(newest)) : undefined;
      found = lastRotated ? { ...lastRotated, fileFirstSeq: undefined, fileBytes } : { seq: 0, hash: AUDIT_GENESIS, fileFirstSeq: undefined, fileBytes };
    }
    return this.reconcileWithHeadRecord(found);
  }

  /**
   * Compares the end of the files with the head record kept beside them.
   * When records are missing at the newest end, the chain goes on from the
   * head, not from the last line left: seq numbers are never given twice
   * (the repository already holds the missing ones under theirs), and the
   * gap stays in the chain for audit:verify to name.
   */
  private async reconcileWithHeadRecord(found: ChainHead): Promise<ChainHead> {
    const headPath = auditHeadPath(this.options.filePath);
    const text = await readTextIfExists(headPath);
    if (text === '') {
      if (found.seq > 0) {
        this.foundProblem({ ok: false, missingNewest: 0, message: `The audit chain head record (${AUDIT_HEAD_FILE}) is missing: the newest records may have been removed without trace. The log ends at #${found.seq}.` });
      }
      await this.writeHeadRecord(found);
      return found;
    }
    const record = parseAuditHead(text);
    if (typeof record === 'string') {
      this.foundProblem({ ok: false, missingNewest: 0, message: `The audit chain head record cannot be read (${record}): the newest records may have been removed without trace. The log ends at #${found.seq}.` });
      await this.writeHeadRecord(found);
      return found;
    }
    this.signedHead = record.signed;
    const check = checkAuditHead({ seq: found.seq, hash: found.hash }, record);
    if (!check.ok) this.foundProblem({ ok: false, missingNewest: check.missingNewest, message: `Audit trail: ${check.problem ?? 'the chain head does not match the log'}.` });
    if (check.missingNewest === 0) return found;
    const claimed = claimedAuditHead(record);
    return { ...found, seq: claimed.seq, hash: claimed.hash };
  }

  /** Keeps what was found for the Audit panel, says it in main's log and records it in the trail itself (so the repository learns of it too). */
  private foundProblem(integrity: AuditIntegrity): void {
    this.integrityFound = integrity;
    const message = integrity.message ?? 'the audit trail failed its integrity check';
    this.options.log.error(message);
    // Queued behind the running step; written once the head is in place.
    this.recordSystem({ action: 'audit.integrity', outcome: 'failure', reason: message });
  }

  /**
   * Rewrites the head record (write to a temporary name, then rename, so a
   * reader never sees half of one). Not fsynced: after a power loss the
   * record may be one step older, which trails the files and is accepted; it
   * can never lead them. A failure is logged, not thrown: the line itself is
   * on disk, only the truncation check is weaker until the next write.
   */
  private async writeHeadRecord(head: AuditHeadPoint): Promise<void> {
    const point = { seq: head.seq, hash: head.hash };
    if (this.headKey) this.signedHead = { ...point, mac: headMac(this.headKey, point) };
    const record: AuditHeadRecord = { v: 1, ...point, ...(this.signedHead ? { signed: this.signedHead } : {}) };
    const target = auditHeadPath(this.options.filePath);
    const temp = `${target}.tmp`;
    try {
      await writeFile(temp, `${JSON.stringify(record)}\n`, { mode: PRIVATE_FILE_MODE });
      await rename(temp, target);
    } catch (err) {
      this.options.log.error(`Could not write the audit chain head record ${target}`, err);
    }
  }
}

function headMac(key: Buffer, point: AuditHeadPoint): string {
  return createHmac('sha256', key).update(auditHeadMacInput(point), 'utf8').digest('hex');
}

function macMatches(key: Buffer, signed: NonNullable<AuditHeadRecord['signed']>): boolean {
  const expected = Buffer.from(headMac(key, signed), 'hex');
  const given = Buffer.from(signed.mac, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function collectEvents(text: string, into: AuditEvent[]): void {
  for (const row of text.split('\n')) {
    if (row.trim() === '') continue;
    try {
      into.push(JSON.parse(row) as AuditEvent);
    } catch {
      // A damaged line is audit:verify's to report; the readable ones are still worth showing.
    }
  }
}

/** The seq and hash of the last complete, parseable line of a file's text. */
function lastCompleteLine(text: string): { seq: number; hash: string } | undefined {
  const rows = text.split('\n').filter((r) => r.trim() !== '');
  for (let i = rows.length - 1; i >= 0; i--) {
    try {
      const parsed = JSON.parse(rows[i] ?? '') as Partial<AuditEvent>;
      if (typeof parsed.seq === 'number' && typeof parsed.hash === 'string') return { seq: parsed.seq, hash: parsed.hash };
    } catch {
      // Not a complete line: keep looking back for the last one that is.
    }
  }
  return undefined;
}

function firstSeqOf(text: string): number | undefined {
  for (const row of text.split('\n')) {
    try {
      const parsed = JSON.parse(row) as Partial<AuditEvent>;
      if (typeof parsed.seq === 'number') return parsed.seq;
    } catch {
      // Damaged: the next line tells.
    }
  }
  return undefined;
}

/** Makes a rename durable: the directory entry itself is flushed (best effort; not every platform can open a directory). */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows cannot fsync a directory; the rename is still atomic there.
  }
}

async function readTextIfExists(filePath: string): Promise<string> {
  try {
    return await readFile(filePath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

const BARE_DATE = /^\d{4}-\d{2}-\d{2}$/;

function boundMs(bound: string | undefined, end: 'start' | 'end'): number | undefined {
  if (bound === undefined) return undefined;
  if (BARE_DATE.test(bound)) return Date.parse(`${bound}T${end === 'start' ? '00:00:00.000' : '23:59:59.999'}Z`);
  return Date.parse(bound);
}

function matcher(filter: AuditFilter): (e: AuditEvent) => boolean {
  const from = boundMs(filter.from, 'start');
  const to = boundMs(filter.to, 'end');
  const needle = filter.patient?.trim().toLowerCase();
  return (e) => {
    if (filter.action && e.action !== filter.action) return false;
    const at = Date.parse(e.at);
    if (from !== undefined && !(at >= from)) return false;
    if (to !== undefined && !(at <= to)) return false;
    if (needle) {
      const id = e.patient?.id?.toLowerCase() ?? '';
      const name = e.patient?.name?.toLowerCase() ?? '';
      if (!id.includes(needle) && !name.includes(needle)) return false;
    }
    return true;
  };
}
