import * as dicomParserModule from 'dicom-parser';

export type DicomParser = typeof dicomParserModule;

/**
 * dicom-parser ships only a UMD bundle. Vite's CommonJS interop puts its
 * functions on the namespace; Node's ESM loader (vitest) only on `default`.
 * Resolving both here lets the same code run in the app and in unit tests.
 */
export const dicomParser: DicomParser =
  (dicomParserModule as DicomParser & { default?: DicomParser }).default ?? dicomParserModule;
