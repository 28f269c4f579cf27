// @vitest-environment node
import { describe, expect, it } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import { createDicomWebApiFactory } from '../../../src/renderer/dicomweb/dicomweb-api';
import { classifyWorklistError, querySiteStudies, studyRowFromQido } from '../../../src/renderer/worklist/qido-worklist';

const SITE: SiteSummary = { id: 'hospital-a', name: 'Hospital A', url: 'http://pacs.invalid', authType: 'basic', gatewayPath: '/sites/hospital-a/dicom-web' };

function study(i: number): Record<string, unknown> {
  return {
    '0020000D': { vr: 'UI', Value: [`1.2.${i}`] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: `PATIENT^${i}` }] },
    '00080020': { vr: 'DA', Value: ['20260101'] },
  };
}

/** A QIDO-RS server over `total` studies that honours limit/offset like Orthanc (or ignores them, if told). */
function pagingSite(total: number, opts: { ignoreOffset?: boolean; ignoreLimit?: boolean } = {}): typeof fetch & { urls: URL[] } {
  const urls: URL[] = [];
  const f = (async (input: RequestInfo | URL) => {
    const url = new URL(String(input));
    urls.push(url);
    const limit = opts.ignoreLimit ? total : Number(url.searchParams.get('limit') ?? total);
    const offset = opts.ignoreOffset ? 0 : Number(url.searchParams.get('offset') ?? 0);
    const page = Array.from({ length: Math.max(0, Math.min(limit, total - offset)) }, (_, k) => study(offset + k));
    return new Response(JSON.stringify(page), { status: 200, headers: { 'content-type': 'application/dicom+json' } });
  }) as typeof fetch & { urls: URL[] };
  f.urls = urls;
  return f;
}

const api = (f: typeof fetch) => createDicomWebApiFactory('http://127.0.0.1:1', f)(SITE);

describe('worklist QIDO-RS paging', () => {
  it('fetches every study of a site page by page with limit and offset', async () => {
    const f = pagingSite(1234);
    const { rows, cappedAt } = await querySiteStudies(api(f), SITE, { pageSize: 500, cap: 5000 });
    expect(rows).toHaveLength(1234);
    expect(new Set(rows.map((r) => r.studyInstanceUID)).size).toBe(1234);
    expect(cappedAt).toBeUndefined();
    expect(f.urls.map((u) => [u.searchParams.get('limit'), u.searchParams.get('offset')])).toEqual([
      ['500', '0'],
      ['500', '500'],
      ['500', '1000'],
    ]);
  });

  it('stops at the cap and says there were more', async () => {
    const { rows, cappedAt } = await querySiteStudies(api(pagingSite(800)), SITE, { pageSize: 250, cap: 600 });
    expect(rows).toHaveLength(600);
    expect(cappedAt).toBe(600);
  });

  it('is not fooled by exactly the cap: no "more than" when the site holds exactly that many', async () => {
    const { rows, cappedAt } = await querySiteStudies(api(pagingSite(600)), SITE, { pageSize: 200, cap: 600 });
    expect(rows).toHaveLength(600);
    expect(cappedAt).toBeUndefined();
  });

  it('ends when a server ignores offset (the same page again) or limit (everything at once)', async () => {
    const noOffset = pagingSite(1000, { ignoreOffset: true });
    const a = await querySiteStudies(api(noOffset), SITE, { pageSize: 100, cap: 5000 });
    expect(a.rows).toHaveLength(100);
    expect(noOffset.urls.length).toBe(2);
    const noLimit = await querySiteStudies(api(pagingSite(700, { ignoreLimit: true })), SITE, { pageSize: 100, cap: 500 });
    expect(noLimit.rows).toHaveLength(500);
    expect(noLimit.cappedAt).toBe(500);
  });

  it('reads age, time, body part and time zone when the site sends them, and skips entries that are not datasets', () => {
    const row = studyRowFromQido('s', {
      ...study(1),
      '00101010': { vr: 'AS', Value: ['045Y'] },
      '00080030': { vr: 'TM', Value: ['101500'] },
      '00180015': { vr: 'CS', Value: ['CHEST'] },
      '00080201': { vr: 'SH', Value: ['+0200'] },
    } as never);
    expect(row).toMatchObject({ patientAge: '045Y', studyTime: '101500', bodyPart: 'CHEST', timezoneOffset: '+0200' });
    expect(studyRowFromQido('s', null as never)).toBeUndefined();
    expect(studyRowFromQido('s', 'x' as never)).toBeUndefined();
  });
});

describe('bad QIDO-RS answers become a plain status line', () => {
  const answering = (body: string, status = 200, headers: Record<string, string> = { 'content-type': 'application/dicom+json' }): typeof fetch =>
    (async () => new Response(body, { status, headers })) as typeof fetch;
  const failureOf = async (f: typeof fetch): Promise<string> => {
    const err = await querySiteStudies(api(f), SITE).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeDefined();
    return classifyWorklistError(err).message;
  };

  it('names malformed JSON', async () => {
    expect(await failureOf(answering('[{"0020000D": {"vr": "UI", "Value": ["1.2'))).toBe('study search failed: the answer is not valid JSON');
  });

  it('names JSON that is not a list of studies', async () => {
    expect(await failureOf(answering('{"studies": []}'))).toBe('study search failed: the answer is not a list of studies');
  });

  it('names the HTTP status of a site error', async () => {
    expect(await failureOf(answering('internal error', 500, { 'content-type': 'text/plain' }))).toBe('study search failed: the site answered HTTP 500');
  });

  it('keeps the gateway\'s own reasons (authentication, unreachable) as they are', async () => {
    const f = answering(JSON.stringify({ code: 'SITE_UNREACHABLE', message: 'x' }), 502, { 'content-type': 'application/json', 'x-telerad-error': 'SITE_UNREACHABLE' });
    expect(await failureOf(f)).toBe('unreachable');
  });
});
