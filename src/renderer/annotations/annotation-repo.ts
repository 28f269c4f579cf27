import type { AnnotationRecord, TeleradDB } from '../cache/telerad-db';

/** Where measurements are kept: the local IndexedDB, so they survive reloads and work offline. */
export interface AnnotationRepo {
  listForStudy(studyInstanceUID: string): Promise<AnnotationRecord[]>;
  put(record: AnnotationRecord): Promise<void>;
  remove(id: string): Promise<void>;
}

export function createAnnotationRepo(db: TeleradDB): AnnotationRepo {
  return {
    listForStudy: (uid) => db.annotations.where('studyInstanceUID').equals(uid).toArray(),
    put: async (record) => {
      await db.annotations.put(record);
    },
    remove: (id) => db.annotations.delete(id),
  };
}
