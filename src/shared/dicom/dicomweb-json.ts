/**
 * Reading the DICOM JSON model (PS3.18 Annex F) that QIDO-RS answers with.
 * Tags are 8 hex digits, upper case.
 */
export type DicomJsonValue = {
  vr: string;
  Value?: unknown[];
  BulkDataURI?: string;
  InlineBinary?: string;
};
export type DicomJsonDataset = Record<string, DicomJsonValue | undefined>;

export const Tag = {
  PatientName: '00100010',
  PatientID: '00100020',
  PatientBirthDate: '00100030',
  PatientSex: '00100040',
  PatientAge: '00101010',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SOPInstanceUID: '00080018',
  SOPClassUID: '00080016',
  StudyDate: '00080020',
  StudyTime: '00080030',
  AccessionNumber: '00080050',
  ModalitiesInStudy: '00080061',
  Modality: '00080060',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  BodyPartExamined: '00180015',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  TransferSyntaxUID: '00020010',
} as const;

export function firstValue(ds: DicomJsonDataset, tag: string): unknown {
  return ds[tag]?.Value?.[0];
}

export function getString(ds: DicomJsonDataset, tag: string): string | undefined {
  const v = firstValue(ds, tag);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object' && v !== null && 'Alphabetic' in v) {
    return formatPersonName(String((v as { Alphabetic?: unknown }).Alphabetic ?? ''));
  }
  return String(v);
}

export function getStrings(ds: DicomJsonDataset, tag: string): string[] {
  return (ds[tag]?.Value ?? []).filter((v) => v !== null && v !== undefined).map(String);
}

export function getNumber(ds: DicomJsonDataset, tag: string): number | undefined {
  const v = firstValue(ds, tag);
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** "DOE^JANE^^DR" → "DOE, JANE" — family, given; the rest is rarely useful in a list. */
export function formatPersonName(pn: string): string {
  const [family = '', given = '', middle = ''] = pn.split('=')[0]!.split('^');
  const rest = [given, middle].filter(Boolean).join(' ');
  return rest ? `${family}, ${rest}` : family;
}

/** "20240131" → "2024-01-31"; anything else is returned as is. */
export function formatDicomDate(da: string | undefined): string {
  if (!da) return '';
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da.trim());
  return m ? `${m[1]}-${m[2]}-${m[3]}` : da;
}
