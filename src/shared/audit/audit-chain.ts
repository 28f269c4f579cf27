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

/** The hash a line must carry: over everything in it except `hash` itself. */
export function auditLineHash(line: Record<string, unknown>, sha256: Sha256Hex): string {
  const { hash: _hash, ...rest } = line;
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

export type AuditBreakReason = 'not JSON' | 'hash mismatch' | 'prev mismatch' | 'seq gap' | 'partial last line';

export type AuditVerifyResult =
  | { ok: true; lines: number; lastHash: string; lastSeq: number }
  | {
      ok: false;
      /** 1-based line number in the file. */
      line: number;
      reason: AuditBreakReason;
      detail: string;
      /** Lines that verified before the break. */
      goodLines: number;
    };

/**
 * Recomputes the chain over a whole log file's text and names the first line
 * that does not hold. A file that does not end in a newline has a partial
 * last line (a crash mid-append); that is reported even if it happens to
 * parse, because nothing proves it is complete.
 */
export function verifyAuditText(text: string, sha256: Sha256Hex): AuditVerifyResult {
  if (text.length === 0) return { ok: true, lines: 0, lastHash: AUDIT_GENESIS, lastSeq: 0 };
  const endsComplete = text.endsWith('\n');
  const rows = (endsComplete ? text.slice(0, -1) : text).split('\n');
  let prev = AUDIT_GENESIS;
  let expectedSeq = 1;
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
      return broken('seq gap', `expected seq ${expectedSeq}, found ${JSON.stringify(line.seq)}`);
    }
    if (line.prev !== prev) {
      return broken('prev mismatch', 'prev is not the hash of the line before: a line was removed, inserted or moved');
    }
    if (typeof line.hash !== 'string' || line.hash !== auditLineHash(line, sha256)) {
      return broken('hash mismatch', 'the line was changed after it was written');
    }
    prev = line.hash;
    expectedSeq++;
  }
  return { ok: true, lines: rows.length, lastHash: prev, lastSeq: expectedSeq - 1 };
}

/** One sentence for a person: "OK 12 lines" or "line 7: hash mismatch (…)". */
export function describeAuditVerify(result: AuditVerifyResult): string {
  if (result.ok) return `OK ${result.lines} lines`;
  return `line ${result.line}: ${result.reason} (${result.detail}); ${result.goodLines} lines before it verified`;
}
