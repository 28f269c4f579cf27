import type { StudyCache } from '../cache/study-cache';

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
