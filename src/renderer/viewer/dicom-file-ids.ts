/** The part of cornerstone-wado-image-loader's `wadouri.fileManager` used here. */
export interface DicomFileManager {
  /** Appends `file` and names it `dicomfile:<its index>`. */
  add(file: Blob): string;
  get(index: number): Blob | undefined;
  remove(index: number): void;
}

export interface DicomFileIds {
  add(file: Blob): string;
  /** Forgets `imageId` if it still names `file`. */
  remove(imageId: string, file: Blob): void;
  /** Forgets every file added (a study closed). */
  removeAll(): void;
}

const PREFIX = 'dicomfile:';

/**
 * Image ids for files handed to Cornerstone, never given twice. The file
 * manager names a file by its index in one array and its `purge()` empties
 * that array: the next study's files were then named `dicomfile:0…` again,
 * and a decode of the last study still on its way when it closed was cached
 * under a name a new file now had — slice 1 of the new study painted with
 * the pixels of another (found by the progressive-reading e2e: a study opened
 * right after another was left mid-read-ahead). So files are removed one by
 * one and the array only grows (a slot is a pointer; a day of reading is a
 * few thousand).
 */
export function createDicomFileIds(fileManager: DicomFileManager): DicomFileIds {
  const added = new Set<number>();
  return {
    add(file) {
      const imageId = fileManager.add(file);
      added.add(Number(imageId.slice(PREFIX.length)));
      return imageId;
    },
    remove(imageId, file) {
      if (!imageId.startsWith(PREFIX)) return;
      const index = Number(imageId.slice(PREFIX.length));
      if (fileManager.get(index) !== file) return;
      fileManager.remove(index);
      added.delete(index);
    },
    removeAll() {
      for (const index of added) fileManager.remove(index);
      added.clear();
    },
  };
}
