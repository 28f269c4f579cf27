/**
 * The hash chain of the audit log, shared by main (which writes it) and the
 * `audit:verify` tool (which checks it). Pure TypeScript: the SHA-256
 * function is passed in, so this module runs wherever the caller has one.
 *
 * Each line is one JSON object; `hash` is SHA-256 over the canonical JSON of
 * the line without `hash` (keys sorted, no whitespace), and `prev` is the
 * previous line's `hash` (GENESIS for the first line). Changing, deleting,
 * inserting or reordering any line breaks the chain at that line.
 */

/** What the first line chains to. */
export const AUDIT_GENESIS = '0'.repeat(64);

/** Hex SHA-256 of a UTF-8 string. */
export type Sha256Hex = (text: string) => string;

/** JSON with object keys sorted at every level: one text per value, whatever order the keys were built in. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The hash a line must carry: over everything in it except `hash` itself and
 * `mac` (the HMAC main adds over this hash once the vault's key is known; a
 * line without one hashes as it always did).
 */
export function auditLineHash(line: Record<string, unknown>, sha256: Sha256Hex): string {
  const { hash: _hash, mac: _mac, ...rest } = line;
  return sha256(canonicalJson(rest));
}

/** Adds `prev` and `hash` to an entry that already has its seq and time. */
export function sealAuditLine<T extends { seq: number }>(
  entry: T,
  prev: string,
  sha256: Sha256Hex,
): T & { prev: string; hash: string } {
  const withPrev = { ...entry, prev };
  return { ...withPrev, hash: auditLineHash(withPrev, sha256) };
}

export type AuditBreakReason = 'not JSON' | 'hash mismatch' | 'prev mismatch' | 'seq gap' | 'partial last line' | 'MAC mismatch';

/**
 * With the vault's key: whether a line's `mac` is the HMAC of its hash.
 * Lines without a `mac` were written before the first unlock of a run; the
 * next line that has one covers them through the chain.
 */
export type AuditMacCheck = (hash: string, mac: string) => boolean;

export interface AuditVerifyOptions {
  /** Checks each line's `mac`; without it MACs are not checked at all. */
  macOk?: AuditMacCheck;
  /** Report the hash of the line with this seq (the signed head's), as `hashAtSeq`. */
  hashAtSeq?: number;
}

/** What the MAC check saw (all zero when no key was given). */
export interface AuditMacTally {
  /** Lines whose MAC held. */
  macs: number;
  /** Seq of the newest line with a MAC (0: none). */
  lastMacSeq: number;
  /** Lines after it that carry none: written before the first unlock of the current run, not yet covered by a MAC. */
  uncoveredNewest: number;
  /** Lines carrying a `sealed` part. */
  sealed: number;
}

export type AuditVerifyResult =
  | ({ ok: true; lines: number; lastHash: string; lastSeq: number; hashAtSeq?: string } & AuditMacTally)
  | {
      ok: false;
      /** 1-based line number in the file. */
      line: number;
      reason: AuditBreakReason;
      detail: string;
      /** Lines that verified before the break. */
      goodLines: number;
    };

/** Where a file's first line must join the chain: the hash it names as prev, and its seq. */
export interface AuditChainPoint {
  prev: string;
  seq: number;
}

/** The start of the whole log: the first line of the oldest file. */
export const AUDIT_CHAIN_START: AuditChainPoint = { prev: AUDIT_GENESIS, seq: 1 };

/**
 * Recomputes the chain over a whole log file's text and names the first line
 * that does not hold. A file that does not end in a newline has a partial
 * last line (a crash mid-append); that is reported even if it happens to
 * parse, because nothing proves it is complete. `from` is where the file
 * joins the chain: the start of the log, or the end of the rotated file
 * before it.
 */
