import { createHash, createHmac } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AuditEvent, AuditFilter, AuditIntegrity } from '../../../shared/ipc/contract';
import type { AuditChainPoint, AuditHeadPoint, AuditHeadRecord, AuditMacTally, Sha256Hex } from '../../../shared/audit/audit-chain';
import { AUDIT_CHAIN_START, AUDIT_GENESIS, AUDIT_HEAD_FILE, AUDIT_LIVE_FILE, auditHeadMacInput, checkAuditHead, checkSignedAuditHead, claimedAuditHead, describeAuditVerify, orderAuditFileNames, parseAuditHead, parseRotatedAuditFileName, rotatedAuditFileName, sealAuditLine, verifyAuditText } from '../../../shared/audit/audit-chain';
import type { Logger } from '../../../shared/log';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, SerialQueue } from '../fs/private-json-file';
import type { AuditEntry, AuditReadEvent, SystemAuditEntry } from './audit-entry';
import type { AuditKeys, AuditSealKey, AuditSealKeyFile } from './audit-seal';
import { AUDIT_SEAL_KEY_FILE, auditLineMac, deriveAuditKeys, generateAuditSealKey, hexEqual, openAuditFields, openSealKeyFile, parseSealKeyFile, publicSealKey, sealAad, sealAuditFields, sealKeyFileContent, sealedKeyId, splitClinical } from './audit-seal';
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

/** Opened sealed parts kept in memory (≈ 0.3 KB each). */
const OPENED_CACHE_MAX = 100_000;

/** Default size past which the live file is rotated. */
export const DEFAULT_AUDIT_ROTATE_BYTES = 16 * 1024 * 1024;

/** The chain head record beside the log's files (see AUDIT_HEAD_FILE). */
export function auditHeadPath(logFilePath: string): string {
  return join(dirname(logFilePath), AUDIT_HEAD_FILE);
}

export const sha256Hex: Sha256Hex = (text) => createHash('sha256').update(text, 'utf8').digest('hex');

export type { AuditEntry, AuditReadEvent, SystemAuditEntry } from './audit-entry';

