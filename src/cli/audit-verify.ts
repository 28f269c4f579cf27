// `npm run audit:verify -- <file|dir> [more files…] [--passphrase-file FILE | --passphrase-stdin] [--vault FILE]`:
// recomputes the hash chain of an audit log (main writes it to <data dir>/audit/, the live file
// audit.jsonl and, once it grew past its size limit, rotated files
// audit-<first seq>-<last seq>.jsonl). Given a directory it checks the log's
// files there in chain order; given files it checks them in the order given
// (oldest first), each joining the chain where the one before it ended.
// Prints "OK n files, m lines" or the file and line of the first break and
// why. Then it compares the end of the chain with the chain head main keeps
// beside the files (audit-head.json): records removed at the newest end, or
// the whole live file, leave a chain that holds on its own, so this is what
// says "N newest records missing".
// The chain alone is plain SHA-256: whoever can write the files can change a
// line and recompute every hash after it (re-chain). What stops that is the
// vault's key: each line written after an unlock carries `mac` (HMAC-SHA256
// of its hash) and the head a signed copy. With the passphrase (from a file
// or stdin, never the command line, where `ps` and shell history would keep
// it) this tool derives that key from <data dir>/vault.json (read only) and
// checks both; without it, it says that the MACs were not checked.
// Exit code 0 when the chain, the head (and the MACs, when checked) hold, 1
// when not, 2 on a usage error, an unreadable file or a wrong passphrase.
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AUDIT_HEAD_FILE, auditHeadMacInput, checkAuditHead, checkSignedAuditHead, describeAuditFilesVerify, orderAuditFileNames, parseAuditHead, verifyAuditFiles } from '../shared/audit/audit-chain';
import type { AuditFilesVerifyResult, AuditHeadRecord } from '../shared/audit/audit-chain';
import { AuditKeyError, auditKeysFromVault, headMacHex, lineMacHex } from './audit-verify-key';
import type { AuditVerifyKeys } from './audit-verify-key';

const USAGE = [
  'usage: npm run audit:verify -- <audit dir | audit.jsonl | audit-…jsonl …>  (files oldest first)',
  '         [--passphrase-file FILE | --passphrase-stdin]  check the MACs with the vault passphrase',
  '         [--vault FILE]  the vault key file (default: vault.json in the folder above the audit folder)',
  '',
].join('\n');
/** Beside the log: its mac says the workstation has signed the head since (audit-seal.ts in main). */
const SEAL_KEY_FILE = 'audit-seal-key.json';

interface Args {
  targets: string[];
  passphraseFile?: string;
  passphraseStdin: boolean;
  vault?: string;
}

/** The arguments, or a usage error in words. A passphrase on the command line is refused: ps and shell history keep argv. */
function parseArgs(argv: readonly string[]): Args | string {
  const out: Args = { targets: [], passphraseStdin: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') continue;
    if (a === '--passphrase-file' || a === '--vault') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) return `${a} needs a file`;
      if (a === '--vault') out.vault = v;
      else out.passphraseFile = v;
    } else if (a === '--passphrase-stdin') {
      out.passphraseStdin = true;
    } else if (a.startsWith('--passphrase')) {
      return 'the passphrase is never taken from the command line (ps and shell history keep it): use --passphrase-file FILE or --passphrase-stdin';
    } else if (a.startsWith('-')) {
      return `unknown option ${a}`;
    } else {
      out.targets.push(a);
    }
  }
  if (out.passphraseFile && out.passphraseStdin) return 'give --passphrase-file or --passphrase-stdin, not both';
  if (out.targets.length === 0) return 'no audit log given';
  return out;
}

