// What the import of a referral case reads and returns. Files are modelled the
// way the browser gives them (a directory from `<input webkitdirectory>`: File
// objects with `webkitRelativePath`; a zip; a CD or USB root with a DICOMDIR),
// reduced to what the import needs, so node tests feed real files the same way.

export interface ImportEntry {
  /** Relative path with '/' separators, e.g. `CD/IMAGES/IM3` (File.webkitRelativePath, a zip entry name). */
  path: string;
  size: number;
  read(): Promise<ArrayBuffer>;
}

export interface PatientIdentity {
  /** DICOM PN as written, e.g. `MOKOENA^THANDI`; '' when absent. */
  name: string;
  id: string;
  /** YYYYMMDD or ''. */
  birthDate: string;
  sex: string;
}

export interface ImportedInstance {
  path: string;
  size: number;
  bytes: ArrayBuffer;
  sopInstanceUID: string;
  sopClassUID: string;
  transferSyntaxUID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  modality: string;
  instanceNumber?: number;
  patient: PatientIdentity;
}

export interface ImportedSeries {
  seriesInstanceUID: string;
  modality: string;
  seriesNumber?: number;
  description: string;
  /** Sorted by Instance Number, then path. */
  instances: ImportedInstance[];
}

export interface ImportedStudy {
  studyInstanceUID: string;
  /** The identity of the study's first instance; conflicts are listed by identityConflicts(). */
  patient: PatientIdentity;
  studyDate: string;
  description: string;
  accessionNumber: string;
  series: ImportedSeries[];
}

/** `refused`: a zip entry not unpacked (unsafe name, zip bomb limits). */
export type SkipKind = 'not-dicom' | 'truncated' | 'malformed' | 'missing' | 'duplicate' | 'unreadable' | 'refused';

export interface SkippedFile {
  path: string;
  kind: SkipKind;
  /** One line for the user, e.g. "truncated: Pixel Data declares 8192 bytes, 4000 present". */
  reason: string;
}

export interface DicomdirSummary {
  path: string;
  /** Directory records by type (PATIENT, STUDY, SERIES, IMAGE, …). */
  records: Record<string, number>;
  /** Files the DICOMDIR references (leaf records with a Referenced File ID). */
  referenced: number;
  missing: number;
}

/** A file read for what it lists, not imported as an image (a DICOMDIR): information for the user, not a problem. */
export interface IndexFile {
  path: string;
  /** One line for the user: "DICOMDIR index, read for the file list". */
  note: string;
}

export interface ImportResult {
  studies: ImportedStudy[];
  /** Problems only: an index file read for its list is in `indexes`, not here. */
  skipped: SkippedFile[];
  dicomdirs: DicomdirSummary[];
  /** The DICOMDIRs read (by name or by content), one line each for the UI. */
  indexes: IndexFile[];
  /**
   * DICOM files that were imported although no DICOMDIR lists them (only when
   * a DICOMDIR is present): a CD burnt with extra files, a folder with loose
   * files next to a DICOMDIR. Imported, and listed so the UI can say so.
   */
  unreferenced: string[];
  /** Total instances imported. */
  instanceCount: number;
}
