// @vitest-environment node
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import type { DicomJsonDataset } from '../../../src/shared/dicom/dicomweb-json';
import { createLogger, memorySink } from '../../../src/shared/log';
import { CacheBudget } from '../../../src/renderer/cache/cache-budget';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { StudyRetriever } from '../../../src/renderer/cache/study-retriever';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { DicomWebApi } from '../../../src/renderer/dicomweb/dicomweb-api';
import { createTransfersStore } from '../../../src/renderer/cache/transfers-store';
import { TEST_SITE, instanceList, tinyPart10 } from '../../support/tiny-dicom';
import { testRowSealer } from '../../support/test-sealer';
import { deleteDbsAfterEach } from '../../support/test-dbs';

// The quota path seen from where the user sees it: the transfer row and the error the viewer shows.

const STUDY = '1.2.826.0.1.3680043.2.1125.77';
const SERIES = `${STUDY}.1`;
const SITE: SiteSummary = TEST_SITE;

function part10(sop: string, instanceNumber: number, pixels: number): ArrayBuffer {
  return tinyPart10({ sop, series: SERIES, instanceNumber, pixelBytes: pixels });
}

const sops = [1, 2, 3, 4].map((n) => `${SERIES}.${n}`);
const qido: DicomJsonDataset[] = instanceList(SERIES, sops);

function fakeApi(): DicomWebApi {
  return {
    searchForStudies: async () => [],
    searchForInstances: async () => qido,
    retrieveInstance: async (uids: { sopInstanceUID: string }) => part10(uids.sopInstanceUID, sops.indexOf(uids.sopInstanceUID) + 1, 2048),
  } as unknown as DicomWebApi;
}

const dbs = deleteDbsAfterEach();

describe('a retrieval into a full cache', () => {
  it('fails with the storage-full message on the transfer row and in the error the viewer shows', async () => {
    const db = new TeleradDB(`telerad-budget-retrieval-${process.pid}-${Date.now()}`, { sealer: testRowSealer() });
    dbs.push(db);
    const log = createLogger('t', memorySink());
    const budget = new CacheBudget({ db, log, isOpen: () => false, hasUnsentWork: () => false });
    // Room for about one instance of 2 KB, and nothing else in the cache to evict.
    await budget.setBudget(3 * 1024);
    const cache = new StudyCache(db, Date.now, budget);
    const transfers = createTransfersStore();
    const retriever = new StudyRetriever({ cache, dicomweb: () => fakeApi(), log, concurrency: 1, transfers, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });

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
