import { describe, expect, it } from 'vitest';
import { GATEWAY_ERROR_HEADER } from '../../../src/shared/gateway';
import { createSiteTransport, parseStowResponse, StowError } from '../../../src/renderer/outbox/stow-client';

const SR = '1.2.3.4.1';
const PDF = '1.2.3.4.2';
const ref = (uid: string): Record<string, unknown> => ({ '00081155': { vr: 'UI', Value: [uid] } });
const failedItem = (uid: string, reason: number): Record<string, unknown> => ({ ...ref(uid), '00081197': { vr: 'US', Value: [reason] } });

function stowError(fn: () => unknown): StowError {
  try {
    fn();
  } catch (err) {
    if (err instanceof StowError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

describe('STOW-RS response', () => {
  it('reads stored and refused instances, with the refusal said plainly', () => {
    const body = JSON.stringify({ '00081199': { vr: 'SQ', Value: [ref(SR)] }, '00081198': { vr: 'SQ', Value: [failedItem(PDF, 0xc000)] } });
    expect(parseStowResponse(202, body, [SR, PDF])).toEqual({
      status: 202,
      stored: [SR],
      failed: [{ sopInstanceUID: PDF, reason: 0xc000, retryable: false, message: 'the site cannot understand the instance (0xC000)' }],
      unaccounted: [],
    });
  });

  it('counts an out-of-resources refusal as worth another try', () => {
    const body = JSON.stringify([{ '00081198': { vr: 'SQ', Value: [failedItem(SR, 0xa702)] } }]);
    expect(parseStowResponse(409, body, [SR]).failed[0]).toMatchObject({ retryable: true, message: 'the site is out of resources (0xA702)' });
  });

  it('reports instances the answer does not mention as unknown', () => {
    const body = JSON.stringify({ '00081199': { vr: 'SQ', Value: [ref(SR)] } });
    expect(parseStowResponse(200, body, [SR, PDF]).unaccounted).toEqual([PDF]);
  });

  it('turns a garbled answer into a readable, uncertain error', () => {
    const garbled = stowError(() => parseStowResponse(200, '{"00081199": {"vr": "SQ", "Val', [SR]));
    expect(garbled).toMatchObject({ kind: 'malformed', uncertain: true });
    expect(garbled.message).toMatch(/^the site answered HTTP 200 with a body that is not JSON/);
    expect(stowError(() => parseStowResponse(200, '', [SR])).message).toBe('the site answered HTTP 200 with an empty body instead of a STOW-RS response');
    expect(stowError(() => parseStowResponse(200, '{"foo": 1}', [SR])).message).toBe(
      'the site answered HTTP 200 without saying which instances it stored or refused',
    );
    expect(stowError(() => parseStowResponse(200, '{"00081199": {"vr": "SQ", "Value": [3]}}', [SR])).message).toMatch(/holds something other than items/);
  });
});

describe('site transport', () => {
  const instances = [{ sopInstanceUID: SR, sopClassUID: '1.2.840.10008.5.1.4.1.1.88.33', bytes: new Uint8Array([68, 73, 67, 77]).buffer }];
  const answering =
    (status: number, body: string, headers: Record<string, string> = {}): typeof fetch =>
    async () =>
      new Response(body, { status, headers });

  it('posts one multipart/related body with every file between boundaries', async () => {
    let seen: { url: string; init: RequestInit } | undefined;
    const transport = createSiteTransport({
      fetchImpl: (async (url: string, init: RequestInit) => {
        seen = { url, init };
        return new Response(JSON.stringify({ '00081199': { vr: 'SQ', Value: [ref(SR)] } }), { status: 200 });
      }) as typeof fetch,
      siteBaseUrl: (id) => `http://app/sites/${id}/dicom-web`,
    });
    const out = await transport.stow('a', instances, new AbortController().signal);
    expect(out.stored).toEqual([SR]);
    expect(seen!.url).toBe('http://app/sites/a/dicom-web/studies');
    const ct = new Headers(seen!.init.headers).get('content-type')!;
    expect(ct).toMatch(/^multipart\/related; type="application\/dicom"; boundary=telerad-outbox-[0-9a-f]{32}$/);
    const boundary = ct.split('boundary=')[1]!;
    expect(new TextDecoder().decode(seen!.init.body as Uint8Array)).toBe(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\nDICM\r\n--${boundary}--\r\n`);
  });

  it('names the failure: credentials, site busy, unreachable (outcome unknown), refused', async () => {
    const signal = new AbortController().signal;
    const run = (f: typeof fetch): Promise<unknown> => createSiteTransport({ fetchImpl: f, siteBaseUrl: () => 'http://app/s' }).stow('a', instances, signal).catch((e: unknown) => e);
    expect(await run(answering(502, '{}', { [GATEWAY_ERROR_HEADER]: 'SITE_AUTH_FAILED' }))).toMatchObject({ kind: 'auth', message: 'the site refused our credentials', uncertain: false });
    expect(await run(answering(503, 'busy'))).toMatchObject({ kind: 'server', message: 'the site is busy (HTTP 503): busy', uncertain: false });
    expect(await run(answering(502, '{}', { [GATEWAY_ERROR_HEADER]: 'SITE_UNREACHABLE' }))).toMatchObject({ kind: 'no-answer', uncertain: true });
    expect(await run(answering(413, 'too big'))).toMatchObject({ kind: 'rejected', message: 'the site refused the STOW-RS request (HTTP 413): too big' });
    expect(
      await run(async () => {
        throw new TypeError('fetch failed', { cause: new Error('socket hang up') });
      }),
    ).toMatchObject({ kind: 'no-answer', uncertain: true, message: 'no answer from the app host (socket hang up)' });
  });

  it('asks for stored instances with a literal comma-separated UID list', async () => {
    const urls: string[] = [];
    const transport = createSiteTransport({
      fetchImpl: (async (url: string) => {
        urls.push(url);
        return new Response(JSON.stringify([{ '00080018': { vr: 'UI', Value: [PDF] } }]), { status: 200 });
      }) as typeof fetch,
      siteBaseUrl: () => 'http://app/s',
    });
    expect([...(await transport.findStored('a', '1.2.3', [SR, PDF], new AbortController().signal))]).toEqual([PDF]);
    expect(urls).toEqual([`http://app/s/studies/1.2.3/instances?SOPInstanceUID=${SR},${PDF}&includefield=00080018`]);
  });
});
