// `npm run audit:verify -- <file>`: recomputes the hash chain of an audit log
// (main writes it to <data dir>/audit/audit.jsonl) and prints "OK n lines" or
// the first line that breaks it and why. Exit code 0 when the chain holds,
// 1 when it does not, 2 on a usage error or an unreadable file.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describeAuditVerify, verifyAuditText } from '../shared/audit/audit-chain';
import type { AuditVerifyResult } from '../shared/audit/audit-chain';

const USAGE = 'usage: npm run audit:verify -- <audit.jsonl>\n';

function verifyAuditFile(filePath: string): AuditVerifyResult {
  const text = readFileSync(filePath, 'utf8');
  return verifyAuditText(text, (t) => createHash('sha256').update(t, 'utf8').digest('hex'));
}

function main(argv: readonly string[]): number {
  const args = argv.filter((a) => a !== '--');
  const file = args[0];
  if (!file || args.length > 1 || file === '--help' || file === '-h') {
    process.stderr.write(USAGE);
    return 2;
  }
  let result: AuditVerifyResult;
  try {
    result = verifyAuditFile(file);
  } catch (err) {
    process.stderr.write(`cannot read ${file}: ${(err as Error).message}\n`);
    return 2;
  }
  process.stdout.write(`${file}: ${describeAuditVerify(result)}\n`);
  return result.ok ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
