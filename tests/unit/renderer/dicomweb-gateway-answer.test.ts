import { describe, expect, it } from 'vitest';
import { GATEWAY_ERROR_HEADER } from '../../../src/shared/gateway';
import { classifyGatewayAnswer } from '../../../src/shared/gateway-answer';
import { createDicomWebClient } from '../../../src/renderer/dicomweb/dicomweb-api';
import { HttpStatusError, classifySiteError, isRetryableSiteError } from '../../../src/renderer/dicomweb/site-error';
import { stowErrorFor } from '../../../src/renderer/dicomweb/stow-answer';

// One classifier (shared/gateway-answer.ts) for every gateway answer: the worklist/viewer wording
// (classifySiteError) and the outbox's (stowErrorFor) are two readings of the same family.

const SOP = '1.2.3.4.1';
const instances = [{ sopInstanceUID: SOP, sopClassUID: '1.2.840.10008.5.1.4.1.1.88.33', bytes: new Uint8Array([68, 73, 67, 77]).buffer }];
const gatewayCode = (code: string): Headers => new Headers({ [GATEWAY_ERROR_HEADER]: code });
const answering = (status: number, body: string, headers: Record<string, string> = {}): typeof fetch => (async () => new Response(body, { status, headers })) as typeof fetch;
const client = (f: typeof fetch) => createDicomWebClient({ baseUrl: 'http://app/sites/a/dicom-web', fetchImpl: f });
const signal = new AbortController().signal;