export function verifyAuditText(text: string, sha256: Sha256Hex, from: AuditChainPoint = AUDIT_CHAIN_START, options: AuditVerifyOptions = {}): AuditVerifyResult {
  const tally: AuditMacTally = { macs: 0, lastMacSeq: 0, uncoveredNewest: 0, sealed: 0 };
  let hashAtSeq: string | undefined;
  const done = (lines: number, lastHash: string, lastSeq: number): AuditVerifyResult => ({ ok: true, lines, lastHash, lastSeq, ...tally, ...(hashAtSeq !== undefined ? { hashAtSeq } : {}) });
  if (text.length === 0) return done(0, from.prev, from.seq - 1);
  const endsComplete = text.endsWith('\n');
  const rows = (endsComplete ? text.slice(0, -1) : text).split('\n');
  let prev = from.prev;
  let expectedSeq = from.seq;
  for (let i = 0; i < rows.length; i++) {
    const lineNo = i + 1;
    const row = rows[i] ?? '';
    const broken = (reason: AuditBreakReason, detail: string): AuditVerifyResult => ({
      ok: false,
      line: lineNo,
      reason,
      detail,
      goodLines: i,
    });
    if (!endsComplete && i === rows.length - 1) {
      return broken('partial last line', 'the file does not end with a newline: the last append did not finish');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(row);
    } catch {
      return broken('not JSON', 'the line is not a JSON object');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return broken('not JSON', 'the line is not a JSON object');
    }
    const line = parsed as Record<string, unknown>;
    if (line.seq !== expectedSeq) {
      const found = line.seq;
      // A jump forward is records removed from the middle (or the newest ones, before the app wrote on from its head).
      const missing = typeof found === 'number' && Number.isInteger(found) && found > expectedSeq ? `; records #${expectedSeq}${found - 1 > expectedSeq ? `–#${found - 1}` : ''} are missing` : '';
      return broken('seq gap', `expected seq ${expectedSeq}, found ${JSON.stringify(found)}${missing}`);
    }
    if (line.prev !== prev) {
      return broken('prev mismatch', 'prev is not the hash of the line before: a line was removed, inserted or moved');
    }
    if (typeof line.hash !== 'string' || line.hash !== auditLineHash(line, sha256)) {
      return broken('hash mismatch', 'the line was changed after it was written');
    }
    if (options.macOk && line.mac !== undefined) {
      if (typeof line.mac !== 'string' || !options.macOk(line.hash, line.mac)) {
        return broken('MAC mismatch', "the line's MAC does not match this workstation's key: it was changed and the chain recomputed outside the app");
      }
      tally.macs++;
      tally.lastMacSeq = expectedSeq;
      tally.uncoveredNewest = 0;
    } else {
      tally.uncoveredNewest++;
    }
    if (line.sealed !== undefined) tally.sealed++;
    if (options.hashAtSeq === expectedSeq) hashAtSeq = line.hash;
    prev = line.hash;
    expectedSeq++;
  }
  return done(rows.length, prev, expectedSeq - 1);
}

/** One sentence for a person: "OK 12 lines" or "line 7: hash mismatch (…)". */
export function describeAuditVerify(result: AuditVerifyResult): string {
  if (result.ok) return `OK ${result.lines} lines`;
  return `line ${result.line}: ${result.reason} (${result.detail}); ${result.goodLines} lines before it verified`;
}

/* ------------------------------------------------------------ rotation -- */

/** The live file: main appends here. */
export const AUDIT_LIVE_FILE = 'audit.jsonl';

/*
 * Seqs in rotated file names are zero-padded so that a shell glob
 * (`audit/*.jsonl`) and `ls` list the files in chain order, the live file
 * ("audit." sorts after "audit-") last.
 */
const SEQ_DIGITS = 12;
const ROTATED = /^audit-(\d+)-(\d+)\.jsonl$/;

/** The name a full live file is renamed to: audit-<first seq>-<last seq>.jsonl. */
export function rotatedAuditFileName(firstSeq: number, lastSeq: number): string {
  const pad = (n: number): string => String(n).padStart(SEQ_DIGITS, '0');
  return `audit-${pad(firstSeq)}-${pad(lastSeq)}.jsonl`;
}

/** The seq range a rotated file's name claims, or undefined for any other name. */
export function parseRotatedAuditFileName(name: string): { firstSeq: number; lastSeq: number } | undefined {
  const m = ROTATED.exec(name);
  if (!m) return undefined;
  return { firstSeq: Number(m[1]), lastSeq: Number(m[2]) };
}

