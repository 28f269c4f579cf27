import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startWebHost } from '../../../src/main/hosts/web/web-host';

// Issue 18: an existing --data-dir kept mode 0755, so every local user could list and read it.
let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('the data folder', () => {
  it.skipIf(process.platform === 'win32')('is forced to 0700 when it already existed with 0755', async () => {
    root = mkdtempSync(join(tmpdir(), 'telerad-data-mode-'));
    const dataDir = join(root, 'data');
    const rendererDir = join(root, 'renderer');
    mkdirSync(rendererDir);
    writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Telerad</title>');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    const host = await startWebHost({ dataDir, rendererDir, version: 'test' });
    try {
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    } finally {
      await host.close();
    }
  });
});