describe('one classifier for the gateway answers', () => {
  it('reads 401/403 and SITE_AUTH_FAILED as refused credentials, never retried, for the worklist and the outbox alike', () => {
    expect(classifyGatewayAnswer(401)).toEqual({ family: 'credentials', retryable: false });
    expect(classifyGatewayAnswer(403)).toEqual({ family: 'credentials', retryable: false });
    expect(classifyGatewayAnswer(502, 'SITE_AUTH_FAILED')).toEqual({ family: 'credentials', retryable: false });
    const err = new HttpStatusError(502, 'QIDO-RS 502', gatewayCode('SITE_AUTH_FAILED'));
    expect(classifySiteError(err)).toMatchObject({ kind: 'auth', message: 'authentication failed', code: 'SITE_AUTH_FAILED' });
    expect(isRetryableSiteError(err)).toBe(false);
    expect(stowErrorFor(502, 'SITE_AUTH_FAILED', 'STOW-RS', true)).toMatchObject({ kind: 'auth', message: 'the site refused our credentials', uncertain: false });
    // The gateway's own refusal is not the site's: FORBIDDEN wins over its 403.
    expect(classifySiteError(new HttpStatusError(403, 'x', gatewayCode('FORBIDDEN')))).toMatchObject({ kind: 'http', message: 'request refused by the gateway' });
    expect(stowErrorFor(403, 'FORBIDDEN', 'STOW-RS', true)).toMatchObject({ kind: 'rejected', message: 'the gateway refused the STOW-RS request' });
  });

  it('reads an expired app session (UNAUTHORIZED) as a page to reopen, not as the site refusing our credentials', () => {
    expect(classifyGatewayAnswer(401, 'UNAUTHORIZED')).toEqual({ family: 'session', retryable: false });
    expect(classifySiteError(new HttpStatusError(401, 'x', gatewayCode('UNAUTHORIZED')))).toMatchObject({ kind: 'host' });
    expect(stowErrorFor(401, 'UNAUTHORIZED', 'STOW-RS', true).message).toBe('the app host refused our session — reopen the app from the address the host printed');
  });

  it('tells an unknown site (NOT_FOUND) from a plain 404, which the stored-instances check reads as "none there"', async () => {
    expect(classifyGatewayAnswer(404, 'NOT_FOUND')).toEqual({ family: 'unknown-site', retryable: false });
    expect(classifyGatewayAnswer(404)).toEqual({ family: 'refused', retryable: false });
    expect(classifySiteError(new HttpStatusError(404, 'x'))).toMatchObject({ kind: 'http', message: 'failed (HTTP 404)' });
    expect(stowErrorFor(404, 'NOT_FOUND', 'STOW-RS', true)).toMatchObject({ kind: 'rejected', message: 'the site is no longer configured in this app' });
    expect([...(await client(answering(404, '')).findStoredInstances('1.2.3', [SOP], signal))]).toEqual([]);
    await expect(client(answering(404, '{}', { [GATEWAY_ERROR_HEADER]: 'NOT_FOUND' })).findStoredInstances('1.2.3', [SOP], signal)).rejects.toMatchObject({
      kind: 'rejected',
      message: 'the site is no longer configured in this app',
    });
  });

  it('reads a 409 store answer per instance (a duplicate or a refusal), and a 409 elsewhere as a refusal', async () => {
    const body = JSON.stringify({ '00081198': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: [SOP] }, '00081197': { vr: 'US', Value: [0x0111] } }] } });
    const outcome = await client(answering(409, body)).storeInstances(instances, signal);
    expect(outcome).toMatchObject({ status: 409, stored: [], failed: [{ sopInstanceUID: SOP, reason: 0x0111 }] });
    expect(classifyGatewayAnswer(409)).toEqual({ family: 'refused', retryable: false });
    expect(stowErrorFor(409, undefined, 'QIDO-RS', false)).toMatchObject({ kind: 'rejected', message: 'the site refused the QIDO-RS request (HTTP 409)' });
  });

  it('refuses a 413 (too large) for good instead of retrying it', async () => {
    expect(classifyGatewayAnswer(413)).toEqual({ family: 'refused', retryable: false });
    expect(isRetryableSiteError(new HttpStatusError(413, 'x'))).toBe(false);
    await expect(client(answering(413, 'too big')).storeInstances(instances, signal)).rejects.toMatchObject({
      kind: 'rejected',
      uncertain: false,
      message: 'the site refused the STOW-RS request (HTTP 413): too big',
    });
  });

  it('retries a 5xx; a 503/429 stored nothing, another 5xx after a POST may have', () => {
    expect(classifyGatewayAnswer(503)).toEqual({ family: 'busy', retryable: true });
    expect(classifyGatewayAnswer(429)).toEqual({ family: 'busy', retryable: true });
    expect(classifyGatewayAnswer(500)).toEqual({ family: 'server', retryable: true });
    expect(classifySiteError(new HttpStatusError(500, 'x'))).toMatchObject({ kind: 'http', message: 'failed (HTTP 500)' });
    expect(stowErrorFor(503, undefined, 'STOW-RS', true, 'busy')).toMatchObject({ kind: 'server', uncertain: false, message: 'the site is busy (HTTP 503): busy' });
    expect(stowErrorFor(502, undefined, 'STOW-RS', true)).toMatchObject({ kind: 'server', uncertain: true, message: 'the site failed (HTTP 502)' });
  });

  it('reads a timeout, an unreachable site and a gone host as offline and worth another try', async () => {
    expect(classifyGatewayAnswer(504, 'SITE_TIMEOUT')).toEqual({ family: 'timeout', retryable: true });
    expect(classifyGatewayAnswer(504)).toEqual({ family: 'timeout', retryable: true });
    expect(classifyGatewayAnswer(502, 'SITE_UNREACHABLE')).toEqual({ family: 'unreachable', retryable: true });
    expect(classifyGatewayAnswer(0)).toEqual({ family: 'no-host', retryable: true });
    expect(classifySiteError(new HttpStatusError(504, 'x', gatewayCode('SITE_TIMEOUT')))).toMatchObject({ kind: 'timeout', message: 'timed out' });
    expect(classifySiteError(new HttpStatusError(0, 'fetch failed'))).toMatchObject({ kind: 'host', message: 'no connection to the app host' });
    expect(stowErrorFor(504, 'SITE_TIMEOUT', 'STOW-RS', true)).toMatchObject({ kind: 'no-answer', uncertain: true, message: 'the site did not answer in time' });
    const offline = (async () => {
      throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') });
    }) as typeof fetch;
    await expect(client(offline).findStoredInstances('1.2.3', [SOP], signal)).rejects.toMatchObject({
      kind: 'no-answer',
      uncertain: false,
      message: 'no answer from the app host (connect ECONNREFUSED)',
    });
  });
});