/** The log's files among `names`, in chain order: rotated files by first seq, then the live file. */
export function orderAuditFileNames(names: readonly string[]): string[] {
  const rotated = names
    .map((name) => ({ name, range: parseRotatedAuditFileName(name) }))
    .filter((f): f is { name: string; range: { firstSeq: number; lastSeq: number } } => f.range !== undefined)
    .sort((a, b) => a.range.firstSeq - b.range.firstSeq)
    .map((f) => f.name);
  return names.includes(AUDIT_LIVE_FILE) ? [...rotated, AUDIT_LIVE_FILE] : rotated;
}

export type AuditFilesVerifyResult =
  | ({ ok: true; files: number; lines: number; lastHash: string; lastSeq: number; hashAtSeq?: string } & AuditMacTally)
  | (Extract<AuditVerifyResult, { ok: false }> & {
      /** The file holding the first broken line, as the caller named it. */
      file: string;
      /** Lines that verified before the break, across all the files before it too. */
      goodLinesTotal: number;
    });

/**
 * Checks the chain across a rotated log, oldest file first: each file's first
 * line must chain to the last line of the file before it (the first file to
 * the genesis value), so a removed, reordered or edited file breaks it. Files
 * are read one at a time (`read`), never all held at once.
 */
export function verifyAuditFiles(
  files: ReadonlyArray<{ name: string; read: () => string }>,
  sha256: Sha256Hex,
  options: AuditVerifyOptions = {},
): AuditFilesVerifyResult {
  let at: AuditChainPoint = AUDIT_CHAIN_START;
  let lines = 0;
  const tally: AuditMacTally = { macs: 0, lastMacSeq: 0, uncoveredNewest: 0, sealed: 0 };
  let hashAtSeq: string | undefined;
  for (const file of files) {
    const result = verifyAuditText(file.read(), sha256, at, options);
    if (!result.ok) return { ...result, file: file.name, goodLinesTotal: lines + result.goodLines };
    lines += result.lines;
    at = { prev: result.lastHash, seq: result.lastSeq + 1 };
    tally.macs += result.macs;
    tally.sealed += result.sealed;
    if (result.lastMacSeq > 0) {
      tally.lastMacSeq = result.lastMacSeq;
      tally.uncoveredNewest = result.uncoveredNewest;
    } else {
      tally.uncoveredNewest += result.uncoveredNewest;
    }
    hashAtSeq ??= result.hashAtSeq;
  }
  return { ok: true, files: files.length, lines, lastHash: at.prev, lastSeq: at.seq - 1, ...tally, ...(hashAtSeq !== undefined ? { hashAtSeq } : {}) };
}

/** One sentence for a person, naming the file: "OK 3 files, 1200 lines" or "audit-….jsonl line 7: …". */
export function describeAuditFilesVerify(result: AuditFilesVerifyResult): string {
  if (result.ok) return `OK ${result.files} file${result.files === 1 ? '' : 's'}, ${result.lines} lines`;
  return `${result.file} line ${result.line}: ${result.reason} (${result.detail}); ${result.goodLinesTotal} lines before it verified`;
}

/* ---------------------------------------------------------- chain head -- */

/**
 * The chain head, kept apart from the log's files (`audit-head.json` beside
 * them): the seq and hash of the newest line main wrote. Deleting the newest
 * lines, or the whole live file, leaves a chain that still verifies on its
 * own; against the head it does not. `signed` is the newest head main could
 * authenticate with the vault's audit key (HMAC-SHA256; the key exists only
 * after the first unlock of a run, so lines written before it leave `seq`
 * ahead of `signed`). Lowering `seq` to hide a truncation leaves `signed`;
 * lowering `signed` breaks its MAC, which main checks at unlock.
 */
export const AUDIT_HEAD_FILE = 'audit-head.json';

export interface AuditHeadPoint {
  seq: number;
  hash: string;
}

export interface AuditHeadRecord extends AuditHeadPoint {
  v: 1;
  signed?: AuditHeadPoint & { mac: string };
}

