import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

// Issue 16: every Dexie table has one owner module, and only it writes the
// table; a producer that must write inside its own transaction calls the
// owner's function with the transaction (outbox.enqueue, addCaseNote). The
// outbox goes further: no file outside outbox/ even names `outboxJobs`.
// The scan is textual (a Dexie call is recognisable by its shape); a table
// reached through a dynamic name (`db.table(name)` in the sealing pass) is out
// of its reach.

const SCHEMA = 'src/renderer/cache/telerad-db.ts';

/** Owner of each table's writes: files, or folders ending in '/'. The schema file (migrations) may write any table. */
export const TABLE_OWNERS: Record<string, readonly string[]> = {
  studies: ['src/renderer/cache/study-cache.ts'],
  series: ['src/renderer/cache/study-cache.ts'],
  instances: ['src/renderer/cache/study-cache.ts'],
  instanceBytes: ['src/renderer/cache/study-cache.ts'],
  instancePreviews: ['src/renderer/cache/study-cache.ts'],
  studyListings: ['src/renderer/cache/study-cache.ts'],
  siteCapabilities: ['src/renderer/cache/study-cache.ts'],
  cacheSettings: ['src/renderer/cache/cache-budget.ts'],
  prefetchMarks: ['src/renderer/prefetch/prefetch-settings.ts'],
  sitePreferences: ['src/renderer/prefetch/prefetch-settings.ts'],
  referrals: ['src/renderer/referral/referral-reader.ts'],
  annotations: ['src/renderer/viewer/annotations/annotation-repo.ts'],
  keyImages: ['src/renderer/viewer/annotations/annotation-repo.ts'],
  reportDrafts: ['src/renderer/reports/report-repo.ts'],
  reports: ['src/renderer/reports/report-repo.ts'],
  userProfile: ['src/renderer/reports/report-repo.ts'],
  outboxJobs: ['src/renderer/outbox/'],
  referralCases: ['src/renderer/referral-cases/referral-case-rows.ts'],
  deidMappings: ['src/renderer/referral-cases/referral-case-rows.ts'],
  caseNotes: ['src/renderer/case-thread/case-note-rows.ts'],
  sealing: ['src/renderer/cache/sealing/seal-existing-rows.ts'],
  // Written only by the sealing layer itself, at the DBCore level (sealing/row-versions.ts), inside the writes it versions.
  rowVersions: ['src/renderer/cache/sealing/row-versions.ts'],
  composeDrafts: ['src/renderer/case-thread/compose-drafts.ts'],
};

/** Tables no file outside their owner may name at all (reads go through the owner's API too). */
export const NAMED_ONLY_BY_OWNER: readonly string[] = ['outboxJobs'];

/** Known violations still to be fixed (folder, table, kind); none today. Each must still be a violation: once fixed, the test below fails until its line is deleted. */
const PENDING: ReadonlyArray<{ under: string; table: string; kind: Violation['kind'] }> = [];
const isPending = (v: Violation, p: (typeof PENDING)[number]): boolean => v.file.startsWith(p.under) && v.table === p.table && v.kind === p.kind;

const WRITE_METHODS = new Set(['put', 'add', 'update', 'delete', 'bulkPut', 'bulkAdd', 'bulkUpdate', 'bulkDelete', 'clear', 'modify']);

export interface Violation {
  file: string;
  line: number;
  table: string;
  kind: 'write' | 'named';
}

export interface ScanContext {
  tables: ReadonlySet<string>;
  /** Exported string constants that name a table (OUTBOX_TABLE → outboxJobs), over all of src/. */
  tableConstants: ReadonlyMap<string, string>;
  owners: Readonly<Record<string, readonly string[]>>;
  namedOnlyByOwner: readonly string[];
}

const isOwner = (file: string, table: string, owners: ScanContext['owners']): boolean =>
  file === SCHEMA || (owners[table] ?? []).some((o) => (o.endsWith('/') ? file.startsWith(o) : file === o));

