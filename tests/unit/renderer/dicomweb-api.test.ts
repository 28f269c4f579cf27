// @vitest-environment node
import { describe, expect, it } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import { TS_JPEG_LS_LOSSLESS, WADO_INSTANCE_ACCEPT, createDicomWebApiFactory } from '../../../src/renderer/dicomweb/dicomweb-api';
import { BadAnswerError, HttpStatusError, TransferInterruptedError, classifySiteError, isRetryableSiteError } from '../../../src/renderer/dicomweb/site-error';
import { WORKLIST_INCLUDE_FIELDS, queryStudies } from '../../../src/renderer/worklist/qido-worklist';

const SITE: SiteSummary = { id: 'hospital-a', name: 'Hospital A', url: 'http://pacs.invalid', authType: 'basic', gatewayPath: '/sites/hospital-a/dicom-web' };

function recordingFetch(answer: (url: URL, init: RequestInit) => Response): typeof fetch & { calls: { url: URL; accept: string }[] } {
  const calls: { url: URL; accept: string }[] = [];
  const f = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input));
    calls.push({ url, accept: new Headers(init.headers).get('accept') ?? '' });
    return answer(url, init);
  }) as typeof fetch & { calls: typeof calls };
  f.calls = calls;
  return f;
}

describe('DICOMweb through the gateway', () => {
  it('asks QIDO-RS for each extra field as its own includefield and maps the answer to rows', async () => {
    const f = recordingFetch(
      () =>
        new Response(
          JSON.stringify([
            {
              '0020000D': { vr: 'UI', Value: ['1.2.3'] },
              '00100010': { vr: 'PN', Value: [{ Alphabetic: 'TESTER^ANNA' }] },
              '00100020': { vr: 'LO', Value: ['E2E-0001'] },
              '00080020': { vr: 'DA', Value: ['20261120'] },
              '00080061': { vr: 'CS', Value: ['CT', 'SR'] },
              '00081030': { vr: 'LO', Value: ['CT CHEST'] },
              '00201208': { vr: 'IS', Value: [24] },
            },
          ]),
          { status: 200, headers: { 'content-type': 'application/dicom+json' } },
        ),
    );
    const rows = await queryStudies(createDicomWebApiFactory('http://127.0.0.1:1', f)(SITE), SITE);
    const call = f.calls[0]!;
    expect(call.url.pathname).toBe('/sites/hospital-a/dicom-web/studies');
    expect(call.url.searchParams.getAll('includefield')).toEqual(WORKLIST_INCLUDE_FIELDS);
    expect(call.accept).toBe('application/dicom+json');
    expect(rows).toEqual([
      expect.objectContaining({
        siteId: 'hospital-a',
        studyInstanceUID: '1.2.3',
        patientName: 'TESTER, ANNA',
        patientId: 'E2E-0001',
        studyDate: '20261120',
        modalities: ['CT', 'SR'],
        description: 'CT CHEST',
        numInstances: 24,
      }),
    ]);
  });

  it('reads 204 No Content as no studies', async () => {
    const api = createDicomWebApiFactory('http://127.0.0.1:1', recordingFetch(() => new Response(null, { status: 204 })))(SITE);
    expect(await api.searchForStudies({})).toEqual([]);
  });

  it('turns the gateway\'s SITE_AUTH_FAILED answer into "authentication failed"', async () => {
    const f = recordingFetch(
      () =>
        new Response(JSON.stringify({ code: 'SITE_AUTH_FAILED', message: 'Authentication failed at Hospital B' }), {
          status: 502,
          headers: { 'content-type': 'application/json', 'x-telerad-error': 'SITE_AUTH_FAILED' },
        }),
    );
    const err = await createDicomWebApiFactory('http://127.0.0.1:1', f)(SITE).searchForStudies({}).catch((e: unknown) => e);
    expect(classifySiteError(err)).toMatchObject({ kind: 'auth', message: 'authentication failed', status: 502 });
  });

  it('calls a fetch that gets no answer at all a lost connection to the app host', async () => {
    const f = recordingFetch(() => {
      throw new TypeError('Failed to fetch');
    });
    const err = await createDicomWebApiFactory('http://127.0.0.1:1', f)(SITE).searchForStudies({}).catch((e: unknown) => e);
    expect(classifySiteError(err).kind).toBe('host');
  });

  it('retrieves an instance as stored (transfer-syntax=*) and returns its multipart payload', async () => {
    const payload = 'DICM-bytes\r\n--not-the-boundary';
    const f = recordingFetch(
      () =>
        new Response(`--XyZ\r\nContent-Type: application/dicom\r\n\r\n${payload}\r\n--XyZ--\r\n`, {
          status: 200,
          headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=XyZ' },
        }),
    );
    const bytes = await createDicomWebApiFactory('http://127.0.0.1:1', f)(SITE).retrieveInstance({
      studyInstanceUID: '1.2',
      seriesInstanceUID: '1.2.3',
      sopInstanceUID: '1.2.3.4',
    });
    expect(new TextDecoder().decode(bytes)).toBe(payload);
    expect(f.calls[0]!.accept).toBe(WADO_INSTANCE_ACCEPT);
    expect(f.calls[0]!.url.pathname).toBe('/sites/hospital-a/dicom-web/studies/1.2/series/1.2.3/instances/1.2.3.4');
  });

  const multipart = (body: string, boundary = 'XyZ', headers: Record<string, string> = {}): Response =>
    new Response(body, { status: 200, headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, ...headers } });
  const uids = { studyInstanceUID: '1.2', seriesInstanceUID: '1.2.3', sopInstanceUID: '1.2.3.4' };

  it('asks for the transfer syntax it is told to, and counts the bytes as they arrive', async () => {
    const f = recordingFetch(() => multipart('--XyZ\r\nContent-Type: application/dicom\r\n\r\nDICM\r\n--XyZ--\r\n'));
    let counted = 0;
    await createDicomWebApiFactory('http://127.0.0.1:1', f)(SITE).retrieveInstance(uids, undefined, {
      transferSyntax: TS_JPEG_LS_LOSSLESS,
      onBytes: (n) => (counted += n),
    });
    expect(f.calls[0]!.accept).toBe('multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.80');
    expect(counted).toBeGreaterThan(40);
  });

  it('refuses a multipart body whose boundary is not the one its Content-Type names', async () => {
    const f = recordingFetch(() => multipart('--XyZ\r\nContent-Type: application/dicom\r\n\r\nDICM\r\n--XyZ--\r\n', 'other'));
    const err = await createDicomWebApiFactory('http://127.0.0.1:1', f)(SITE).retrieveInstance(uids).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadAnswerError);
    expect(classifySiteError(err).message).toBe('sent a malformed answer: the multipart body does not contain the boundary its Content-Type names ("other")');
    expect(isRetryableSiteError(err)).toBe(false);
  });

  it('refuses a truncated part, and that one is worth another try', async () => {
    const f = recordingFetch(() => multipart('--XyZ\r\nContent-Type: application/dicom\r\n\r\nDICM-half-of-the'));
    const err = await createDicomWebApiFactory('http://127.0.0.1:1', f)(SITE).retrieveInstance(uids).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadAnswerError);
    expect(isRetryableSiteError(err)).toBe(true);
  });

  it('refuses a part whose stated transfer syntax is not the one in its file meta', async () => {
    // A minimal Part 10 file whose meta says explicit VR little endian.
    const meta = new Uint8Array([...new Array<number>(128).fill(0), 0x44, 0x49, 0x43, 0x4d, 0x02, 0x00, 0x10, 0x00, 0x55, 0x49, 20, 0, ...Array.from('1.2.840.10008.1.2.1\0', (c) => c.charCodeAt(0))]);
    const head = '--XyZ\r\nContent-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.4.80\r\n\r\n';
    const body = new Uint8Array([...Array.from(head, (c) => c.charCodeAt(0)), ...meta, ...Array.from('\r\n--XyZ--\r\n', (c) => c.charCodeAt(0))]);
    const f = recordingFetch(() => new Response(body, { status: 200, headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=XyZ' } }));
    const err = await createDicomWebApiFactory('http://127.0.0.1:1', f)(SITE).retrieveInstance(uids).catch((e: unknown) => e);
    expect((err as Error).message).toBe('the part says transfer syntax 1.2.840.10008.1.2.4.80 but the file is 1.2.840.10008.1.2.1');
  });

  it('retries what may pass (5xx, 504, no answer, a dropped body) and not what will not (401/403/404, bad credentials)', () => {
    const withCode = (status: number, code: string): HttpStatusError => new HttpStatusError(status, 'x', new Headers({ 'x-telerad-error': code }));
    expect([500, 502, 503, 504, 0].map((s) => isRetryableSiteError(new HttpStatusError(s, 'x')))).toEqual([true, true, true, true, true]);
    expect([400, 401, 403, 404, 406].map((s) => isRetryableSiteError(new HttpStatusError(s, 'x')))).toEqual([false, false, false, false, false]);
    expect(isRetryableSiteError(withCode(502, 'SITE_AUTH_FAILED'))).toBe(false);
    expect(isRetryableSiteError(withCode(502, 'SITE_UNREACHABLE'))).toBe(true);
    expect(isRetryableSiteError(withCode(504, 'SITE_TIMEOUT'))).toBe(true);
    expect(isRetryableSiteError(new TransferInterruptedError('cut'))).toBe(true);
    expect(isRetryableSiteError(new DOMException('closed', 'AbortError'))).toBe(false);
  });
});
