// @vitest-environment node
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import type { DicomJsonDataset } from '../../../src/shared/dicom/dicomweb-json';
import { createLogger, memorySink } from '../../../src/shared/log';
import { CacheBudget } from '../../../src/renderer/cache/cache-budget';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { StudyRetriever } from '../../../src/renderer/cache/study-retriever';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { DicomWebApi } from '../../../src/renderer/dicomweb/dicomweb-api';
import { createTransfersStore } from '../../../src/renderer/transfers/transfers-store';

// The quota path seen from where the user sees it: the transfer row and the error the viewer shows.

const STUDY = '1.2.826.0.1.3680043.2.1125.77';
const SERIES = `${STUDY}.1`;
const SITE: SiteSummary = { id: 'a', name: 'Hospital A', url: 'http://pacs.invalid', authType: 'none', gatewayPath: '/sites/a/dicom-web' };

/** A minimal explicit-VR little-endian Part 10 file with `pixels` bytes of pixel data. */
function part10(sop: string, instanceNumber: number, pixels: number): ArrayBuffer {
  const chunks: number[] = [...new Array<number>(128).fill(0), ...'DICM'.split('').map((c) => c.charCodeAt(0))];
  const el = (group: number, element: number, vr: string, value: string): void => {
    const v = value.length % 2 ? value + (vr === 'UI' ? '\0' : ' ') : value;
    chunks.push(group & 0xff, group >> 8, element & 0xff, element >> 8, vr.charCodeAt(0), vr.charCodeAt(1), v.length & 0xff, v.length >> 8);
    for (const c of v) chunks.push(c.charCodeAt(0));
  };
  el(0x0002, 0x0010, 'UI', '1.2.840.10008.1.2.1');
  el(0x0008, 0x0018, 'UI', sop);
  el(0x0008, 0x0060, 'CS', 'CT');
  el(0x0020, 0x000e, 'UI', SERIES);
  el(0x0020, 0x0013, 'IS', String(instanceNumber));
  chunks.push(0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57, 0, 0, pixels & 0xff, pixels >> 8, 0, 0, ...new Array<number>(pixels).fill(7));
  return new Uint8Array(chunks).buffer;
}

const sops = [1, 2, 3, 4].map((n) => `${SERIES}.${n}`);
const qido: DicomJsonDataset[] = sops.map((sop, k) => ({
  '0020000E': { vr: 'UI', Value: [SERIES] },
  '00080018': { vr: 'UI', Value: [sop] },
  '00200013': { vr: 'IS', Value: [k + 1] },
}));

function fakeApi(): DicomWebApi {
  return {
    searchForStudies: async () => [],
    searchForInstances: async () => qido,
    retrieveInstance: async (uids: { sopInstanceUID: string }) => part10(uids.sopInstanceUID, sops.indexOf(uids.sopInstanceUID) + 1, 2048),
  } as unknown as DicomWebApi;
}

let dbs: TeleradDB[] = [];
afterEach(async () => {
  for (const db of dbs) {
    db.close();
    await db.delete();
  }
  dbs = [];
});

describe('a retrieval into a full cache', () => {
  it('fails with the storage-full message on the transfer row and in the error the viewer shows', async () => {
    const db = new TeleradDB(`telerad-budget-retrieval-${process.pid}-${Date.now()}`);
    dbs.push(db);
    const log = createLogger('t', memorySink());
    const budget = new CacheBudget({ db, log, isOpen: () => false, hasUnsentWork: () => false });
    // Room for about one instance of 2 KB, and nothing else in the cache to evict.
    await budget.setBudget(3 * 1024);
    const cache = new StudyCache(db, Date.now, budget);
    const transfers = createTransfersStore();
    const retriever = new StudyRetriever({ cache, dicomweb: () => fakeApi(), log, concurrency: 1, earlyFirstImage: false, transfers, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });

    const result = await retriever
      .ensureStudy({
        site: SITE,
        study: { studyInstanceUID: STUDY, siteId: 'a', patientName: 'FULL, CACHE', patientId: 'P9', studyDate: '20261120', modalities: ['CT'], description: 'CT', numInstances: 4 },
      })
      .then(
        (r) => ({ ok: r }),
        (err: unknown) => ({ err }),
      );
    const row = transfers.getState().transfers[0];
    const shown = 'err' in result ? (result.err as Error).message : (result.ok.failure?.message ?? '');
    expect(row?.state).toBe('failed');
    expect(row?.lastError).toContain('Local storage is full: 0.0 MB used of 0.0 MB budget; unpin or evict cases in Storage');
    expect(shown).toContain('Local storage is full');
    expect((await db.studies.get(STUDY))?.complete).toBe(false);
    // What fitted stays (one instance); nothing half-stored.
    expect(await db.instances.where('studyInstanceUID').equals(STUDY).count()).toBe(1);
    expect(await db.instanceBytes.count()).toBe(1);
  });
});
