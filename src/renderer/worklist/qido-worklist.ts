import type { SiteSummary } from '../../shared/ipc/contract';
import { Tag, getNumber, getString, getStrings } from '../../shared/dicom/dicomweb-json';
import type { DicomJsonDataset } from '../../shared/dicom/dicomweb-json';
import type { DicomWebApi } from '../dicomweb/dicomweb-api';

/** One study as a site's QIDO-RS answer describes it. */
export interface StudyRow {
  siteId: string;
  studyInstanceUID: string;
  patientName: string;
  patientId: string;
  patientBirthDate: string;
  patientSex: string;
  /** DICOM DA, `YYYYMMDD`. */
  studyDate: string;
  modalities: string[];
  description: string;
  accessionNumber: string;
  numInstances?: number;
}

/**
 * Fields beyond the QIDO-RS required set (PS3.18 Table 10.6.1-5) that the
 * worklist shows; a PACS computes ModalitiesInStudy and the instance count
 * only when asked.
 */
export const WORKLIST_INCLUDE_FIELDS = [
  Tag.ModalitiesInStudy,
  Tag.NumberOfStudyRelatedInstances,
  Tag.PatientBirthDate,
  Tag.PatientSex,
  Tag.StudyDescription,
];

/** A bound on one site's answer, so a large PACS cannot flood the worklist; paging comes later. */
export const WORKLIST_LIMIT = 500;

export function studyRowFromQido(siteId: string, ds: DicomJsonDataset): StudyRow | undefined {
  const studyInstanceUID = getString(ds, Tag.StudyInstanceUID);
  if (!studyInstanceUID) return undefined;
  const numInstances = getNumber(ds, Tag.NumberOfStudyRelatedInstances);
  return {
    siteId,
    studyInstanceUID,
    patientName: getString(ds, Tag.PatientName) ?? '',
    patientId: getString(ds, Tag.PatientID) ?? '',
    patientBirthDate: getString(ds, Tag.PatientBirthDate) ?? '',
    patientSex: getString(ds, Tag.PatientSex) ?? '',
    studyDate: getString(ds, Tag.StudyDate) ?? '',
    // Some servers send ModalitiesInStudy as one backslash-joined string.
    modalities: getStrings(ds, Tag.ModalitiesInStudy).flatMap((m) => m.split('\\')).filter(Boolean),
    description: getString(ds, Tag.StudyDescription) ?? '',
    accessionNumber: getString(ds, Tag.AccessionNumber) ?? '',
    ...(numInstances !== undefined ? { numInstances } : {}),
  };
}

/**
 * One site's studies via QIDO-RS through the gateway. Rejects with the
 * transport's error; the worklist store classifies it (classifySiteError).
 */
export async function queryStudies(api: DicomWebApi, site: SiteSummary): Promise<StudyRow[]> {
  const datasets = await api.searchForStudies({ includefield: WORKLIST_INCLUDE_FIELDS, limit: String(WORKLIST_LIMIT) });
  return datasets.flatMap((ds) => {
    const row = studyRowFromQido(site.id, ds);
    return row ? [row] : [];
  });
}
