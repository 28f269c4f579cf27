import { createHash } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AuditEvent, AuditFilter } from '../../../shared/ipc/contract';
import type { Sha256Hex } from '../../../shared/audit/audit-chain';
import { AUDIT_GENESIS, AUDIT_LIVE_FILE, orderAuditFileNames, rotatedAuditFileName, sealAuditLine } from '../../../shared/audit/audit-chain';
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

  private readonly throttle: AuditThrottle;

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
    const head = this.head ?? (await this.loadHead());
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
    if (lastLive) return { ...lastLive, fileFirstSeq: firstSeqOf(text) ?? lastLive.seq, fileBytes };
    // The live file is new (just rotated, or the first start): the chain goes on from the newest rotated file.
    const rotated = (await this.files()).filter((f) => f !== this.options.filePath);
    const newest = rotated[rotated.length - 1];
    const lastRotated = newest ? lastCompleteLine(await readTextIfExists(newest)) : undefined;
    if (lastRotated) return { ...lastRotated, fileFirstSeq: undefined, fileBytes };
    return { seq: 0, hash: AUDIT_GENESIS, fileFirstSeq: undefined, fileBytes };
  }
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
