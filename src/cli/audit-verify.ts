// `npm run audit:verify -- <file|dir> [more files…]`: recomputes the hash
// chain of an audit log (main writes it to <data dir>/audit/, the live file
// audit.jsonl and, once it grew past its size limit, rotated files
// audit-<first seq>-<last seq>.jsonl). Given a directory it checks the log's
// files there in chain order; given files it checks them in the order given
// (oldest first), each joining the chain where the one before it ended.
// Prints "OK n files, m lines" or the file and line of the first break and
// why. Then it compares the end of the chain with the chain head main keeps
// beside the files (audit-head.json): records removed at the newest end, or
// the whole live file, leave a chain that holds on its own, so this is what
// says "N newest records missing". The head's MAC needs the vault's key,
// which this tool does not have: the app checks it at unlock (and the
// Audit Record Repository holds its own copy of every record).
// Exit code 0 when the chain and the head hold, 1 when not, 2 on a usage
// error or an unreadable file.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AUDIT_HEAD_FILE, checkAuditHead, describeAuditFilesVerify, orderAuditFileNames, parseAuditHead, verifyAuditFiles } from '../shared/audit/audit-chain';
import type { AuditFilesVerifyResult } from '../shared/audit/audit-chain';

const USAGE = 'usage: npm run audit:verify -- <audit dir | audit.jsonl | audit-…jsonl …>  (files oldest first)\n';

/** The files to check, in chain order, and the folder the head record should be in. */
function filesToCheck(args: readonly string[]): { files: string[]; headDir: string; isDir: boolean } {
  if (args.length === 1 && statSync(args[0] ?? '').isDirectory()) {
    const dir = args[0] ?? '';
    const names = orderAuditFileNames(readdirSync(dir));
    // No log file but a head record: every record is gone, which the head check below reports.
    if (names.length === 0 && !existsSync(join(dir, AUDIT_HEAD_FILE))) throw new Error(`no audit log files (audit.jsonl, audit-<seq>-<seq>.jsonl) in ${dir}`);
    return { files: names.map((n) => join(dir, n)), headDir: dir, isDir: true };
  }
  return { files: [...args], headDir: dirname(args[args.length - 1] ?? '.'), isDir: false };
}

/** The head check's line, and whether it holds. */
function headVerdict(headDir: string, isDir: boolean, end: { seq: number; hash: string }): { ok: boolean; text: string } {
  const headFile = join(headDir, AUDIT_HEAD_FILE);
  if (!existsSync(headFile)) {
    // A folder the app wrote always has one; loose files copied elsewhere may not.
    return isDir && end.seq > 0
      ? { ok: false, text: `chain head record missing (${headFile}): the newest records may have been removed without trace` }
      : { ok: true, text: `no chain head record beside the files (${AUDIT_HEAD_FILE}): removal of the newest records not checked` };
  }
  const head = parseAuditHead(readFileSync(headFile, 'utf8'));
  if (typeof head === 'string') return { ok: false, text: `${headFile}: ${head}` };
  const check = checkAuditHead(end, head);
  if (!check.ok) return { ok: false, text: check.problem ?? 'the chain head does not match' };
  return { ok: true, text: `chain head #${Math.max(head.seq, head.signed?.seq ?? 0)} matches (its MAC is checked by the app at unlock)` };
}

function main(argv: readonly string[]): number {
  const args = argv.filter((a) => a !== '--');
  if (args.length === 0 || args.includes('--help') || args.includes('-h')) {
    process.stderr.write(USAGE);
    return 2;
  }
  let result: AuditFilesVerifyResult;
  let head: { ok: boolean; text: string } | undefined;
  try {
    const { files, headDir, isDir } = filesToCheck(args);
    result = verifyAuditFiles(
      files.map((name) => ({ name, read: () => readFileSync(name, 'utf8') })),
      (t) => createHash('sha256').update(t, 'utf8').digest('hex'),
    );
    // Only a chain that holds has an end worth comparing; a break is already the finding.
    if (result.ok) head = headVerdict(headDir, isDir, { seq: result.lastSeq, hash: result.lastHash });
  } catch (err) {
    process.stderr.write(`cannot read the audit log: ${(err as Error).message}\n`);
    return 2;
  }
  if (result.ok && head && !head.ok) {
    process.stdout.write(`FAILED: ${head.text}; what is left (${result.files} file${result.files === 1 ? '' : 's'}, ${result.lines} lines) chains correctly\n`);
  } else {
    process.stdout.write(`${describeAuditFilesVerify(result)}${head ? `; ${head.text}` : ''}\n`);
  }
  return result.ok && head?.ok !== false ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
