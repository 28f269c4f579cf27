import { createHash } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AuditEvent, AuditFilter } from '../../../shared/ipc/contract';
import type { Sha256Hex } from '../../../shared/audit/audit-chain';
import { AUDIT_GENESIS, sealAuditLine } from '../../../shared/audit/audit-chain';
import type { Logger } from '../../../shared/log';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, SerialQueue } from '../fs/private-json-file';

/** One file for the whole log: the chain runs through it, and `audit:verify` checks it in one go. */
export function auditLogPath(dataDir: string): string {
  return join(dataDir, 'audit', 'audit.jsonl');
}

export const sha256Hex: Sha256Hex = (text) => createHash('sha256').update(text, 'utf8').digest('hex');

/** An event before main stamps it: everything but seq, time and the chain. */
export type AuditEntry = Omit<AuditEvent, 'seq' | 'at' | 'prev' | 'hash'>;

/** What main records from what it sees itself; the actor is always "system". */
export type SystemAuditEntry = Omit<AuditEntry, 'actor' | 'source'>;

export interface AuditLogOptions {
  filePath: string;
  /** Main's clock; tests pass a fixed one. */
  clock: () => Date;
  log: Logger;
  /** Scrubs known secrets from free text (reasons) before it is written: the process's Redactor. */
  redact?: (text: string) => string;
}

interface ChainHead {
  seq: number;
  hash: string;
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

  constructor(private readonly options: AuditLogOptions) {}

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

  private async readAll(): Promise<AuditEvent[]> {
    const text = await readTextIfExists(this.options.filePath);
    const events: AuditEvent[] = [];
    for (const row of text.split('\n')) {
      if (row.trim() === '') continue;
      try {
        events.push(JSON.parse(row) as AuditEvent);
      } catch {
        // A damaged line is audit:verify's to report; the readable ones are still worth showing.
      }
    }
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
    try {
      const file = await open(this.options.filePath, 'a', PRIVATE_FILE_MODE);
      try {
        await file.write(JSON.stringify(line) + '\n');
        await file.sync();
      } finally {
        await file.close();
      }
    } catch (err) {
      // Part of the line may be on disk: re-read the file before the next append.
      this.head = undefined;
      throw err;
    }
    this.head = { seq: line.seq, hash: line.hash };
    return line as AuditEvent;
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
    const rows = text.split('\n').filter((r) => r.trim() !== '');
    for (let i = rows.length - 1; i >= 0; i--) {
      try {
        const parsed = JSON.parse(rows[i] ?? '') as Partial<AuditEvent>;
        if (typeof parsed.seq === 'number' && typeof parsed.hash === 'string') return { seq: parsed.seq, hash: parsed.hash };
      } catch {
        // Not a complete line: keep looking back for the last one that is.
      }
    }
    return { seq: 0, hash: AUDIT_GENESIS };
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
