import type { DataSet, Element } from 'dicom-parser';
import { dicomParser } from './dicom-parser';
import type { StudyContext } from './report-dicom-types';
import { errorMessage } from '../../../shared/error-message';

/**
 * The patient and study attributes a report copies from its study, read
 * from any cached instance of that study (its Part 10 bytes), so the SR and
 * the PDF land in the case's study with the same patient. Only the header is
 * parsed (stops before Pixel Data).
 */

const T = {
  SpecificCharacterSet: 'x00080005',
  StudyDate: 'x00080020',
  StudyTime: 'x00080030',
  AccessionNumber: 'x00080050',
  ReferringPhysicianName: 'x00080090',
  StudyDescription: 'x00081030',
  PatientName: 'x00100010',
  PatientID: 'x00100020',
  PatientBirthDate: 'x00100030',
  PatientSex: 'x00100040',
  StudyInstanceUID: 'x0020000d',
  StudyID: 'x00200010',
} as const;

/** Text by the instance's character set (ISO_IR 192 → UTF-8, else Latin-1), padding trimmed. */
function reader(ds: DataSet): (tag: string) => string | undefined {
  const charset = ds.string(T.SpecificCharacterSet) ?? '';
  const td = new TextDecoder(charset.includes('ISO_IR 192') ? 'utf-8' : 'latin1');
  return (tag) => {
    const el: Element | undefined = ds.elements[tag];
    if (!el || el.length <= 0) return undefined;
    const v = td
      .decode(ds.byteArray.subarray(el.dataOffset, el.dataOffset + el.length))
      .replace(/[\0 ]+$/, '')
      .trim();
    return v || undefined;
  };
}

/** Throws with a readable message when the bytes are not DICOM or name no study. */
export function studyContextFromPart10(bytes: ArrayBuffer): StudyContext {
  let ds: DataSet;
  try {
    ds = dicomParser.parseDicom(new Uint8Array(bytes), { untilTag: 'x7fe00010' });
  } catch (err) {
    throw new Error(`Cannot read the study's patient and study attributes: ${errorMessage(err)}`, { cause: err });
  }
  const get = reader(ds);
  const studyInstanceUID = get(T.StudyInstanceUID);
  if (!studyInstanceUID) throw new Error('The instance has no Study Instance UID');
  const ctx: StudyContext = { studyInstanceUID, patientName: get(T.PatientName) ?? '', patientId: get(T.PatientID) ?? '' };
  const optional: [keyof StudyContext, string][] = [
    ['patientBirthDate', T.PatientBirthDate],
    ['patientSex', T.PatientSex],
    ['studyDate', T.StudyDate],
    ['studyTime', T.StudyTime],
    ['studyId', T.StudyID],
    ['accessionNumber', T.AccessionNumber],
    ['referringPhysicianName', T.ReferringPhysicianName],
    ['studyDescription', T.StudyDescription],
  ];
  for (const [key, tag] of optional) {
    const v = get(tag);
    if (v !== undefined) ctx[key] = v;
  }
  return ctx;
}
