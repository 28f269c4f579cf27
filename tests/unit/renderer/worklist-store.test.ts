// @vitest-environment node
import { describe, expect, it } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import { createLogger, memorySink } from '../../../src/shared/log';
import type { ReferralPriority, ReferralRecord, StudyRecord } from '../../../src/renderer/cache/telerad-db';
import { classifySiteError } from '../../../src/renderer/dicomweb/site-error';
import type { SiteStudies, StudyRow } from '../../../src/renderer/worklist/qido-worklist';
import { createWorklistStore, selectVisibleRows, selectWorklistRows } from '../../../src/renderer/worklist/worklist-store';

function site(id: string, name: string): SiteSummary {
  return { id, name, url: `http://pacs.invalid/${id}`, authType: 'basic', gatewayPath: `/sites/${id}/dicom-web` };
}

function row(siteId: string, uid: string, patientName = 'DOE, JANE'): StudyRow {
  return {
    siteId,
    studyInstanceUID: uid,
    patientName,
    patientId: `ID-${uid}`,
    patientBirthDate: '',
    patientSex: '',
    studyDate: '20261120',
    modalities: ['CT'],
    description: '',
    accessionNumber: '',
    numInstances: 24,
  };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** What dicomweb-client rejects with when the gateway refuses the site's credentials. */
function gatewayError(code: string, status = 502): Error {
  return Object.assign(new Error('request failed'), {
    status,
    response: { code, message: 'from the gateway' },
    request: { getResponseHeader: (name: string) => (name.toLowerCase() === 'x-telerad-error' ? code : null) },
  });
}

const A = site('hospital-a', 'Hospital A');
const B = site('hospital-b', 'Hospital B');

describe('worklist store', () => {
  it('drops a late answer of an older refresh instead of overwriting the newer one', async () => {
    const answers: Deferred<SiteStudies>[] = [];
    const store = createWorklistStore({
      listSites: async () => [A],
      queryStudies: () => {
        const d = deferred<SiteStudies>();
        answers.push(d);
        return d.promise;
      },
      listCachedStudies: async () => [],
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });

    const first = store.refresh();
    await waitUntil(() => answers.length === 1);
    const second = store.refresh();
    await waitUntil(() => answers.length === 2);

    answers[1]!.resolve({ rows: [row('hospital-a', '1.2.new')] });
    await second;
    answers[0]!.resolve({ rows: [row('hospital-a', '1.2.old')] });
    await first;

    const s = store.getState();
    expect(s.sites[0]?.state).toBe('ok');
    expect(selectWorklistRows(s).map((r) => r.studyInstanceUID)).toEqual(['1.2.new']);
  });

  it('keeps the other sites\' rows when one site fails, with that site\'s reason', async () => {
    const store = createWorklistStore({
      listSites: async () => [A, B],
      queryStudies: async (s) => {
        if (s.id === 'hospital-b') throw gatewayError('SITE_AUTH_FAILED');
        return { rows: [row('hospital-a', '1.2.a1'), row('hospital-a', '1.2.a2')] };
      },
      listCachedStudies: async () => [],
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    await store.refresh();
    const s = store.getState();
    const a = s.sites.find((x) => x.site.id === 'hospital-a');
    const b = s.sites.find((x) => x.site.id === 'hospital-b');
    expect(a?.state).toBe('ok');
    expect(b?.state).toBe('error');
    expect(b?.message).toBe('authentication failed');
    expect(selectWorklistRows(s).map((r) => r.studyInstanceUID).sort()).toEqual(['1.2.a1', '1.2.a2']);
  });

  it('does not let a hanging site hold back the answer of another', async () => {
    const hang = deferred<SiteStudies>();
    const store = createWorklistStore({
      listSites: async () => [A, B],
      queryStudies: (s) => (s.id === 'hospital-b' ? hang.promise : Promise.resolve({ rows: [row('hospital-a', '1.2.a1')] })),
      listCachedStudies: async () => [],
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    void store.refresh();
    await waitUntil(() => store.getState().sites.find((x) => x.site.id === 'hospital-a')?.state === 'ok');
    expect(store.getState().sites.find((x) => x.site.id === 'hospital-b')?.state).toBe('loading');
    expect(selectWorklistRows(store.getState()).map((r) => r.studyInstanceUID)).toEqual(['1.2.a1']);
    hang.resolve({ rows: [] });
  });

  it('lists cached studies marked available offline when every site is unreachable', async () => {
    const cached: StudyRecord = {
      studyInstanceUID: '1.2.cached',
      siteId: 'hospital-a',
      patientName: 'TESTER, ANNA',
      patientId: 'E2E-0001',
      studyDate: '20261120',
      modalities: ['CT'],
      description: 'CT CHEST',
      numInstances: 24,
      complete: true,
      storedAt: 1,
    };
    const store = createWorklistStore({
      listSites: async () => [A, B],
      queryStudies: async () => {
        throw gatewayError('SITE_UNREACHABLE');
      },
      listCachedStudies: async () => [cached],
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    await store.refresh();
    const s = store.getState();
    expect(s.sites.map((x) => [x.state, x.message])).toEqual([
      ['error', 'unreachable'],
      ['error', 'unreachable'],
    ]);
    const rows = selectWorklistRows(s);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ studyInstanceUID: '1.2.cached', availableOffline: true, fromCacheOnly: true });
  });

  it('notifies subscribers and stops after unsubscribe', async () => {
    let calls = 0;
    const store = createWorklistStore({
      listSites: async () => [A],
      queryStudies: async () => ({ rows: [] }),
      listCachedStudies: async () => [],
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    const unsubscribe = store.subscribe(() => calls++);
    await store.refresh();
    expect(calls).toBeGreaterThan(0);
    const seen = calls;
    unsubscribe();
    await store.refresh();
    expect(calls).toBe(seen);
  });
});

function referral(siteId: string, uid: string, patch: Partial<ReferralRecord> = {}): ReferralRecord {
  return { studyInstanceUID: uid, siteId, attachments: [], hasReport: false, fetchedAt: 1, ...patch };
}

const withCount = (r: StudyRow, numInstances: number): StudyRow => ({ ...r, numInstances });

describe('worklist store: referral lookups', () => {
  it('lists the rows before any referral is read, then fills in priority and status', async () => {
    const lookup = deferred<ReferralRecord | undefined>();
    const store = createWorklistStore({
      listSites: async () => [A],
      queryStudies: async () => ({ rows: [row('hospital-a', '1.2.ref')] }),
      listCachedStudies: async () => [],
      lookupReferral: () => lookup.promise,
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    await store.refresh();
    const before = selectWorklistRows(store.getState());
    expect(before).toHaveLength(1);
    expect(before[0]).toMatchObject({ referralState: 'pending', status: 'new' });
    expect(before[0]?.priority).toBeUndefined();

    lookup.resolve(referral('hospital-a', '1.2.ref', { noteSopInstanceUID: '1.2.note', priority: 'STAT' }));
    await store.referralsIdle();
    expect(selectWorklistRows(store.getState())[0]).toMatchObject({ priority: 'STAT', status: 'awaiting-report', referralState: 'done' });
  });

  it('keeps the answer for the study as it is now when a slow read of it as it was lands later', async () => {
    // Refresh 1 lists the study with 2 instances; refresh 2 with 3 (a report was added at the site).
    let count = 2;
    const reads: { count: number; d: Deferred<ReferralRecord | undefined> }[] = [];
    const store = createWorklistStore({
      listSites: async () => [A],
      queryStudies: async () => ({ rows: [withCount(row('hospital-a', '1.2.x'), count)] }),
      listCachedStudies: async () => [],
      lookupReferral: () => {
        const d = deferred<ReferralRecord | undefined>();
        reads.push({ count, d });
        return d.promise;
      },
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    await store.refresh();
    await waitUntil(() => reads.length === 1);
    count = 3;
    await store.refresh();
    await waitUntil(() => reads.length === 2);

    reads[1]!.d.resolve(referral('hospital-a', '1.2.x', { noteSopInstanceUID: '1.2.note', priority: 'urgent', hasReport: true }));
    await waitUntil(() => selectWorklistRows(store.getState())[0]?.status === 'reported');
    // The read started before the report arrived answers last, and says "no report yet": it must be dropped.
    reads[0]!.d.resolve(referral('hospital-a', '1.2.x', { noteSopInstanceUID: '1.2.note', priority: 'STAT', hasReport: false }));
    await store.referralsIdle();

    const [r] = selectWorklistRows(store.getState());
    expect(r).toMatchObject({ status: 'reported', priority: 'urgent', numInstances: 3 });
  });

  it('reads each study once while its instance count stays the same, however often the list refreshes', async () => {
    const calls: string[] = [];
    const store = createWorklistStore({
      listSites: async () => [A],
      queryStudies: async () => ({ rows: [row('hospital-a', '1.2.a'), row('hospital-a', '1.2.b')] }),
      listCachedStudies: async () => [],
      lookupReferral: async (_site, uid) => {
        calls.push(uid);
        return undefined;
      },
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    await store.refresh();
    await store.referralsIdle();
    await store.refresh();
    await store.refresh();
    await store.referralsIdle();
    expect(calls.sort()).toEqual(['1.2.a', '1.2.b']);
    expect(selectWorklistRows(store.getState()).map((r) => [r.priority, r.status])).toEqual([
      ['routine', 'new'],
      ['routine', 'new'],
    ]);
  });

  it('never has more referral reads in flight than its concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    const rows = Array.from({ length: 12 }, (_, i) => row('hospital-a', `1.2.${i}`));
    const store = createWorklistStore({
      listSites: async () => [A],
      queryStudies: async () => ({ rows }),
      listCachedStudies: async () => [],
      referralConcurrency: 3,
      lookupReferral: async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return undefined;
      },
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    await store.refresh();
    await store.referralsIdle();
    expect(peak).toBe(3);
    expect(selectWorklistRows(store.getState()).every((r) => r.referralState === 'done')).toBe(true);
  });

  it('leaves the priority unknown when a referral cannot be read, and reads it again on the next refresh', async () => {
    let fail = true;
    const store = createWorklistStore({
      listSites: async () => [A],
      queryStudies: async () => ({ rows: [row('hospital-a', '1.2.f')] }),
      listCachedStudies: async () => [],
      lookupReferral: async (_site, uid) => {
        if (fail) throw new Error('QIDO-RS 500');
        return referral('hospital-a', uid, { noteSopInstanceUID: '1.2.n', priority: 'urgent' });
      },
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    await store.refresh();
    await store.referralsIdle();
    expect(selectWorklistRows(store.getState())[0]).toMatchObject({ referralState: 'error' });
    expect(selectWorklistRows(store.getState())[0]?.priority).toBeUndefined();
    fail = false;
    await store.refresh();
    await store.referralsIdle();
    expect(selectWorklistRows(store.getState())[0]).toMatchObject({ referralState: 'done', priority: 'urgent' });
  });

  it('shows local draft / queued / sent state, and a report at the site wins over it', async () => {
    const store = createWorklistStore({
      listSites: async () => [A],
      queryStudies: async () => ({ rows: [row('hospital-a', '1.2.d'), row('hospital-a', '1.2.r')] }),
      listCachedStudies: async () => [],
      lookupReferral: async (_s, uid) => referral('hospital-a', uid, { noteSopInstanceUID: 'n', hasReport: uid === '1.2.r' }),
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    await store.refresh();
    await store.referralsIdle();
    store.setLocalStatus('hospital-a', '1.2.d', 'draft');
    store.setLocalStatus('hospital-a', '1.2.r', 'sent');
    const byUid = new Map(selectWorklistRows(store.getState()).map((r) => [r.studyInstanceUID, r.status]));
    expect(byUid.get('1.2.d')).toBe('draft');
    expect(byUid.get('1.2.r')).toBe('reported');
    store.setLocalStatus('hospital-a', '1.2.d', undefined);
    expect(selectWorklistRows(store.getState()).find((r) => r.studyInstanceUID === '1.2.d')?.status).toBe('awaiting-report');
  });

  it('without a referral reader wired, every study is routine and new at once', async () => {
    const store = createWorklistStore({
      listSites: async () => [A],
      queryStudies: async () => ({ rows: [row('hospital-a', '1.2.z')] }),
      listCachedStudies: async () => [],
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    await store.refresh();
    expect(selectWorklistRows(store.getState())[0]).toMatchObject({ priority: 'routine', status: 'new', referralState: 'done' });
  });
});

describe('worklist store: merged rows', () => {
  it('says how many studies a capped site holds at least', async () => {
    const store = createWorklistStore({
      listSites: async () => [A],
      queryStudies: async () => ({ rows: [row('hospital-a', '1.2.1')], cappedAt: 1 }),
      listCachedStudies: async () => [],
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    await store.refresh();
    expect(store.getState().sites[0]).toMatchObject({ state: 'ok', cappedAt: 1 });
  });

  it('gives a cached complete study its exact stored size and a listed one an estimate', async () => {
    const cached: StudyRecord = {
      studyInstanceUID: '1.2.a',
      siteId: 'hospital-a',
      patientName: 'X',
      patientId: 'X',
      studyDate: '20261120',
      modalities: ['CT'],
      description: '',
      numInstances: 24,
      complete: true,
      storedAt: 1,
    };
    const store = createWorklistStore({
      listSites: async () => [A],
      queryStudies: async () => ({ rows: [row('hospital-a', '1.2.a'), row('hospital-a', '1.2.b')] }),
      listCachedStudies: async () => [cached],
      cachedStudyBytes: async (uids) => new Map(uids.map((u) => [u, 12_600_000])),
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    await store.refresh();
    const byUid = new Map(selectWorklistRows(store.getState()).map((r) => [r.studyInstanceUID, r]));
    expect(byUid.get('1.2.a')).toMatchObject({ size: { bytes: 12_600_000, exact: true }, availableOffline: true });
    expect(byUid.get('1.2.b')).toMatchObject({ size: { bytes: 24 * 530_000, exact: false }, availableOffline: false });
  });

  it('orders by priority then longest waiting by default, and the filter narrows the list', async () => {
    const at = (uid: string, date: string, time: string): StudyRow => ({ ...row('hospital-a', uid), studyDate: date, studyTime: time });
    const priorities: Record<string, ReferralPriority | undefined> = { '1.2.old-routine': undefined, '1.2.new-stat': 'STAT', '1.2.old-stat': 'STAT', '1.2.urgent': 'urgent' };
    const store = createWorklistStore({
      listSites: async () => [A, B],
      queryStudies: async (s) =>
        s.id === 'hospital-a'
          ? { rows: [at('1.2.old-routine', '20240101', '080000'), at('1.2.new-stat', '20260101', '120000'), at('1.2.old-stat', '20250101', '120000')] }
          : { rows: [{ ...at('1.2.urgent', '20250601', '000000'), siteId: 'hospital-b' }] },
      listCachedStudies: async () => [],
      lookupReferral: async (site, uid) => {
        const priority = priorities[uid];
        return priority ? referral(site.id, uid, { noteSopInstanceUID: 'n', priority }) : undefined;
      },
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    await store.refresh();
    await store.referralsIdle();
    const now = Date.UTC(2026, 5, 1);
    const visible = (): string[] => selectVisibleRows(selectWorklistRows(store.getState()), store.getState(), now).map((r) => r.studyInstanceUID);
    expect(visible()).toEqual(['1.2.old-stat', '1.2.new-stat', '1.2.urgent', '1.2.old-routine']);
    store.setFilter({ priority: 'STAT' });
    expect(visible()).toEqual(['1.2.old-stat', '1.2.new-stat']);
    store.setFilter({ priority: '', siteId: 'hospital-b' });
    expect(visible()).toEqual(['1.2.urgent']);
    store.clearFilter();
    store.setSort({ key: 'patientId', dir: 'desc' });
    expect(visible()[0]).toBe('1.2.urgent');
  });
});

describe('site error classification', () => {
  it('reads the gateway code from the x-telerad-error header or the JSON body', () => {
    expect(classifySiteError(gatewayError('SITE_TIMEOUT', 504)).message).toBe('timed out');
    expect(classifySiteError(gatewayError('SITE_UNREACHABLE')).message).toBe('unreachable');
    const bodyOnly = Object.assign(new Error('request failed'), {
      status: 502,
      response: new TextEncoder().encode(JSON.stringify({ code: 'SITE_AUTH_FAILED', message: 'x' })).buffer,
      request: { getResponseHeader: () => null },
    });
    expect(classifySiteError(bodyOnly)).toMatchObject({ kind: 'auth', message: 'authentication failed' });
    expect(classifySiteError(Object.assign(new Error('x'), { status: 0 })).kind).toBe('host');
    expect(classifySiteError(Object.assign(new Error('x'), { status: 500 })).message).toBe('failed (HTTP 500)');
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 1000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 1));
  }
}
