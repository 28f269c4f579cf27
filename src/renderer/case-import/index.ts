// case-import's public entry: what other features may use. Anything else in this folder is internal (lint: local/renderer-features).
export { UnsupportedImageError, isPdf, pdfToDicom, photoToDicom } from './attachments-to-dicom';
export type { BuiltObject, CaseDicomContext } from './attachments-to-dicom';
export { identityConflicts, importFiles } from './import-files';
export type { IdentityGroup } from './import-files';
export type { ImportEntry, ImportResult, ImportedInstance, IndexFile, PatientIdentity, SkippedFile } from './import-types';
