import type { SiteSummary } from '../../src/shared/ipc/contract';
import type { DicomJsonDataset } from '../../src/shared/dicom/dicomweb-json';
import type { StudyUpsert } from '../../src/renderer/cache/study-cache';

/** A site as the renderer sees it, for tests that never reach a network. */
export const TEST_SITE: SiteSummary = { id: 'a', name: 'Hospital A', url: 'http://pacs.invalid', authType: 'none', gatewayPath: '/sites/a/dicom-web' };

export function studyFields(studyInstanceUID: string): StudyUpsert {
  return {
    studyInstanceUID,
    siteId: TEST_SITE.id,
    patientName: 'TESTER, ANNA',
    patientId: 'P1',
    studyDate: '20261120',
    modalities: ['CT'],
    description: 'CT CHEST',
    numInstances: 0,
  };
}

export interface TinyPart10 {
  sop: string;
  series: string;
  instanceNumber: number;
  /** Slice position along z; with it come Image Position and Orientation (Patient). */
  z?: number;
  transferSyntaxUID?: string;
  seriesDescription?: string;
  /** Bytes of pixel data (default 64), so a cut-short copy is detectable. */
  pixelBytes?: number;
}

/**
 * A minimal explicit-VR little-endian Part 10 file: enough header for the
 * retriever to check and sort it, and a little pixel data. Written by hand
 * (not dcmjs) so the unit tests stay fast and the bytes exact.
 */
export function tinyPart10(o: TinyPart10): ArrayBuffer {
  const chunks: number[] = [...new Array<number>(128).fill(0), ...'DICM'.split('').map((c) => c.charCodeAt(0))];
  const el = (group: number, element: number, vr: string, value: string): void => {
    const v = value.length % 2 ? value + (vr === 'UI' ? '\0' : ' ') : value;
    chunks.push(group & 0xff, group >> 8, element & 0xff, element >> 8, vr.charCodeAt(0), vr.charCodeAt(1), v.length & 0xff, v.length >> 8);
    for (const c of v) chunks.push(c.charCodeAt(0));
  };
  el(0x0002, 0x0010, 'UI', o.transferSyntaxUID ?? '1.2.840.10008.1.2.1');
  el(0x0008, 0x0018, 'UI', o.sop);
  el(0x0008, 0x0060, 'CS', 'CT');
  if (o.seriesDescription) el(0x0008, 0x103e, 'LO', o.seriesDescription);
  el(0x0020, 0x000e, 'UI', o.series);
  el(0x0020, 0x0013, 'IS', String(o.instanceNumber));
  if (o.z !== undefined) {
    el(0x0020, 0x0032, 'DS', `0\\0\\${o.z}`);
    el(0x0020, 0x0037, 'DS', '1\\0\\0\\0\\1\\0');
  }
  const n = o.pixelBytes ?? 64;
  // Pixel Data, OW with a 4-byte length.
  chunks.push(0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57, 0, 0, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff, ...new Array<number>(n).fill(7));
  return new Uint8Array(chunks).buffer;
}

/** What QIDO-RS answers for a series' instances, in instance-number order. */
export function instanceList(series: string, sops: readonly string[]): DicomJsonDataset[] {
  return sops.map((sop, k) => ({
    '0020000E': { vr: 'UI', Value: [series] },
    '00080018': { vr: 'UI', Value: [sop] },
    '00200013': { vr: 'IS', Value: [k + 1] },
  }));
}
