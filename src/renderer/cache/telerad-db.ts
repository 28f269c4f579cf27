import Dexie from 'dexie';
import type { Table } from 'dexie';

/**
 * The whole IndexedDB schema of the workstation, in one place, so every
 * version and its migration can be read top to bottom. Metadata and pixel
 * bytes live in separate tables: a worklist or a stack's sort order reads
 * `studies` / `instances` and never pulls megabytes of pixels into memory.
 */

export interface StudyRecord {
  studyInstanceUID: string;
  /** The site the study was retrieved from; the viewer goes back there for missing instances. */
  siteId: string;
  patientName: string;
  patientId: string;
  /** DICOM DA, `YYYYMMDD`, as the site sent it. */
  studyDate: string;
  modalities: string[];
  description: string;
  /** Instances the site reported for the study at the last retrieval (or in the worklist before one). */
  numInstances: number;
  /** True once every one of `numInstances` instances is stored; the viewer then needs no network. */
  complete: boolean;
  /** ms since epoch; undefined until the study is opened in the viewer. */
  lastOpenedAt?: number;
  storedAt: number;
}

export interface SeriesRecord {
  seriesInstanceUID: string;
  studyInstanceUID: string;
  modality: string;
  seriesNumber?: number;
  description: string;
}

/** What the cache knows about one stored instance, without its bytes. */
export interface InstanceRecord {
  sopInstanceUID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  instanceNumber?: number;
  /** Bytes of the stored Part 10 file. */
  size: number;
  /** Hex SHA-256 of the stored bytes, checked on every read. */
  sha256: string;
  transferSyntaxUID: string;
  /** From the file header, for geometric stack order; absent for non-image objects. */
  imagePositionPatient?: number[];
  imageOrientationPatient?: number[];
  storedAt: number;
}

export interface InstanceBytesRecord {
  sopInstanceUID: string;
  /**
   * The Part 10 file. An ArrayBuffer rather than a Blob: it clones the same in
   * every IndexedDB (Chromium, fake-indexeddb under Node), and the hash check
   * on read needs the bytes in memory anyway.
   */
  bytes: ArrayBuffer;
}

/** Current schema version; bump it with a new `version(n)` block below, never edit an old one. */
export const TELERAD_DB_VERSION = 1;

/** Index specs per version (Dexie syntax: primary key first, then indexes). Exported for the schema test. */
export const TELERAD_DB_SCHEMA_V1 = {
  studies: 'studyInstanceUID, siteId, lastOpenedAt, storedAt',
  series: 'seriesInstanceUID, studyInstanceUID',
  instances: 'sopInstanceUID, studyInstanceUID, seriesInstanceUID',
  instanceBytes: 'sopInstanceUID',
} as const;

export class TeleradDB extends Dexie {
  studies!: Table<StudyRecord, string>;
  series!: Table<SeriesRecord, string>;
  instances!: Table<InstanceRecord, string>;
  instanceBytes!: Table<InstanceBytesRecord, string>;

  /** @param name database name; the app uses one fixed name, tests a unique one each. */
  constructor(name: string) {
    super(name);
    this.version(1).stores(TELERAD_DB_SCHEMA_V1);
  }
}
