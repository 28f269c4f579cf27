import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { generateCtSeries } from '../fixtures/ct-phantom';
import { startOrthanc } from '../support/orthanc';
import type { OrthancHandle } from '../support/orthanc';

// The harness itself, against a real Orthanc with the DICOMweb plugin:
// authentication, QIDO-RS, WADO-RS, and restarting on the same storage.
const SLICES = 8;
const PATIENT_ID = 'HARNESS-0001';

let orthanc: OrthancHandle;
const series = generateCtSeries({ patientName: 'HARNESS^TEST', patientId: PATIENT_ID, studyDate: '20260102', slices: SLICES, rows: 256, columns: 256 });

/** Splits a multipart/related body into its parts' bodies. */
function multipartParts(body: Uint8Array, contentType: string): Uint8Array[] {
  const m = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!m) throw new Error(`no boundary in ${contentType}`);
  const text = Buffer.from(body).toString('latin1');
  const delimiter = `--${m[1]}`;
  const parts: Uint8Array[] = [];
  let pos = text.indexOf(delimiter);
  while (pos >= 0) {
    const start = pos + delimiter.length;
    if (text.startsWith('--', start)) break; // closing delimiter
    const headerEnd = text.indexOf('\r\n\r\n', start);
    const next = text.indexOf(`\r\n${delimiter}`, headerEnd);
    if (headerEnd < 0 || next < 0) break;
    parts.push(body.subarray(headerEnd + 4, next));
    pos = next + 2;
  }
  return parts;
}

describe('Orthanc test harness', () => {
  beforeAll(async () => {
    orthanc = await startOrthanc();
    for (const inst of series.instances) await orthanc.upload(inst.bytes);
  });

  afterAll(async () => {
    await orthanc?.stop();
  });

  it('answers on loopback with a per-start password', () => {
    expect(orthanc.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(orthanc.dicomWebUrl).toBe(`${orthanc.baseUrl}/dicom-web`);
    expect(orthanc.password).toMatch(/^pw-[0-9a-f]{16}$/);
    expect(orthanc.log()).not.toContain(orthanc.password);
  });

  it('QIDO-RS finds the study by PatientID with all its instances', async () => {
    const res = await fetch(`${orthanc.dicomWebUrl}/studies?PatientID=${PATIENT_ID}`, {
      headers: { authorization: orthanc.authorization, accept: 'application/dicom+json' },
    });
    expect(res.status).toBe(200);
    const studies = (await res.json()) as Array<Record<string, { Value?: unknown[] }>>;
    expect(studies).toHaveLength(1);
    const study = studies[0]!;
    expect(study['0020000D']?.Value?.[0]).toBe(series.studyInstanceUID); // StudyInstanceUID
    expect(Number(study['00201208']?.Value?.[0])).toBe(SLICES); // NumberOfStudyRelatedInstances
    expect(study['00080061']?.Value).toContain('CT'); // ModalitiesInStudy
  });

  it('refuses requests without credentials or with a wrong password (401)', async () => {
    const none = await fetch(`${orthanc.dicomWebUrl}/studies`);
    expect(none.status).toBe(401);
    await none.arrayBuffer();
    const wrong = await fetch(`${orthanc.dicomWebUrl}/studies`, {
      headers: { authorization: `Basic ${Buffer.from(`${orthanc.username}:nope`).toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
    await wrong.arrayBuffer();
  });

  it('WADO-RS returns the instance as multipart/related application/dicom', async () => {
    const inst = series.instances[3]!;
    const url = `${orthanc.dicomWebUrl}/studies/${series.studyInstanceUID}/series/${series.seriesInstanceUID}/instances/${inst.sopInstanceUID}`;
    const res = await fetch(url, {
      headers: { authorization: orthanc.authorization, accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
    });
    expect(res.status).toBe(200);
    const contentType = res.headers.get('content-type') ?? '';
    expect(contentType).toMatch(/^multipart\/related/i);
    const parts = multipartParts(new Uint8Array(await res.arrayBuffer()), contentType);
    expect(parts).toHaveLength(1);
    const part = parts[0]!;
    expect(Buffer.from(part.subarray(128, 132)).toString('latin1')).toBe('DICM');
    expect(Buffer.from(part).toString('latin1')).toContain(inst.sopInstanceUID);
    expect(part.byteLength).toBe(inst.bytes.byteLength); // stored as sent, no transcoding
  });

  it('restarts on the same storage, port and password', async () => {
    const port = orthanc.port;
    await orthanc.stop({ keepData: true });
    expect(orthanc.isRunning()).toBe(false);
    await expect(fetch(`${orthanc.baseUrl}/system`)).rejects.toThrow();
    await orthanc.restart();
    expect(orthanc.port).toBe(port);
    const res = await fetch(`${orthanc.dicomWebUrl}/studies/${series.studyInstanceUID}/series`, {
      headers: { authorization: orthanc.authorization, accept: 'application/dicom+json' },
    });
    expect(res.status).toBe(200);
    const found = (await res.json()) as Array<Record<string, { Value?: unknown[] }>>;
    expect(found.map((s) => s['0020000E']?.Value?.[0])).toEqual([series.seriesInstanceUID]);
  });
});
