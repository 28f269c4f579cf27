import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// docs/ARCHITECTURE.md is the map a newcomer reads first; a folder added to
// the renderer without a line there makes the map wrong without anyone noticing.

describe('the architecture map', () => {
  it('lists every folder of src/renderer in its folder table', () => {
    const map = readFileSync('docs/ARCHITECTURE.md', 'utf8');
    const table = map.slice(map.indexOf('Folders of `src/renderer`'));
    const listed = new Set([...table.matchAll(/^\| `([a-z0-9-]+)\/` \|/gm)].map((m) => m[1]));
    const folders = readdirSync('src/renderer').filter((n) => statSync(join('src/renderer', n)).isDirectory());
    expect(folders.filter((f) => !listed.has(f))).toEqual([]);
    // And nothing listed that is gone.
    expect([...listed].filter((f) => !folders.includes(f!))).toEqual([]);
  });

  it('names every top-level source folder in the layers table', () => {
    const map = readFileSync('docs/ARCHITECTURE.md', 'utf8');
    for (const top of readdirSync('src').filter((n) => statSync(join('src', n)).isDirectory())) expect(map).toContain(`| \`src/${top}\` |`);
  });
});
