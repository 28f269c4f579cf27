import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../../src/shared/ipc/envelope';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import { startUnlockedWebServices } from '../../support/contract';

// The previews probe (`rendered`) came after sites.json files were written
// with the capabilities of their day: those files must still load, and their
// sites still be listed, with the old findings as they were.

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-caps-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('capabilities stored before the previews probe existed', () => {
  it('load from sites.json and are listed without a previews answer', async () => {
    const before = { qido: 'yes', wado: 'yes', stow: 'no', jpegLsLossless: 'yes', latencyMs: 42.5, testedAt: '2024-05-01T10:00:00.000Z' };
    writeFileSync(
      join(dir, 'sites.json'),
      JSON.stringify({ version: 1, sites: [{ id: 'old-site', name: 'Old site', url: 'https://pacs.old.example/dicom-web', authType: 'none', capabilities: before }] }),
    );
    const services = await startUnlockedWebServices(dir);
    try {
      const env = (await services.dispatch('sites.list', {})) as Envelope<SiteSummary[]>;
      if (!env.ok) throw new Error(`sites.list: ${env.error.code} ${env.error.message}`);
      expect(env.value).toHaveLength(1);
      expect(env.value[0]?.capabilities).toEqual(before);
      expect(env.value[0]?.capabilities?.rendered).toBeUndefined();
    } finally {
      await services.sites.close();
    }
  });
});
