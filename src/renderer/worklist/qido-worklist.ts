import type { SiteSummary } from '../../shared/ipc/contract';
import { Tag, getNumber, getString, getStrings } from '../../shared/dicom/dicomweb-json';
import type { DicomJsonDataset } from '../../shared/dicom/dicomweb-json';
import type { DicomWebApi } from '../dicomweb/dicomweb-api';
import { HttpStatusError, classifySiteError } from '../dicomweb/site-error';
import type { SiteFailure } from '../dicomweb/site-error';

/** One study as a site's QIDO-RS answer describes it. */
export interface StudyRow {
  siteId: string;
  studyInstanceUID: string;
  patientName: string;
  patientId: string;
  patientBirthDate: string;
  patientSex: string;
  /** PatientAge (AS, e.g. `045Y`) when the site stores it; the worklist computes it from the birth date otherwise. */
  patientAge?: string;
  /** DICOM DA, `YYYYMMDD`. */
  studyDate: string;
  /** DICOM TM, `HHMMSS.FFFFFF`; may be empty. */
  studyTime?: string;
  /** TimezoneOffsetFromUTC (`+HHMM`/`-HHMM`) when the site sends it; StudyDate/Time are the site's local time. */
  timezoneOffset?: string;
  modalities: string[];
  /** BodyPartExamined is a series attribute; Orthanc answers it at study level from one instance, other PACS may leave it out. */
  bodyPart?: string;
  description: string;
  accessionNumber: string;
  numInstances?: number;
}

/** TimezoneOffsetFromUTC; not in the shared Tag table because only the worklist reads it. */
const TIMEZONE_OFFSET_FROM_UTC = '00080201';

/**
 * Fields beyond the QIDO-RS required set (PS3.18 Table 10.6.1-5) that the
 * worklist shows; a PACS computes ModalitiesInStudy and the instance count
 * only when asked. BodyPartExamined and PatientAge ride on the same request
 * (no QIDO per study): Orthanc 1.10's DICOMweb plugin reads them from one
 * instance of each study; a PACS that does not answer them leaves the column
 * blank, and the age is computed from the birth date.
 */
export const WORKLIST_INCLUDE_FIELDS = [
  Tag.ModalitiesInStudy,
  Tag.NumberOfStudyRelatedInstances,
  Tag.PatientBirthDate,
  Tag.PatientSex,
  Tag.StudyDescription,
  Tag.StudyTime,
  Tag.PatientAge,
  Tag.BodyPartExamined,
  TIMEZONE_OFFSET_FROM_UTC,
];

/** Studies per QIDO-RS page (`limit`); Orthanc and most PACS cap one answer anyway. */
export const WORKLIST_PAGE_SIZE = 500;
/** Studies fetched per site at most, so one huge PACS cannot flood the worklist; the status then says "more than N". */
export const WORKLIST_SITE_CAP = 5000;

/** One site's answer: its studies, and whether there were more than the cap. */
export interface SiteStudies {
  rows: StudyRow[];
  /** Set to the cap when the site holds more studies than were fetched. */
  cappedAt?: number;
}

export function studyRowFromQido(siteId: string, ds: DicomJsonDataset): StudyRow | undefined {
  // A malformed answer may hold nulls or strings in the array: skip them rather than throw.
  if (typeof ds !== 'object' || ds === null || Array.isArray(ds)) return undefined;
  const studyInstanceUID = getString(ds, Tag.StudyInstanceUID);
  if (!studyInstanceUID) return undefined;
  const numInstances = getNumber(ds, Tag.NumberOfStudyRelatedInstances);
  const optional = (key: string, tag: string): Record<string, string> => {
    const v = getString(ds, tag)?.trim();
    return v ? { [key]: v } : {};
  };
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
    ...optional('patientAge', Tag.PatientAge),
    ...optional('studyTime', Tag.StudyTime),
    ...optional('timezoneOffset', TIMEZONE_OFFSET_FROM_UTC),
    ...optional('bodyPart', Tag.BodyPartExamined),
    ...(numInstances !== undefined ? { numInstances } : {}),
  };
}

export interface QueryPagingOptions {
  pageSize?: number;
  cap?: number;
}

/**
 * All of one site's studies via QIDO-RS through the gateway, page by page
 * (`limit`/`offset`) up to `cap`. Defensive about servers that ignore the
 * paging keys: a page larger than asked ends the loop (the server sent all it
 * will), and a page that adds no new study UID ends it too (an ignored
 * `offset` would otherwise repeat the first page forever). Rejects with the
 * transport's error; classifyWorklistError turns it into a status line.
 */
export async function querySiteStudies(api: DicomWebApi, site: SiteSummary, opts: QueryPagingOptions = {}): Promise<SiteStudies> {
  const pageSize = opts.pageSize ?? WORKLIST_PAGE_SIZE;
  const cap = opts.cap ?? WORKLIST_SITE_CAP;
  const byUid = new Map<string, StudyRow>();
  let offset = 0;
  // One study past the cap is asked for, so "more than N" is known without a count query.
  while (byUid.size <= cap) {
    const limit = Math.min(pageSize, cap + 1 - offset);
    if (limit <= 0) break;
    const page = await api.searchForStudies({ includefield: WORKLIST_INCLUDE_FIELDS, limit: String(limit), offset: String(offset) });
    const before = byUid.size;
    for (const ds of page) {
      const row = studyRowFromQido(site.id, ds);
      if (row && !byUid.has(row.studyInstanceUID)) byUid.set(row.studyInstanceUID, row);
    }
    if (page.length < limit || page.length > limit || byUid.size === before) break;
    offset += page.length;
  }
  const rows = [...byUid.values()];
  return rows.length > cap ? { rows: rows.slice(0, cap), cappedAt: cap } : { rows };
}

/** The rows alone (no cap flag): kept for callers that only list. */
export async function queryStudies(api: DicomWebApi, site: SiteSummary, opts?: QueryPagingOptions): Promise<StudyRow[]> {
  return (await querySiteStudies(api, site, opts)).rows;
}

/**
 * A worklist query failure as a status line after the site's name. The
 * gateway's and HTTP failures read as classifySiteError says; a site answer
 * the worklist cannot read names what was wrong with it, in plain words.
 */
export function classifyWorklistError(err: unknown): SiteFailure {
  if (err instanceof SyntaxError) return { kind: 'other', message: 'study search failed: the answer is not valid JSON' };
  // dicomweb-api.ts throws this one when the JSON is not an array (tested against the real API in worklist-qido.test.ts).
  if (err instanceof Error && !(err instanceof HttpStatusError) && /not a JSON array/i.test(err.message)) {
    return { kind: 'other', message: 'study search failed: the answer is not a list of studies' };
  }
  const failure = classifySiteError(err);
  if (failure.kind === 'http' && failure.status !== undefined && failure.code === undefined) {
    return { ...failure, message: `study search failed: the site answered HTTP ${failure.status}` };
  }
  return failure;
}
