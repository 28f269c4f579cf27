// IHE PDI media: the DICOMDIR's directory records and the files they reference.
// In shared (pure, no DOM, no Node) because the app's import and the `npm run qc` command both read DICOMDIRs.
import type { DataSet } from 'dicom-parser';

export interface DicomdirReference {
  recordType: string;
  /** Referenced File ID components joined with '/', as written (e.g. `IMAGES/CT/IM3`). */
  fileId: string;
  /** Resolved against the DICOMDIR's folder: the path the entry should have. */
  path: string;
  sopInstanceUID: string;
}

export interface DicomdirContents {
  records: Record<string, number>;
  references: DicomdirReference[];
}

/** The folder part of a '/'-separated path ('' at the root). */
export function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * The key files are matched by: ISO 9660 media are upper case and may carry
 * a ";1" version and a trailing dot per component, and a CD mounted on Linux
 * or copied to USB often turns them lower case — so compare case-insensitively
 * without those.
 */
export function mediaKey(path: string): string {
  return path
    .split('/')
    .filter((c) => c !== '' && c !== '.')
    .map((c) => c.replace(/;\d+$/, '').replace(/\.$/, '').toLowerCase())
    .join('/');
}

export function isDicomdirPath(path: string): boolean {
  return mediaKey(basename(path)) === 'dicomdir';
}

/** Reads the Directory Record Sequence (0004,1220) of a parsed DICOMDIR at `path`. */
export function readDicomdir(ds: DataSet, path: string): DicomdirContents {
  const records: Record<string, number> = {};
  const references: DicomdirReference[] = [];
  const base = dirname(path);
  for (const item of ds.elements.x00041220?.items ?? []) {
    const rec = item.dataSet;
    if (!rec) continue;
    const recordType = (rec.string('x00041430') ?? '').trim() || 'UNKNOWN';
    records[recordType] = (records[recordType] ?? 0) + 1;
    const raw = rec.string('x00041500');
    if (!raw) continue;
    const components = raw.split('\\').map((c) => c.trim()).filter(Boolean);
    const fileId = components.join('/');
    references.push({
      recordType,
      fileId,
      path: base ? `${base}/${fileId}` : fileId,
      sopInstanceUID: (rec.string('x00041511') ?? '').trim(),
    });
  }
  return { records, references };
}
