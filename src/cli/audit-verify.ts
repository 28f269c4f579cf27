// `npm run audit:verify -- <file|dir> [more files…]`: recomputes the hash
// chain of an audit log (main writes it to <data dir>/audit/, the live file
// audit.jsonl and, once it grew past its size limit, rotated files
// audit-<first seq>-<last seq>.jsonl). Given a directory it checks the log's
// files there in chain order; given files it checks them in the order given
// (oldest first), each joining the chain where the one before it ended.
// Prints "OK n files, m lines" or the file and line of the first break and
// why. Exit code 0 when the chain holds, 1 when it does not, 2 on a usage
// error or an unreadable file.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeAuditFilesVerify, orderAuditFileNames, verifyAuditFiles } from '../shared/audit/audit-chain';
import type { AuditFilesVerifyResult } from '../shared/audit/audit-chain';

const USAGE = 'usage: npm run audit:verify -- <audit dir | audit.jsonl | audit-…jsonl …>  (files oldest first)\n';

/** The files to check, in chain order: a directory's log files, or the files as named. */
function filesToCheck(args: readonly string[]): string[] {
  if (args.length === 1 && statSync(args[0] ?? '').isDirectory()) {
    const dir = args[0] ?? '';
    const names = orderAuditFileNames(readdirSync(dir));
    if (names.length === 0) throw new Error(`no audit log files (audit.jsonl, audit-<seq>-<seq>.jsonl) in ${dir}`);
    return names.map((n) => join(dir, n));
  }
  return [...args];
}

function main(argv: readonly string[]): number {
  const args = argv.filter((a) => a !== '--');
  if (args.length === 0 || args.includes('--help') || args.includes('-h')) {
    process.stderr.write(USAGE);
    return 2;
  }
  let result: AuditFilesVerifyResult;
  try {
    const files = filesToCheck(args);
    result = verifyAuditFiles(
      files.map((name) => ({ name, read: () => readFileSync(name, 'utf8') })),
      (t) => createHash('sha256').update(t, 'utf8').digest('hex'),
    );
  } catch (err) {
    process.stderr.write(`cannot read the audit log: ${(err as Error).message}\n`);
    return 2;
  }
  process.stdout.write(`${describeAuditFilesVerify(result)}\n`);
  return result.ok ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
