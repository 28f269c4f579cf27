// @vitest-environment node
import { describe, expect, it } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import { createLogger, memorySink } from '../../../src/shared/log';
import type { StudyRecord } from '../../../src/renderer/cache/telerad-db';
import { classifySiteError } from '../../../src/renderer/dicomweb/site-error';
import type { StudyRow } from '../../../src/renderer/worklist/qido-worklist';
import { createWorklistStore, selectWorklistRows } from '../../../src/renderer/worklist/worklist-store';

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
    const answers: Deferred<StudyRow[]>[] = [];
    const store = createWorklistStore({
      listSites: async () => [A],
      queryStudies: () => {
        const d = deferred<StudyRow[]>();
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

    answers[1]!.resolve([row('hospital-a', '1.2.new')]);
    await second;
    answers[0]!.resolve([row('hospital-a', '1.2.old')]);
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
        return [row('hospital-a', '1.2.a1'), row('hospital-a', '1.2.a2')];
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
    const hang = deferred<StudyRow[]>();
    const store = createWorklistStore({
      listSites: async () => [A, B],
      queryStudies: (s) => (s.id === 'hospital-b' ? hang.promise : Promise.resolve([row('hospital-a', '1.2.a1')])),
      listCachedStudies: async () => [],
      classifyError: classifySiteError,
      log: createLogger('test', memorySink()),
    });
    void store.refresh();
    await waitUntil(() => store.getState().sites.find((x) => x.site.id === 'hospital-a')?.state === 'ok');
    expect(store.getState().sites.find((x) => x.site.id === 'hospital-b')?.state).toBe('loading');
    expect(selectWorklistRows(store.getState()).map((r) => r.studyInstanceUID)).toEqual(['1.2.a1']);
    hang.resolve([]);
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
      queryStudies: async () => [],
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