/** Comments blanked (newlines kept, so offsets keep their line); strings kept, a table name may be one. */
export function stripComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const n = text[i + 1];
    if (c === '/' && n === '/') {
      for (; i < text.length && text[i] !== '\n'; i++) out += ' ';
    } else if (c === '/' && n === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      for (; i < stop; i++) out += text[i] === '\n' ? '\n' : ' ';
    } else if (c === "'" || c === '"' || c === '`') {
      out += c;
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\') out += text[i++];
        out += text[i] ?? '';
        i++;
      }
      out += text[i] ?? '';
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Index just past the bracket that closes the one at `open` (strings skipped). */
function skipBalanced(text: string, open: number): number {
  const pairs: Record<string, string> = { '(': ')', '<': '>' };
  const close = pairs[text[open]!]!;
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"' || c === '`') {
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === '\\') i++;
    } else if (c === text[open]) depth++;
    else if (c === close && --depth === 0) return i + 1;
  }
  return text.length;
}

/** The method names called along the chain that starts at `from` (`.where(…).equals(…).modify(…)`). */
function chainMethods(text: string, from: number): string[] {
  const methods: string[] = [];
  let i = from;
  for (;;) {
    while (/\s/.test(text[i] ?? '')) i++;
    if (text[i] === '?' && text[i + 1] === '.') i++;
    if (text[i] !== '.') return methods;
    i++;
    while (/\s/.test(text[i] ?? '')) i++;
    const name = /^[A-Za-z_$][\w$]*/.exec(text.slice(i, i + 64))?.[0];
    if (!name) return methods;
    i += name.length;
    while (/\s/.test(text[i] ?? '')) i++;
    if (text[i] === '<') i = skipBalanced(text, i);
    while (/\s/.test(text[i] ?? '')) i++;
    if (text[i] === '(') {
      methods.push(name);
      i = skipBalanced(text, i);
    }
  }
}

const lineAt = (text: string, index: number): number => text.slice(0, index).split('\n').length;

/** The violations of one source file (`file`: its path from the repository root, with '/'). */
export function scanSource(file: string, source: string, ctx: ScanContext): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  const add = (v: Violation): void => {
    const key = `${v.line} ${v.table} ${v.kind}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(v);
  };
  for (const table of ctx.namedOnlyByOwner) {
    if (isOwner(file, table, ctx.owners)) continue;
    for (const m of source.matchAll(new RegExp(`\\b${table}\\b`, 'g'))) add({ file, line: lineAt(source, m.index), table, kind: 'named' });
  }

  const code = stripComments(source);
  const tableNames = [...ctx.tables].join('|');
  /** Where a table is reached: [table, index just after the expression]. */
  const refs: Array<[string, number]> = [];
  // db.caseNotes, this.db.studies, this.deps.db.cacheSettings, deps.db.composeDrafts, …
  for (const m of code.matchAll(new RegExp(`\\b\\w*[dD][bB]\\s*\\??\\.\\s*(${tableNames})\\b(?!\\s*[:(])`, 'g'))) refs.push([m[1]!, m.index + m[0].length]);
  // tx.table('caseNotes'), tx.table<Row, string>(OUTBOX_TABLE), db.table(…)
  for (const m of code.matchAll(/\.\s*table\s*(<[^>()]*>)?\s*\(\s*(?:(['"`])(\w+)\2|([A-Za-z_$][\w$]*))\s*\)/g)) {
    const table = m[3] ?? ctx.tableConstants.get(m[4]!);
    if (table && ctx.tables.has(table)) refs.push([table, m.index + m[0].length]);
  }
  // const table = db.outboxJobs; … table.put(…)
  for (const [table, end] of [...refs]) {
    const before = code.slice(Math.max(0, end - 200), end);
    const alias = /(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^=]+)?=\s*[^;=]*$/.exec(before)?.[1];
    if (!alias || !/^\s*;/.test(code.slice(end))) continue;
    for (const m of code.matchAll(new RegExp(`(?<![\\w$.])${alias.replace(/\$/g, '\\$')}\\b`, 'g'))) if (m.index + m[0].length !== end) refs.push([table, m.index + m[0].length]);
  }

  for (const [table, end] of refs) {
    if (isOwner(file, table, ctx.owners)) continue;
    if (chainMethods(code, end).some((name) => WRITE_METHODS.has(name))) add({ file, line: lineAt(code, end), table, kind: 'write' });
  }
  return out.sort((a, b) => a.line - b.line);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

const posix = (path: string): string => relative('.', path).split(sep).join('/');

