import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fault, ProxyRequest } from '../../support/fault-proxy';
import { isRendered, isWado } from '../../support/fault-proxy';
import { SITE_NAME, startRetrievalHarness } from './harness';
import type { Renderer, RetrievalHarness } from './harness';

// Each bad answer a site can give: a clear message naming the site and what
// failed, and the cache exactly as it was (a partly cached study keeps every
// stored instance, byte for byte; another, complete study is not touched).
let h: RetrievalHarness;
let r: Renderer;

/** The instance list of a study (QIDO-RS at instance level), not a WADO-RS retrieve. */
const isInstanceList = (q: ProxyRequest): boolean => !isWado(q) && /\/studies\/[^/]+\/instances/.test(q.path);

async function snapshot(): Promise<unknown> {
  const [studies, series, instances, bytes] = await Promise.all([
    r.db.studies.toArray(),
    r.db.series.toArray(),
    r.db.instances.toArray(),
    r.db.instanceBytes.toArray(),
  ]);
  return {
    studies: studies.map(({ lastOpenedAt: _l, ...s }) => s),
    series,
    instances,
    bytes: bytes.map((b) => [b.sopInstanceUID, b.bytes.byteLength, Buffer.from(b.bytes).toString('base64').slice(-64)]),
  };
}

beforeAll(async () => {
  h = await startRetrievalHarness({ studies: [{ slices: 5, rows: 256, columns: 256 }, { slices: 2, rows: 256, columns: 256 }], gatewayTimeoutMs: 800 });
  r = h.renderer({ retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 50 } });
  // Study 1 complete, study 0 with three of its five instances stored.
  for (const s of h.studies) expect((await r.retriever.ensureStudy({ site: h.site, study: h.studyFields(s) })).complete).toBe(true);
  const partial = h.studies[0]!;
  for (const sop of partial.sopInstanceUIDs.slice(3)) {
    await r.db.instances.delete(sop);
    await r.db.instanceBytes.delete(sop);
  }
  await r.db.studies.update(partial.studyInstanceUID, { complete: false });
});

afterAll(async () => {
  await h?.close();
});

const cases: Array<{ name: string; fault: Fault; match: (q: ProxyRequest) => boolean; message: RegExp }> = [
  {
    name: 'malformed QIDO JSON',
    fault: { kind: 'rewrite', body: 'malformed-json' },
    match: isInstanceList,
    message: /sent an answer that is not valid JSON while listing the study's instances by QIDO-RS/,
  },
  {
    name: 'a multipart body with a wrong boundary',
    fault: { kind: 'rewrite', body: 'wrong-boundary' },
    match: isWado,
    message: /sent a malformed answer: the multipart body does not contain the boundary its Content-Type names .* while retrieving instance [\d.]+ by WADO-RS/,
  },
  {
    name: 'a 200 with a truncated body',
    fault: { kind: 'rewrite', body: 'truncated' },
    match: isWado,
    message: /sent a malformed answer: multipart body is truncated while retrieving instance [\d.]+ by WADO-RS/,
  },
  { name: 'a site that never answers', fault: { kind: 'hang' }, match: isWado, message: /timed out while retrieving instance [\d.]+ by WADO-RS/ },
  { name: '401', fault: { kind: 'status', status: 401 }, match: isWado, message: /authentication failed while retrieving instance/ },
  { name: '403', fault: { kind: 'status', status: 403 }, match: isWado, message: /authentication failed while retrieving instance/ },
  { name: '404', fault: { kind: 'status', status: 404 }, match: isWado, message: /failed \(HTTP 404\) while retrieving instance/ },
  { name: '500', fault: { kind: 'status', status: 500 }, match: isWado, message: /failed \(HTTP 500\) while retrieving instance/ },
  { name: '503 (after retries)', fault: { kind: 'status', status: 503 }, match: isWado, message: /failed \(HTTP 503\) while retrieving instance/ },
  {
    name: 'QIDO 500',
    fault: { kind: 'status', status: 500 },
    match: isInstanceList,
    message: /failed \(HTTP 500\) while listing the study's instances by QIDO-RS/,
  },
];

describe('bad answers from a site', () => {
  it.each(cases)('$name: names the site and what failed, and leaves the cache as it was', async ({ fault, match, message }) => {
    const before = await snapshot();
    h.proxy.addFault({ fault, match, times: Infinity });
    try {
      const result = await r.retriever.ensureStudy({ site: h.site, study: h.studyFields(h.studies[0]!) });
      expect(result.complete).toBe(false);
      expect(result.failure?.message).toMatch(message);
    } finally {
      h.proxy.clearFaults();
    }
    const row = r.transfers.getState().transfers[0]!;
    expect(row.state).toBe('failed');
    expect(row.lastError).toMatch(new RegExp(`^${SITE_NAME}: `));
    expect(row.lastError).toMatch(message);
    expect(await snapshot()).toEqual(before);
  });

  it('a study with nothing cached says so, naming the site', async () => {
    const empty = h.renderer({ retry: { attempts: 1 } });
    // Previews too: with only previews stored the study opens on them, which is not "nothing cached".
    h.proxy.addFault({ fault: { kind: 'status', status: 404 }, match: (r) => isWado(r) || isRendered(r), times: Infinity });
    try {
      await expect(empty.retriever.ensureStudy({ site: h.site, study: h.studyFields(h.studies[1]!) })).rejects.toThrow(
        /^Hospital A: failed \(HTTP 404\) while retrieving instance/,
      );
    } finally {
      h.proxy.clearFaults();
    }
    expect(await empty.db.instances.count()).toBe(0);
  });
});