/** The passphrase as typed: one trailing line break (echo, an editor) is not part of it. */
function readPassphrase(args: Args): string | undefined {
  if (!args.passphraseFile && !args.passphraseStdin) return undefined;
  let text: string;
  try {
    text = readFileSync(args.passphraseStdin ? 0 : (args.passphraseFile ?? ''), 'utf8');
  } catch (err) {
    throw new AuditKeyError(`cannot read the passphrase from ${args.passphraseStdin ? 'stdin' : args.passphraseFile} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  return text.replace(/\r?\n$/, '');
}

function macChecker(keys: AuditVerifyKeys): (hash: string, mac: string) => boolean {
  return (hash, mac) => hexEqual(lineMacHex(keys, hash), mac);
}

function hexEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

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

function readHead(headDir: string): AuditHeadRecord | string | undefined {
  const headFile = join(headDir, AUDIT_HEAD_FILE);
  if (!existsSync(headFile)) return undefined;
  const head = parseAuditHead(readFileSync(headFile, 'utf8'));
  return typeof head === 'string' ? `${headFile}: ${head}` : head;
}

/** The head check's line, and whether it holds. */
function headVerdict(headDir: string, isDir: boolean, head: AuditHeadRecord | string | undefined, end: AuditFilesVerifyResult & { ok: true }, keys: AuditVerifyKeys | undefined): { ok: boolean; text: string } {
  if (head === undefined) {
    // A folder the app wrote always has one; loose files copied elsewhere may not.
    return isDir && end.lastSeq > 0
      ? { ok: false, text: `chain head record missing (${join(headDir, AUDIT_HEAD_FILE)}): the newest records may have been removed without trace` }
      : { ok: true, text: `no chain head record beside the files (${AUDIT_HEAD_FILE}): removal of the newest records not checked` };
  }
  if (typeof head === 'string') return { ok: false, text: head };
  const check = checkAuditHead({ seq: end.lastSeq, hash: end.lastHash }, head);
  if (!check.ok) return { ok: false, text: check.problem ?? 'the chain head does not match' };
  const at = `chain head #${Math.max(head.seq, head.signed?.seq ?? 0)} matches`;
  if (!keys) return { ok: true, text: at };
  const sealKeyFile = join(headDir, SEAL_KEY_FILE);
  const signedExpected = existsSync(sealKeyFile) && /"mac"\s*:/.test(readFileSync(sealKeyFile, 'utf8'));
  const problem = checkSignedAuditHead(head, end, (signed) => hexEqual(headMacHex(keys, auditHeadMacInput(signed)), signed.mac), signedExpected);
  if (problem) return { ok: false, text: problem };
  const uncovered = end.uncoveredNewest > 0 ? ` (the ${end.uncoveredNewest} newest, written before an unlock, carry none yet: the next MAC'd line covers them through the chain)` : '';
  return { ok: true, text: `${at}; MACs checked: ${end.macs} line MAC${end.macs === 1 ? '' : 's'} and the signed head hold${uncovered}` };
}

function main(argv: readonly string[]): number {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    process.stderr.write(USAGE);
    return 2;
  }
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    process.stderr.write(`${args}\n${USAGE}`);
    return 2;
  }
  let result: AuditFilesVerifyResult;
  let head: { ok: boolean; text: string } | undefined;
  let keys: AuditVerifyKeys | undefined;
  try {
    const { files, headDir, isDir } = filesToCheck(args.targets);
    try {
      const passphrase = readPassphrase(args);
      if (passphrase !== undefined) keys = auditKeysFromVault(args.vault ?? join(headDir, '..', 'vault.json'), passphrase);
    } catch (err) {
      if (err instanceof AuditKeyError) {
        process.stderr.write(`MACs cannot be checked: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    const headRecord = readHead(headDir);
    const signedSeq = typeof headRecord === 'object' ? headRecord.signed?.seq : undefined;
    result = verifyAuditFiles(
      files.map((name) => ({ name, read: () => readFileSync(name, 'utf8') })),
      (t) => createHash('sha256').update(t, 'utf8').digest('hex'),
      keys ? { macOk: macChecker(keys), ...(signedSeq !== undefined ? { hashAtSeq: signedSeq } : {}) } : {},
    );
    // Only a chain that holds has an end worth comparing; a break is already the finding.
    if (result.ok) head = headVerdict(headDir, isDir, headRecord, result, keys);
  } catch (err) {
    process.stderr.write(`cannot read the audit log: ${(err as Error).message}\n`);
    return 2;
  }
  if (result.ok && head && !head.ok) {
    process.stdout.write(`FAILED: ${head.text}; what is left (${result.files} file${result.files === 1 ? '' : 's'}, ${result.lines} lines) chains correctly\n`);
  } else {
    process.stdout.write(`${describeAuditFilesVerify(result)}${head ? `; ${head.text}` : ''}\n`);
  }
  if (!keys) process.stdout.write('MACs NOT checked (no passphrase given: --passphrase-file FILE or --passphrase-stdin): a log re-chained outside the app passes the hash chain alone\n');
  return result.ok && head?.ok !== false ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
