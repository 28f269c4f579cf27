import { describe, expect, it } from 'vitest';
import { createDicomFileIds } from '../../../src/renderer/viewer/dicom-file-ids';
import type { DicomFileManager } from '../../../src/renderer/viewer/dicom-file-ids';

/** The same arithmetic as cornerstone-wado-image-loader's wadouri.fileManager (push; remove leaves a hole; purge empties). */
function wadouriFileManager(): DicomFileManager & { purge(): void } {
  let files: Array<Blob | undefined> = [];
  return {
    add: (file) => `dicomfile:${files.push(file) - 1}`,
    get: (index) => files[index],
    remove: (index) => {
      files[index] = undefined;
    },
    purge: () => {
      files = [];
    },
  };
}

describe('image ids of DICOM files handed to Cornerstone', () => {
  it('never names a file of the next study as one of the study just closed', () => {
    const fm = wadouriFileManager();
    const ids = createDicomFileIds(fm);
    const first = [new Blob(['a0']), new Blob(['a1']), new Blob(['a2'])].map((f) => ids.add(f));
    ids.removeAll();
    const next = [new Blob(['b0']), new Blob(['b1'])].map((f) => ids.add(f));
    // A decode of `first[0]` finishing now is cached under a name no file of the next study has.
    for (const id of next) expect(first).not.toContain(id);
  });

  it('releases the closed study’s files and keeps those added since', () => {
    const fm = wadouriFileManager();
    const ids = createDicomFileIds(fm);
    const old = new Blob(['old']);
    const oldId = ids.add(old);
    ids.removeAll();
    const kept = new Blob(['kept']);
    const keptId = ids.add(kept);
    expect(fm.get(Number(oldId.slice('dicomfile:'.length)))).toBeUndefined();
    expect(fm.get(Number(keptId.slice('dicomfile:'.length)))).toBe(kept);
  });

  it('removes one file only if its id still names that file', () => {
    const fm = wadouriFileManager();
    const ids = createDicomFileIds(fm);
    const a = new Blob(['a']);
    const b = new Blob(['b']);
    const idA = ids.add(a);
    ids.remove(idA, b);
    expect(fm.get(0)).toBe(a);
    ids.remove(idA, a);
    expect(fm.get(0)).toBeUndefined();
  });
});
