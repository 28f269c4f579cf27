import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = join(__dirname, '..', '..', '..');

/**
 * The `electronFuses:` block of electron-builder.yml as name → boolean. A
 * reader for this one flat block (no YAML library is a dependency of the
 * project): the key at column 0, then indented `name: true|false` lines.
 */
function readFuses(yamlText: string): Record<string, boolean> {
  const lines = yamlText.split(/\r?\n/);
  const start = lines.findIndex((line) => /^electronFuses:\s*$/.test(line));
  if (start < 0) throw new Error('electron-builder.yml has no electronFuses block');
  const fuses: Record<string, boolean> = {};
  for (const line of lines.slice(start + 1)) {
    if (/^\s*(#.*)?$/.test(line)) continue;
    const entry = /^\s+([A-Za-z]+):\s*(true|false)\s*(#.*)?$/.exec(line);
    if (!entry) break;
    fuses[entry[1]!] = entry[2] === 'true';
  }
  return fuses;
}

/** The fuse names electron-builder 26 accepts (its FuseOptionsV1 schema). */
function schemaFuseNames(): string[] {
  const scheme = JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'app-builder-lib', 'scheme.json'), 'utf8')) as {
    definitions: Record<string, { properties?: Record<string, unknown> }>;
  };
  return Object.keys(scheme.definitions['FuseOptionsV1']?.properties ?? {});
}

describe('Electron fuses flipped at packaging (electron-builder.yml)', () => {
  const fuses = readFuses(readFileSync(join(repoRoot, 'electron-builder.yml'), 'utf8'));

  it('turn off running as Node, NODE_OPTIONS and the --inspect switches', () => {
    expect(fuses.runAsNode).toBe(false);
    expect(fuses.enableNodeOptionsEnvironmentVariable).toBe(false);
    expect(fuses.enableNodeCliInspectArguments).toBe(false);
  });

  it('load the app only from an asar whose integrity is checked', () => {
    expect(fuses.enableEmbeddedAsarIntegrityValidation).toBe(true);
    expect(fuses.onlyLoadAppFromAsar).toBe(true);
  });

  it('encrypt cookies and give file:// no extra privileges', () => {
    expect(fuses.enableCookieEncryption).toBe(true);
    expect(fuses.grantFileProtocolExtraPrivileges).toBe(false);
  });

  it('name only fuses that electron-builder knows, so none is silently ignored', () => {
    const known = schemaFuseNames();
    expect(known.length).toBeGreaterThan(0);
    expect(Object.keys(fuses).filter((name) => !known.includes(name))).toEqual([]);
  });
});
