// @vitest-environment node
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import type { DicomJsonDataset } from '../../../src/shared/dicom/dicomweb-json';
import { createLogger, memorySink } from '../../../src/shared/log';
import { CacheIntegrityError, StudyCache } from '../../../src/renderer/cache/study-cache';
import type { StudyUpsert } from '../../../src/renderer/cache/study-cache';
import { StudyRetriever } from '../../../src/renderer/cache/study-retriever';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { DicomWebApi } from '../../../src/renderer/dicomweb/dicomweb-api';
import { createViewerStore, integrityNote } from '../../../src/renderer/viewer/viewer-store';
import type { ViewerStore } from '../../../src/renderer/viewer/viewer-store';
import type { ImagingRuntime } from '../../../src/renderer/viewer/cornerstone-setup';
import { TEST_SITE, instanceList, studyFields, tinyPart10 } from '../../support/tiny-dicom';
import { flipSealedByte, testRowSealer } from '../../support/test-sealer';

const STUDY = '1.2.826.0.1.3680043.2.1125.9';
const SERIES = `${STUDY}.1`;
const SITE: SiteSummary = TEST_SITE;
const STUDY_FIELDS: StudyUpsert = studyFields(STUDY);

function part10(sop: string, instanceNumber: number, z: number): ArrayBuffer {
  return tinyPart10({ sop, series: SERIES, instanceNumber, z });
}

const sops = [1, 2, 3].map((n) => `${SERIES}.${n}`);
const qido: DicomJsonDataset[] = instanceList(SERIES, sops);

function fakeApi(): DicomWebApi & { retrieved: string[] } {
  const api = {
    retrieved: [] as string[],
    searchForStudies: async () => [],
    searchForInstances: async () => qido,
    retrieveInstance: async (uids: { sopInstanceUID: string }) => {
      api.retrieved.push(uids.sopInstanceUID);
      const k = sops.indexOf(uids.sopInstanceUID);
      return part10(uids.sopInstanceUID, k + 1, -5 * k);
    },
  };
  return api as unknown as DicomWebApi & { retrieved: string[] };
}

let dbs: TeleradDB[] = [];
let n = 0;
function setup(api: DicomWebApi): { db: TeleradDB; cache: StudyCache; retriever: StudyRetriever } {
  const db = new TeleradDB(`telerad-integrity-${process.pid}-${n++}`, { sealer: testRowSealer() });
  dbs.push(db);
  const cache = new StudyCache(db);
  const retriever = new StudyRetriever({ cache, dicomweb: () => api, log: createLogger('t', memorySink()), concurrency: 2 });
  return { db, cache, retriever };
}

const tamper = (db: TeleradDB, sop: string): Promise<void> => flipSealedByte(db.name, 'instanceBytes', sop);

afterEach(async () => {
  for (const db of dbs) {
    db.close();
    await db.delete();
  }
  dbs = [];
});

describe('integrity of cached instances', () => {
  it('drops a tampered instance on read, un-completes its study, and a re-fetch restores exactly that one', async () => {
    const api = fakeApi();
    const { db, cache, retriever } = setup(api);
    expect((await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS })).complete).toBe(true);
    await tamper(db, sops[1]!);

    await expect(cache.readInstanceBytes(sops[1]!)).rejects.toBeInstanceOf(CacheIntegrityError);
    expect(await cache.hasInstance(sops[1]!)).toBe(false);
    const afterDrop = await cache.getStudy(STUDY);
    expect(afterDrop?.complete).toBe(false);
    // The stored-bytes sum the cache budget works from no longer counts the dropped file.
    const sizes = (await cache.getStudyInstances(STUDY)).reduce((n, i) => n + i.size, 0);
    expect(afterDrop?.storedBytes).toBe(sizes);
    expect(await cache.readInstanceBytes(sops[0]!)).toBeInstanceOf(ArrayBuffer);

    api.retrieved.length = 0;
    expect(await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS })).toEqual({ source: 'network', complete: true });
    expect(api.retrieved).toEqual([sops[1]]);
    expect(new Uint8Array((await cache.readInstanceBytes(sops[1]!))!)).toEqual(new Uint8Array(part10(sops[1]!, 2, -5)));
  });

  it('does not mark a study complete while an instance lacks its bytes', async () => {
    const api = fakeApi();
    const { db, cache, retriever } = setup(api);
    await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS });
    await db.instanceBytes.delete(sops[2]!);
    expect(await cache.markComplete(STUDY)).toBe(false);
    expect((await cache.getStudy(STUDY))?.complete).toBe(false);
  });
});