/** What the MAC covers: the seq and the hash, under a fixed label so the key cannot be used for anything else. */
export function auditHeadMacInput(point: AuditHeadPoint): string {
  return `telerad-audit-head/v1\n${point.seq}\n${point.hash}`;
}

/** Parses the head file's text; a string is the problem in plain words. */
export function parseAuditHead(text: string): AuditHeadRecord | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'the chain head record is not JSON';
  }
  const isPoint = (p: unknown): p is AuditHeadPoint =>
    typeof p === 'object' && p !== null && Number.isInteger((p as AuditHeadPoint).seq) && (p as AuditHeadPoint).seq >= 0 && typeof (p as AuditHeadPoint).hash === 'string';
  const rec = parsed as Partial<AuditHeadRecord>;
  if (!isPoint(parsed) || rec.v !== 1) return 'the chain head record has no seq and hash';
  if (rec.signed !== undefined && !(isPoint(rec.signed) && typeof rec.signed.mac === 'string')) return 'the chain head record has a malformed signed part';
  return { v: 1, seq: rec.seq ?? 0, hash: rec.hash ?? '', ...(rec.signed ? { signed: rec.signed } : {}) };
}

/** The furthest point the head claims was written: its own seq, or the signed one if that is further. */
export function claimedAuditHead(head: AuditHeadRecord): AuditHeadPoint {
  return head.signed && head.signed.seq > head.seq ? { seq: head.signed.seq, hash: head.signed.hash } : { seq: head.seq, hash: head.hash };
}

export interface AuditHeadCheck {
  ok: boolean;
  /** Records the head says were written beyond the end of the files. */
  missingNewest: number;
  /** One sentence for a person when not ok. */
  problem?: string;
}

/**
 * Compares where the files' chain ends with the head. The head may trail the
 * files by a line (a crash between appending a line and rewriting the head),
 * never lead them.
 */
export function checkAuditHead(end: AuditHeadPoint, head: AuditHeadRecord): AuditHeadCheck {
  const claimed = claimedAuditHead(head);
  if (claimed.seq > end.seq) {
    const missing = claimed.seq - end.seq;
    const range = missing === 1 ? `#${claimed.seq} was` : `#${end.seq + 1}–#${claimed.seq} were`;
    const where = end.seq === 0 ? 'the log holds no records' : `the log ends at #${end.seq}`;
    return { ok: false, missingNewest: missing, problem: `${missing} newest record${missing === 1 ? '' : 's'} missing: ${range} written but ${where} (lines or files were removed)` };
  }
  if (claimed.seq === end.seq && claimed.hash !== end.hash) {
    return { ok: false, missingNewest: 0, problem: `record #${end.seq} is not the one the chain head names: the newest records were rewritten` };
  }
  return { ok: true, missingNewest: 0 };
}

/**
 * With the vault's key, once the chain and the line MACs held: the head's
 * signed copy must carry a good MAC and name the very line the files hold at
 * its seq. A file re-chained outside the app (a field changed, every prev and
 * hash recomputed, the head's clear part set to match) can keep neither: the
 * signed copy names the old hash and cannot be re-signed without the key.
 * `signedExpected`: this workstation has signed the head before (its seal key
 * file is authentic), so a head without a signed copy was replaced. Answers
 * the problem in plain words, or undefined when it holds.
 */
export function checkSignedAuditHead(
  head: AuditHeadRecord | undefined,
  files: { lastSeq: number; hashAtSeq?: string; macs: number },
  headMacOk: (signed: NonNullable<AuditHeadRecord['signed']>) => boolean,
  signedExpected: boolean,
): string | undefined {
  const signed = head?.signed;
  if (!signed) {
    return signedExpected || files.macs > 0 ? `the chain head record has no signed copy although this workstation signs it: it was replaced outside the app` : undefined;
  }
  if (!headMacOk(signed)) return `the chain head record fails its check with this workstation's key: it was changed outside the app`;
  // Beyond the end of the files: records missing at the newest end, which checkAuditHead names.
  if (signed.seq > files.lastSeq || signed.seq === 0) return undefined;
  if (files.hashAtSeq !== signed.hash) return `record #${signed.seq} is not the one this workstation signed: the log was rewritten (re-chained) outside the app`;
  return undefined;
}
