import type { StudyCache } from '../cache/study-cache';
import type { TeleradDB } from '../cache/telerad-db';

/**
 * Exact stored bytes per cached study, from the instance records (metadata:
 * no pixel bytes are read). Asked only for complete studies, whose size is
 * then final.
 */
export function createCachedStudyBytes(
  cache: Pick<StudyCache, 'getStudyInstances'>,
): (studyUIDs: readonly string[]) => Promise<ReadonlyMap<string, number>> {
  return async (studyUIDs) => {
    const sizes = await Promise.all(
      studyUIDs.map(async (uid) => [uid, (await cache.getStudyInstances(uid)).reduce((sum, i) => sum + i.size, 0)] as const),
    );
    return new Map(sizes);
  };
}

/**
 * Instances stored per cached study, for the share a partly cached study
 * shows ("48 % offline"). Metadata keys only: no instance record is loaded.
 */
export function createStoredInstanceCounts(
  db: Pick<TeleradDB, 'instances'>,
): (studyUIDs: readonly string[]) => Promise<ReadonlyMap<string, number>> {
  return async (studyUIDs) => {
    const counts = await Promise.all(studyUIDs.map(async (uid) => [uid, await db.instances.where('studyInstanceUID').equals(uid).count()] as const));
    return new Map(counts);
  };
}