/** The seal key file beside the log's files (see audit-seal.ts). */
export function auditSealKeyPath(logFilePath: string): string {
  return join(dirname(logFilePath), AUDIT_SEAL_KEY_FILE);
}

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
 *
 * A line's clinical fields (patient, study/series/SOP UIDs, the renderer's
 * reason) are stored as one `sealed` value, sealed to the trail's public key
 * (audit-seal.ts), so they can be written while locked; readers get them
 * opened once the private key is in memory (the first unlock of the run on).
 * Lines from before sealing (all in clear) are read as they are. Each line
 * written while the vault's audit key is known carries `mac`, HMAC-SHA256 of
 * its hash; lines written before the first unlock of a run carry none and
 * are covered by the next line that has one, whose hash chains over them.
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
  /** Line MAC and seal-key keys, derived from the head key. */
  private keys: AuditKeys | undefined;
  /** The trail's X25519 key: the public half from the key file (or made here), the private half from the first unlock on. */
  private sealKey: AuditSealKey | undefined;
  /** The key file as read at start (undefined: none). */
  private sealKeyFile: AuditSealKeyFile | undefined;
  /**
   * Sealed parts already opened, by SHA-256 of the sealed value and its additional data: a patient
   * search reads every line, and opening one is an X25519 step (≈ 0.1 ms). Main's memory only, like
   * the private key it saves using; emptied when it reaches OPENED_CACHE_MAX.
   */
  private readonly opened = new Map<string, string>();

  private readonly throttle: AuditThrottle;
  private readonly appendListeners = new Set<(event: AuditReadEvent) => void>();
  private readonly readableListeners = new Set<() => void>();

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
    const { patient, ...clearFilter } = filter;
    const shown = (e: AuditReadEvent): AuditEvent => {
      const { sealedState: _s, ...event } = e;
      return event;
    };
    if (patient?.trim()) {
      const matching = (await this.readMatching(filter)).reverse();
      return { events: matching.slice(page.offset, page.offset + page.limit).map(shown), total: matching.length };
    }
    // Action and dates are clear fields: only the page shown is opened (one X25519 step per sealed line).
    return this.queue.run(async () => {
      const lines: Array<Record<string, unknown>> = [];
      for (const file of await this.files()) {
        for (const line of parseLines(await readTextIfExists(file))) lines.push(line);
      }
      const matches = matcher(clearFilter);
      const matching = lines.filter((l) => matches(l as AuditEvent)).reverse();
      return { events: matching.slice(page.offset, page.offset + page.limit).map((l) => shown(this.openLine(l))), total: matching.length };
    });
  }

  /** Events matching the filters, oldest first (the order an ATNA repository should receive them), sealed fields opened. */
  readMatching(filter: AuditFilter): Promise<AuditReadEvent[]> {
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
  readAfter(afterSeq: number, limit: number): Promise<AuditReadEvent[]> {
    return this.queue.run(async () => {
      const out: AuditReadEvent[] = [];
      for (const file of await this.files()) {
        const range = parseRotatedAuditFileName(basename(file));
        // A rotated file that ends at or before the point holds nothing wanted: not read at all.
        if (range && range.lastSeq <= afterSeq) continue;
        for (const line of parseLines(await readTextIfExists(file))) {
          if (typeof line.seq === 'number' && line.seq > afterSeq) out.push(this.openLine(line));
          if (out.length >= limit) return out;
        }
      }
      return out;
    });
  }

  /**
   * Calls `listener` with each line once it is on disk, sealed fields in
   * clear once the private key is in memory (before that, marked
   * `waiting-for-unlock` without them, as a reader of the file would see it);
   * returns the unsubscribe.
   */
  onAppend(listener: (event: AuditReadEvent) => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /** What the files held against the chain head when the log was opened, and whether the MACs and the chain held at unlock. */
  integrity(): AuditIntegrity {
    return this.integrityFound;
  }

  /** integrity() once every step queued before (an unlock's check among them) is done. */
  checkedIntegrity(): Promise<AuditIntegrity> {
    return this.queue.run(async () => this.integrityFound);
  }

  /** Whether sealed fields can be opened: from the first unlock of the run on. */
  canOpenSealed(): boolean {
    return this.sealKey?.privateKey !== undefined;
  }

  /** Calls `listener` once sealed fields can be opened (the first unlock); returns the unsubscribe. */
  onSealedReadable(listener: () => void): () => void {
    this.readableListeners.add(listener);
    return () => this.readableListeners.delete(listener);
  }

  /**
   * The vault's audit key, handed over at each unlock (the same key every
   * time: it is derived from the master secret) and kept past a lock. The
   * first time in a run it opens (or creates) the seal key file, checks the
   * whole trail with the key (chain, line MACs, the head record's signed copy
   * against the line it names: verifyWithKey) before signing the current
   * head, and tells onSealedReadable listeners (the forwarder) that sealed
   * lines open now. Findings go to integrity() and into the trail as
   * audit.integrity.
   */
  useHeadKey(key: Buffer): Promise<void> {
    return this.queue.run(async () => {
      if (this.headKey?.equals(key)) return;
      const first = this.headKey === undefined;
      this.headKey = Buffer.from(key);
      this.keys = deriveAuditKeys(this.headKey);
      const head = await this.currentHead();
      const keyFileWasAuthentic = await this.openSealKey(head.seq);
      // Before the head is signed anew: the signed copy found at start is the evidence.
      if (first) await this.verifyWithKey(this.headKey, this.keys, keyFileWasAuthentic);
      await this.writeHeadRecord(head);
      if (this.canOpenSealed()) {
        for (const listener of this.readableListeners) {
          try {
            listener();
          } catch (err) {
            this.options.log.error('An audit readable listener failed', err);
          }
        }
      }
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

  private async readAll(): Promise<AuditReadEvent[]> {
    const events: AuditReadEvent[] = [];
    // Rotated files hold at most rotateBytes each; one is read at a time.
    for (const file of await this.files()) {
      for (const line of parseLines(await readTextIfExists(file))) events.push(this.openLine(line));
    }
    return events;
  }

  /**
   * A stored line as readers see it: the sealed part opened with the private
   * key when it is in memory; a line from before sealing (all in clear) as it
   * is. `mac` and `sealed` are the file's business and stay there.
   */
  private openLine(line: Record<string, unknown>): AuditReadEvent {
    const { sealed, mac: _mac, ...rest } = line;
    if (typeof sealed !== 'string') return rest as AuditReadEvent;
    const key = this.sealKey;
    if (!key?.privateKey) return { ...(rest as AuditEvent), sealedState: 'waiting-for-unlock' };
    const aad = sealAad(rest);
    const cacheKey = createHash('sha256').update(sealed).update('\n').update(aad).digest('base64');
    let plain = this.opened.get(cacheKey);
    if (plain === undefined) {
      plain = sealedKeyId(sealed) === key.kid ? openAuditFields(key as Required<AuditSealKey>, sealed, aad) : undefined;
      if (plain !== undefined) {
        // Full: no more are kept (clearing would make every line of a long oldest-first read miss).
        if (this.opened.size < OPENED_CACHE_MAX) this.opened.set(cacheKey, plain);
      }
    }
    if (plain === undefined) return { ...(rest as AuditEvent), sealedState: 'cannot-open' };
    try {
      return { ...(rest as AuditEvent), ...(JSON.parse(plain) as Partial<AuditEvent>) };
    } catch {
      return { ...(rest as AuditEvent), sealedState: 'cannot-open' };
    }
  }

  /** The key to seal to while writing: the trail's public key; made here (private half in memory only) when none exists yet. */
  private async sealKeyForWriting(): Promise<AuditSealKey> {
    if (this.sealKey) return this.sealKey;
    // No key file yet (the first start, or an install from before sealing) and no unlock so far:
    // the private half lives in memory until the unlock wraps it (openSealKey).
    const made = generateAuditSealKey();
    this.sealKey = made;
    await this.writeSealKeyFile(sealKeyFileContent(made, undefined, undefined));
    return made;
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
    const { clear, clinical } = splitClinical(stamped);
    const body = { ...clear, ...(clinical ? { sealed: sealAuditFields(await this.sealKeyForWriting(), JSON.stringify(clinical), sealAad(clear)) } : {}), seq: stamped.seq };
    const chained = sealAuditLine(body, head.hash, sha256Hex);
    // Lines written before the first unlock of a run carry no MAC: the next line that has one covers them through prev.
    const line = this.keys ? { ...chained, mac: auditLineMac(this.keys.lineMac, chained.hash) } : chained;
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
    const written = { ...stamped, prev: chained.prev, hash: chained.hash } as AuditEvent;
    const told: AuditReadEvent = clinical && !this.canOpenSealed() ? { ...(clear as AuditEvent), prev: chained.prev, hash: chained.hash, sealedState: 'waiting-for-unlock' } : written;
    for (const listener of this.appendListeners) {
      try {
        listener(told);
      } catch (err) {
        this.options.log.error('An audit append listener failed', err);
      }
    }
    if (!this.rotationFailed && this.head.fileBytes >= (this.options.rotateBytes ?? DEFAULT_AUDIT_ROTATE_BYTES)) await this.rotate(this.head);
    return written;
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
    await this.loadSealKeyFile();
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
    const message = integrity.message ?? 'the audit trail failed its integrity check';
    // Several findings in one run are all kept for the panel.
    const before = this.integrityFound;
    this.integrityFound =
      !before.ok && before.message && integrity.message && !integrity.message.includes(before.message)
        ? { ...integrity, missingNewest: Math.max(integrity.missingNewest, before.missingNewest), message: `${before.message} ${integrity.message}` }
        : integrity;
    this.options.log.error(message);
    // Queued behind the running step; written once the head is in place.
    this.recordSystem({ action: 'audit.integrity', outcome: 'failure', reason: message });
  }

  /** Reads audit-seal-key.json at start: its public key is what lines are sealed to until the first unlock. */
  private async loadSealKeyFile(): Promise<void> {
    // Once a run: after a failed write the head is read again, and the private key opened at an unlock must stay.
    if (this.sealKey) return;
    const text = await readTextIfExists(auditSealKeyPath(this.options.filePath));
    if (text === '') return;
    const parsed = parseSealKeyFile(text);
    if (typeof parsed === 'string') {
      // Not trusted for sealing; the first unlock replaces it (and says so).
      this.options.log.error(`${AUDIT_SEAL_KEY_FILE} cannot be used (${parsed}); lines are sealed to a new key until the first unlock replaces it`);
      return;
    }
    this.sealKeyFile = parsed;
    // Not authenticated before an unlock: a public key put here by someone else is found at the unlock (openSealKey).
    this.sealKey = publicSealKey(parsed.publicKey);
  }

  /**
   * At an unlock: opens the key file with the vault's keys (the private key
   * then stays in memory for the rest of the run, as the head key does), or
   * creates it (first unlock or setup, or a key made before it in this run).
   * Answers whether an authentic key file was there already.
   */
  private async openSealKey(headSeq: number): Promise<boolean> {
    const keys = this.keys;
    if (!keys || this.sealKey?.privateKey && this.sealKeyFile?.wrappedPrivate) return this.sealKeyFile?.mac !== undefined;
    const file = this.sealKeyFile;
    if (file) {
      const opened = openSealKeyFile(file, keys);
      if (opened.ok) {
        this.sealKey = opened.key;
        return true;
      }
      const madeThisRun = opened.pending && this.sealKey?.privateKey && this.sealKey.kid === file.kid;
      if (!madeThisRun) {
        this.foundProblem({ ok: false, missingNewest: this.integrityFound.missingNewest, message: `Audit trail: ${opened.problem}.` });
        const aside = `${auditSealKeyPath(this.options.filePath)}.rejected-${headSeq}`;
        await rename(auditSealKeyPath(this.options.filePath), aside).catch((err: unknown) => this.options.log.error(`Could not move ${AUDIT_SEAL_KEY_FILE} aside`, err));
        this.sealKey = undefined;
      }
    }
    const key = this.sealKey?.privateKey ? this.sealKey : generateAuditSealKey();
    this.sealKey = key;
    const content = sealKeyFileContent(key, keys, headSeq + 1);
    if (await this.writeSealKeyFile(content)) this.sealKeyFile = content;
    else this.foundProblem({ ok: false, missingNewest: this.integrityFound.missingNewest, message: `Audit trail: ${AUDIT_SEAL_KEY_FILE} could not be saved; lines sealed in this run open only until it ends (the log says why).` });
    return false;
  }

  /** Durably (the file's bytes, then its name): losing it loses every sealed field. False when it failed. */
  private async writeSealKeyFile(content: AuditSealKeyFile): Promise<boolean> {
    const target = auditSealKeyPath(this.options.filePath);
    const temp = `${target}.tmp`;
    try {
      const file = await open(temp, 'w', PRIVATE_FILE_MODE);
      try {
        await file.writeFile(`${JSON.stringify(content)}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, target);
      await syncDir(dirname(target));
      return true;
    } catch (err) {
      this.options.log.error(`Could not write ${target}`, err);
      return false;
    }
  }

  /**
   * The check the first unlock of a run makes, before it signs the head
   * anew: the chain across all files, each line's MAC, and the head's signed
   * copy against the line it names. What fails goes to the Audit panel and
   * into the trail as audit.integrity.
   */
  private async verifyWithKey(headKey: Buffer, keys: AuditKeys, signedExpected: boolean): Promise<void> {
    const macOk = (hash: string, mac: string): boolean => hexEqual(auditLineMac(keys.lineMac, hash), mac);
    const signed = this.signedHead;
    let at: AuditChainPoint = AUDIT_CHAIN_START;
    const tally: AuditMacTally = { macs: 0, lastMacSeq: 0, uncoveredNewest: 0, sealed: 0 };
    let hashAtSeq: string | undefined;
    for (const file of await this.files()) {
      const result = verifyAuditText(await readTextIfExists(file), sha256Hex, at, { macOk, ...(signed ? { hashAtSeq: signed.seq } : {}) });
      if (!result.ok) {
        // A gap the head reconciliation named already (records missing at the newest end) is not said twice.
        if (result.reason === 'seq gap' && this.integrityFound.missingNewest > 0) return;
        this.foundProblem({ ok: false, missingNewest: this.integrityFound.missingNewest, message: `Audit trail: ${basename(file)} ${describeAuditVerify(result)}.` });
        return;
      }
      at = { prev: result.lastHash, seq: result.lastSeq + 1 };
      tally.macs += result.macs;
      hashAtSeq ??= result.hashAtSeq;
    }
    const problem = checkSignedAuditHead(signed ? { v: 1, seq: 0, hash: '', signed } : undefined, { lastSeq: at.seq - 1, macs: tally.macs, ...(hashAtSeq !== undefined ? { hashAtSeq } : {}) }, (s) => macMatches(headKey, s), signedExpected);
    if (problem) this.foundProblem({ ok: false, missingNewest: this.integrityFound.missingNewest, message: `Audit trail: ${problem}.` });
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
  return hexEqual(headMac(key, signed), signed.mac);
}

function parseLines(text: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const row of text.split('\n')) {
    if (row.trim() === '') continue;
    try {
      const parsed: unknown = JSON.parse(row);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) out.push(parsed as Record<string, unknown>);
    } catch {
      // A damaged line is audit:verify's to report; the readable ones are still worth showing.
    }
  }
  return out;
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