function repoContext(): { ctx: ScanContext; files: Array<{ file: string; source: string }> } {
  const files = sourceFiles('src').map((path) => ({ file: posix(path), source: readFileSync(path, 'utf8') }));
  const schema = files.find((f) => f.file === SCHEMA)!.source;
  const tables = new Set([...schema.matchAll(/^\s*(\w+)!: Table</gm)].map((m) => m[1]!));
  const tableConstants = new Map<string, string>();
  for (const { source } of files) {
    for (const m of source.matchAll(/export const (\w+)\s*=\s*['"](\w+)['"]/g)) if (tables.has(m[2]!)) tableConstants.set(m[1]!, m[2]!);
  }
  return { ctx: { tables, tableConstants, owners: TABLE_OWNERS, namedOnlyByOwner: NAMED_ONLY_BY_OWNER }, files };
}

describe('Dexie table owners', () => {
  const { ctx, files } = repoContext();

  it('declares one owner for every table of the schema, and no table that is gone', () => {
    expect(ctx.tables.size).toBeGreaterThan(10);
    expect([...ctx.tables].filter((t) => !TABLE_OWNERS[t])).toEqual([]);
    expect(Object.keys(TABLE_OWNERS).filter((t) => !ctx.tables.has(t))).toEqual([]);
    // Owners are files (or the outbox's folder) that exist.
    for (const owner of Object.values(TABLE_OWNERS).flat()) expect(files.some((f) => (owner.endsWith('/') ? f.file.startsWith(owner) : f.file === owner)), owner).toBe(true);
  });

  it('src/ writes each table only in its owner, and names outboxJobs only in outbox/ and the schema', () => {
    const found = files.flatMap(({ file, source }) => scanSource(file, source, ctx));
    const unexpected = found.filter((v) => !PENDING.some((p) => isPending(v, p))).map((v) => `${v.file}:${v.line} ${v.table} ${v.kind}`);
    expect(unexpected).toEqual([]);
    // A pending entry that no longer matches is stale: the fix went in, delete its line.
    expect(PENDING.filter((p) => !found.some((v) => isPending(v, p)))).toEqual([]);
  });

  describe('the scan (planted sources)', () => {
    const scan = (file: string, source: string): string[] => scanSource(file, source, ctx).map((v) => `${v.line} ${v.table} ${v.kind}`);

    it('finds direct writes, multi-line chains, aliases and tx.table() by name or constant', () => {
      const planted = [
        "import { db } from './x';", // 1
        'await db.caseNotes.put(row);', // 2
        'await this.deps.db.studies', // 3
        "  .where('studyInstanceUID')", // 4
        '  .equals(uid)', // 5
        '  .modify((s) => { s.pinned = true; });', // 6
        'const t = db.cacheSettings;', // 7
        'await t.clear();', // 8
        'await tx.table<CaseNoteRecord, string>(CASE_NOTES_TABLE).add(row);', // 9
        "await tx.table('reports').delete(id);", // 10
        'await deps.db?.annotations.bulkDelete(ids);', // 11
      ].join('\n');
      expect(scan('src/renderer/elsewhere/planted.ts', planted)).toEqual([
        '2 caseNotes write',
        '3 studies write',
        '8 cacheSettings write',
        '9 caseNotes write',
        '10 reports write',
        '11 annotations write',
      ]);
    });

    it('flags outboxJobs named anywhere outside outbox/, a read included, and in a comment', () => {
      const planted = ['// reads db.outboxJobs', 'const job = await db.outboxJobs.get(id);'].join('\n');
      expect(scan('src/renderer/reports/planted.ts', planted)).toEqual(['1 outboxJobs named', '2 outboxJobs named']);
      expect(scan('src/renderer/outbox/planted.ts', `${planted}\nawait db.outboxJobs.put(job);`)).toEqual([]);
    });

    it('lets reads, transaction scopes, comments and the owner itself be', () => {
      const reads = [
        'const s = await db.studies.get(uid);',
        "const rows = await db.caseNotes.where('studyInstanceUID').equals(uid).toArray();",
        "await db.transaction('rw', [db.caseNotes, db.studies], async () => {});",
        '// db.caseNotes.put(row) was here',
        'const marks = new Set<string>(); marks.delete(uid); state.studies.add(x);',
      ].join('\n');
      expect(scan('src/renderer/elsewhere/planted.ts', reads)).toEqual([]);
      expect(scan('src/renderer/case-thread/case-note-rows.ts', 'await db.caseNotes.put(row);')).toEqual([]);
      expect(scan(SCHEMA, 'await tx.table("studies").toCollection().modify(() => {});')).toEqual([]);
    });
  });
});