/** Cornerstone stand-in: "decodes" whatever file it is given and remembers what was painted. */
function fakeImaging(): ImagingRuntime & { painted: string[] } {
  let files = 0;
  const painted: string[] = [];
  const viewport = { voi: { windowWidth: 400, windowCenter: 40 } };
  const cornerstone = {
    enable: () => undefined,
    disable: () => undefined,
    loadAndCacheImage: async (id: string) => ({ imageId: id, rows: 1, columns: 1, getPixelData: () => [0] }),
    displayImage: (_el: unknown, image: { imageId: string }) => painted.push(image.imageId),
    reset: () => undefined,
    getViewport: () => viewport,
    setViewport: () => undefined,
    resize: () => undefined,
    getImage: () => undefined,
    getDefaultViewportForImage: () => viewport,
  };
  return {
    painted,
    cornerstone: cornerstone as unknown as ImagingRuntime['cornerstone'],
    addFile: () => `dicomfile:${files++}`,
    releaseAll: () => undefined,
  };
}

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 3000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('the viewer and a corrupt cached image', () => {
  async function openTampered(online: boolean | (() => boolean)): Promise<{ viewer: ViewerStore; api: ReturnType<typeof fakeApi>; cache: StudyCache }> {
    const api = fakeApi();
    const { db, cache, retriever } = setup(api);
    await retriever.ensureStudy({ site: SITE, study: STUDY_FIELDS });
    // The middle slice is shown first: corrupt that one.
    await tamper(db, sops[1]!);
    api.retrieved.length = 0;
    const viewer = createViewerStore({ cache, retriever, imaging: fakeImaging(), log: createLogger('v', memorySink()), isOnline: typeof online === 'function' ? online : () => online });
    viewer.attachViewport(0, {} as HTMLElement);
    viewer.open({ study: STUDY_FIELDS, site: SITE });
    return { viewer, api, cache };
  }

  it('says the image was removed and fetches it again while online, then shows it', async () => {
    const { viewer, api, cache } = await openTampered(true);
    await until(() => viewer.getState().message?.startsWith('1 image failed its integrity check and was removed') === true, 'the note');
    await until(async () => (await cache.getStudy(STUDY))?.complete === true, 'the study complete again');
    expect(api.retrieved).toEqual([sops[1]]);
    await until(() => viewer.viewports[0]!.getState().displayedIndex === 1 && viewer.getState().message === undefined, 'the re-fetched slice shown');
  });

  it('offline, keeps the note and shows the rest of the study', async () => {
    const { viewer, api } = await openTampered(false);
    await until(() => viewer.getState().message !== undefined, 'the note');
    expect(viewer.getState().message).toBe(integrityNote(1, false));
    expect(viewer.getState().message).toBe('1 image failed its integrity check and was removed; it will be fetched again when the site is reachable');
    viewer.viewports[0]!.show(0);
    await until(() => viewer.viewports[0]!.getState().displayedIndex === 0, 'another slice shown');
    expect(viewer.getState().message).toBe(integrityNote(1, false));
    expect(api.retrieved).toEqual([]);
  });

  it('fetches the dropped image once the network is back', async () => {
    let online = false;
    const { viewer, api, cache } = await openTampered(() => online);
    await until(() => viewer.getState().message === integrityNote(1, false), 'the offline note');
    online = true;
    viewer.refetchDropped();
    await until(async () => (await cache.getStudy(STUDY))?.complete === true, 'the study complete again');
    expect(api.retrieved).toEqual([sops[1]]);
    await until(() => viewer.getState().message === undefined, 'the note gone');
  });
});
