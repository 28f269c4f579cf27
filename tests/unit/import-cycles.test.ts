import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCycles, importGraph } from '../support/import-graph';

// A cycle, even of types only, means two modules cannot be read (or split) one
// without the other; src/ has none (issue 16 removed the last three).

describe('import cycles', () => {
  it('src/ has none, type-only imports included', () => {
    const root = resolve('src');
    expect(importCycles(importGraph(root), root)).toEqual([]);
  });

  it('the folders of src/renderer depend on each other without a cycle', () => {
    // Feature to feature, the public entries must not go round either: two features that need
    // each other are one feature, or share something that belongs in lib/.
    const root = resolve('src/renderer');
    const folderOf = (file: string): string => relative(root, file).split(sep)[0]!;
    const folders = new Map<string, string[]>();
    for (const [file, deps] of importGraph(root)) {
      const from = folderOf(file);
      if (from === 'app' || from === 'main.tsx') continue; // the composition root depends on everything
      const to = folders.get(from) ?? [];
      for (const d of deps) if (folderOf(d) !== from && !to.includes(folderOf(d))) to.push(folderOf(d));
      folders.set(from, to);
    }
    const asPaths = new Map([...folders].map(([f, ds]) => [join(root, f), ds.map((d) => join(root, d))]));
    expect(importCycles(asPaths, root)).toEqual([]);
  });

  it('finds a planted cycle through a type-only import and a re-export', () => {
    const dir = mkdtempSync(join(tmpdir(), 'telerad-cycles-'));
    try {
      mkdirSync(join(dir, 'a'));
      writeFileSync(join(dir, 'a', 'one.ts'), "import type { Two } from './two';\nexport type One = Two | 1;\n");
      writeFileSync(join(dir, 'a', 'two.ts'), "export { three } from '../three';\nexport type Two = 2;\n");
      writeFileSync(join(dir, 'three.ts'), "import type { One } from './a/one';\nexport const three: One = 1;\n");
      writeFileSync(join(dir, 'alone.ts'), "import { three } from './three';\nexport const x = three;\n");
      expect(importCycles(importGraph(dir), dir)).toEqual([['a/one.ts', 'a/two.ts', 'three.ts']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
