import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { auditLineHash } from '../../src/shared/audit/audit-chain';
import { sha256Hex } from '../../src/main/services/audit/audit-log';

/**
 * Re-chains `<auditDir>/audit.jsonl` as an attacker with write access to the data folder would:
 * `change` edits the parsed lines, then every prev and hash is recomputed with plain SHA-256 (MACs
 * dropped, as if written before an unlock) and the clear part of the chain head record
 * (`audit-head.json`) is set to match. The chain alone verifies after this; the line MACs and the
 * head's signed copy, made with the vault's key, do not (issue 18).
 */
export function rechainAuditFile(auditDir: string, change: (lines: Array<Record<string, unknown>>) => void): void {
  const live = join(auditDir, 'audit.jsonl');
  const lines = readFileSync(live, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((r) => JSON.parse(r) as Record<string, unknown>);
  change(lines);
  let prev = lines[0]!.prev as string;
  for (const line of lines) {
    delete line.mac;
    line.prev = prev;
    line.hash = auditLineHash(line, sha256Hex);
    prev = line.hash as string;
  }
  writeFileSync(live, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  const headFile = join(auditDir, 'audit-head.json');
  const head = JSON.parse(readFileSync(headFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(headFile, JSON.stringify({ ...head, seq: lines.length, hash: prev }));
}
