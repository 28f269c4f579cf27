import type { DicomJsonDataset } from '../../src/shared/dicom/dicomweb-json';
import type { DicomWebApi } from '../../src/renderer/dicomweb/dicomweb-api';
import { HttpStatusError } from '../../src/renderer/dicomweb/site-error';

/** A DICOM object a fake site holds, listed as modality SR. */
export interface SiteObject {
  sopInstanceUID: string;
  seriesInstanceUID: string;
  sopClassUID: string;
  bytes: Uint8Array | ArrayBuffer;
}

/** A site holding the given objects: QIDO lists them, WADO-RS returns their bytes; `down` makes both fail like an unreachable gateway. */
export function fakeSite(objects: SiteObject[], down = { value: false }): DicomWebApi {
  return {
    searchForInstances: (study: string) => {
      if (down.value) return Promise.reject(new HttpStatusError(502, 'SITE_UNREACHABLE'));
      return Promise.resolve(
        objects.map(
          (o): DicomJsonDataset => ({
            '0020000D': { vr: 'UI', Value: [study] },
            '0020000E': { vr: 'UI', Value: [o.seriesInstanceUID] },
            '00080018': { vr: 'UI', Value: [o.sopInstanceUID] },
            '00080016': { vr: 'UI', Value: [o.sopClassUID] },
            '00080060': { vr: 'CS', Value: ['SR'] },
          }),
        ),
      );
    },
    retrieveInstance: (uids: { sopInstanceUID: string }) => {
      if (down.value) return Promise.reject(new HttpStatusError(502, 'SITE_UNREACHABLE'));
      const o = objects.find((x) => x.sopInstanceUID === uids.sopInstanceUID);
      if (!o) return Promise.reject(new HttpStatusError(404, 'not found'));
      return Promise.resolve((o.bytes instanceof Uint8Array ? o.bytes.slice() : new Uint8Array(o.bytes).slice()).buffer);
    },
  } as unknown as DicomWebApi;
}
