import type { AnnotationRecord, KeyImageRecord, TeleradDB } from '../../cache/telerad-db';

/**
 * Where annotations and key images are kept: the local IndexedDB, so they
 * survive reloads and work offline. The reports read the same two tables.
 */
export interface AnnotationRepo {
  listForStudy(studyInstanceUID: string): Promise<AnnotationRecord[]>;
  put(record: AnnotationRecord): Promise<void>;
  remove(id: string): Promise<void>;
  listKeyImages(studyInstanceUID: string): Promise<KeyImageRecord[]>;
  putKeyImage(record: KeyImageRecord): Promise<void>;
  removeKeyImage(sopInstanceUID: string): Promise<void>;
  /** The reader's name from the user profile, when one is set. */
  authorName(): Promise<string | undefined>;
}

export function createAnnotationRepo(db: TeleradDB): AnnotationRepo {
  return {
    listForStudy: (uid) => db.annotations.where('studyInstanceUID').equals(uid).toArray(),
    put: async (record) => {
      await db.annotations.put(record);
    },
    remove: (id) => db.annotations.delete(id),
    listKeyImages: (uid) => db.keyImages.where('studyInstanceUID').equals(uid).toArray(),
    putKeyImage: async (record) => {
      await db.keyImages.put(record);
    },
    removeKeyImage: (sop) => db.keyImages.delete(sop),
    authorName: async () => {
      const name = (await db.userProfile.get('me'))?.name.trim();
      return name ? name : undefined;
    },
  };
}
