import { describe, expect, it } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import { createLogger } from '../../../src/shared/log';
import type { EnsureStudyRequest, EnsureStudyResult } from '../../../src/renderer/cache/study-retriever';
import { StudyUnavailableError } from '../../../src/renderer/cache/study-retriever';
import type { ReferralPriority } from '../../../src/renderer/cache/telerad-db';
import { createPrefetchScheduler, orderPrefetch } from '../../../src/renderer/prefetch/prefetch-scheduler';
import type { NetworkStatus, PrefetchCandidate, PrefetchRetriever } from '../../../src/renderer/prefetch/prefetch-scheduler';
import { TokenBucket } from '../../../src/renderer/prefetch/token-bucket';
import type { PrefetchClock } from '../../../src/renderer/prefetch/token-bucket';

const log = createLogger('test', () => undefined);

/** Timers that only move when the test says so. */
class FakeClock implements PrefetchClock {
  t = 0;
  private seq = 0;
  private timers: Array<{ id: number; at: number; fn: () => void }> = [];
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.push({ id, at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = end;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

function site(id: string): SiteSummary {
  return { id, name: `Site ${id}` } as SiteSummary;
}

function candidate(uid: string, siteId: string, priority?: ReferralPriority, availableOffline = false): PrefetchCandidate {
  return {
    siteId,
    ...(priority ? { priority } : {}),
    availableOffline,
    study: { studyInstanceUID: uid, siteId, patientName: uid, patientId: '', studyDate: '', modalities: ['CT'], description: '', numInstances: 3 },
  };
}

/** A retriever whose retrievals finish when the test says so; it records every call. */
class FakeRetriever implements PrefetchRetriever {
  calls: EnsureStudyRequest[] = [];
  private pending: Array<{ req: EnsureStudyRequest; resolve: (r: EnsureStudyResult) => void; reject: (e: unknown) => void }> = [];
  foregroundActive = 0;
  private listeners = new Set<(n: number) => void>();
  /** When set, every retrieval runs this instead of waiting for the test. */
  behaviour?: (req: EnsureStudyRequest) => Promise<EnsureStudyResult>;

  ensureStudy(req: EnsureStudyRequest): Promise<EnsureStudyResult> {
    this.calls.push(req);
    if (this.behaviour) return this.behaviour(req);
    return new Promise((resolve, reject) => {
      const entry = { req, resolve, reject };
      this.pending.push(entry);
      req.signal?.addEventListener('abort', () => {
        this.pending = this.pending.filter((p) => p !== entry);
        resolve({ source: 'network', complete: false, failure: { kind: 'other', message: 'retrieval cancelled' } });
      });
    });
  }
  finish(uid: string, result: EnsureStudyResult | Error = { source: 'network', complete: true }): void {
    const p = this.pending.find((x) => x.req.study.studyInstanceUID === uid);
    if (!p) throw new Error(`${uid} is not being retrieved`);
    this.pending = this.pending.filter((x) => x !== p);
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
  }
  running(): string[] {
    return this.pending.map((p) => p.req.study.studyInstanceUID);
  }
  setForeground(n: number): void {
    this.foregroundActive = n;
    for (const l of this.listeners) l(n);
  }
  onForegroundChange(listener: (n: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

class FakeNetwork implements NetworkStatus {
  online = true;
  private listeners = new Set<(online: boolean) => void>();
  isOnline = (): boolean => this.online;
  subscribe(listener: (online: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(online: boolean): void {
    this.online = online;
    for (const l of this.listeners) l(online);
  }
}

function setup(opts: { candidates: PrefetchCandidate[]; marks?: string[]; keepOffline?: string[]; cap?: number; probe?: () => Promise<void> }) {
  const clock = new FakeClock();
  const retriever = new FakeRetriever();
  const network = new FakeNetwork();
  const touched: string[] = [];
  const complete = new Set<string>();
  const probes: string[] = [];
  let probe = opts.probe ?? (() => Promise.resolve());
  const scheduler = createPrefetchScheduler({
    retriever,
    cache: {
      getStudy: async (uid) => (complete.has(uid) ? ({ studyInstanceUID: uid, complete: true } as never) : undefined),
      touchAccessed: async (uid) => {
        touched.push(uid);
      },
    },
    prefs: {
      marks: async () => (opts.marks ?? []).map((uid) => ({ studyInstanceUID: uid, siteId: 'a', markedAt: 0 })),
      keepOfflineSites: async () => new Set(opts.keepOffline ?? []),
      bandwidthCap: async () => opts.cap,
    },
    candidates: () => opts.candidates,
    site: (id) => site(id),
    probe: (s) => {
      probes.push(s.id);
      return probe();
    },
    network,
    log,
    onStudyComplete: (uid) => complete.add(uid),
    clock,
  });
  return {
    clock,
    retriever,
    network,
    scheduler,
    touched,
    probes,
    setProbe: (p: () => Promise<void>) => (probe = p),
  };
}

describe('prefetch rule', () => {
  it('takes STAT, then urgent, then marked, then keep-offline cases, and leaves other routine cases alone', () => {
    const order = orderPrefetch(
      [
        candidate('keep-1', 'kept'),
        candidate('routine', 'a', 'routine'),
        candidate('marked', 'a', 'routine'),
        candidate('urgent', 'a', 'urgent'),
        candidate('stat', 'b', 'STAT'),
        candidate('stat-cached', 'b', 'STAT', true),
        candidate('keep-2', 'kept', 'routine'),
      ],
      new Set(['marked']),
      new Set(['kept']),
    );
    expect(order.map((e) => [e.candidate.study.studyInstanceUID, e.reason])).toEqual([
      ['stat', 'STAT'],
      ['urgent', 'urgent'],
      ['marked', 'marked'],
      ['keep-1', 'keep-offline'],
      ['keep-2', 'keep-offline'],
    ]);
  });

  it('downloads one case at a time in rule order, in the background, and notes each as accessed', async () => {
    const t = setup({
      candidates: [candidate('keep', 'kept'), candidate('marked', 'a'), candidate('urgent', 'a', 'urgent'), candidate('stat', 'a', 'STAT')],
      marks: ['marked'],
      keepOffline: ['kept'],
    });
    t.scheduler.start();
    const seen: string[] = [];
    for (const uid of ['stat', 'urgent', 'marked', 'keep']) {
      await t.clock.advance(0);
      expect(t.retriever.running()).toEqual([uid]);
      expect(t.scheduler.getState().phase).toBe('running');
      expect(t.retriever.calls.at(-1)?.background).toBeDefined();
      seen.push(uid);
      t.retriever.finish(uid);
    }
    await t.clock.advance(0);
    expect(t.retriever.calls.map((c) => c.study.studyInstanceUID)).toEqual(seen);
    expect(t.touched).toEqual(seen);
    expect(t.scheduler.getState().phase).toBe('idle');
    t.scheduler.stop();
  });
});

describe('prefetch pauses', () => {
  it('stops when the browser goes offline and resumes the same case when it is back', async () => {
    const t = setup({ candidates: [candidate('stat', 'a', 'STAT')] });
    t.scheduler.start();
    await t.clock.advance(0);
    expect(t.retriever.running()).toEqual(['stat']);

    t.network.set(false);
    await t.clock.advance(0);
    expect(t.retriever.running()).toEqual([]);
    expect(t.scheduler.getState().phase).toBe('paused-offline');
    await t.clock.advance(60_000);
    expect(t.retriever.calls).toHaveLength(1);

    t.network.set(true);
    await t.clock.advance(0);
    expect(t.retriever.running()).toEqual(['stat']);
    expect(t.retriever.calls).toHaveLength(2);
    t.retriever.finish('stat');
    await t.clock.advance(0);
    expect(t.scheduler.getState().phase).toBe('idle');
    t.scheduler.stop();
  });

  it('probes an unreachable site every 30 s and resumes when it answers', async () => {
    const t = setup({ candidates: [candidate('stat', 'a', 'STAT')] });
    t.setProbe(() => Promise.reject(new Error('down')));
    t.scheduler.start();
    await t.clock.advance(0);
    t.retriever.finish('stat', new StudyUnavailableError('not available offline', { kind: 'unreachable', message: 'cannot be reached' }));
    await t.clock.advance(0);
    expect(t.scheduler.getState()).toMatchObject({ phase: 'paused-offline', offlineSites: ['a'], online: true });

    await t.clock.advance(29_000);
    expect(t.probes).toEqual([]);
    await t.clock.advance(1_000);
    expect(t.probes).toEqual(['a']);
    await t.clock.advance(30_000);
    expect(t.probes).toEqual(['a', 'a']);
    expect(t.retriever.calls).toHaveLength(1);

    t.setProbe(() => Promise.resolve());
    await t.clock.advance(30_000);
    expect(t.retriever.running()).toEqual(['stat']);
    expect(t.scheduler.getState().phase).toBe('running');
    t.scheduler.stop();
  });

  it('stands aside while the user opens a case, then takes its case up again', async () => {
    const t = setup({ candidates: [candidate('stat', 'a', 'STAT'), candidate('urgent', 'a', 'urgent')] });
    t.scheduler.start();
    await t.clock.advance(0);
    expect(t.retriever.running()).toEqual(['stat']);

    t.retriever.setForeground(1);
    await t.clock.advance(0);
    expect(t.retriever.running()).toEqual([]);
    expect(t.scheduler.getState().yielding).toBe(true);

    t.retriever.setForeground(0);
    await t.clock.advance(0);
    expect(t.retriever.running()).toEqual(['stat']);
    t.scheduler.stop();
  });
});

describe('bandwidth cap', () => {
  it('holds background downloads to the cap, measured on a fake clock', async () => {
    const cap = 200_000; // bytes per second
    const instance = 50_000;
    const instances = 40; // 2 MB: at least ~9 s under the cap
    const t = setup({ candidates: [candidate('stat', 'a', 'STAT')], cap });
    const received: Array<{ at: number; bytes: number }> = [];
    let finished = false;
    t.retriever.behaviour = async (req) => {
      // Like the retriever: a few requests in parallel, each paced before it starts, chunks charged as they arrive.
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < instances) {
          next++;
          await req.background!.beforeRequest(req.signal!);
          for (let c = 0; c < 5; c++) {
            req.background!.onBytes(instance / 5);
            received.push({ at: t.clock.now(), bytes: instance / 5 });
            await Promise.resolve();
          }
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      finished = true;
      return { source: 'network', complete: true };
    };
    t.scheduler.start();
    for (let i = 0; i < 200 && !finished; i++) await t.clock.advance(250);

    const total = received.reduce((n, r) => n + r.bytes, 0);
    expect(total).toBe(instances * instance);
    const elapsed = Math.max(...received.map((r) => r.at));
    // The whole set takes at least (total − one second's burst − four instances in flight) / cap.
    expect(elapsed).toBeGreaterThanOrEqual(((total - cap - 4 * instance) / cap) * 1000);
    // And in every window the rate stays within the cap plus that slack.
    for (let from = 0; from < elapsed; from += 1000) {
      const inWindow = received.filter((r) => r.at >= from && r.at < from + 3000).reduce((n, r) => n + r.bytes, 0);
      expect(inWindow).toBeLessThanOrEqual(3 * cap + cap + 4 * instance);
    }
    // Not throttled to a crawl either: within 25% of the ideal time.
    expect(elapsed).toBeLessThan((total / cap) * 1000 * 1.25);
    t.scheduler.stop();
  });

  it('lets requests through at once without a cap', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(() => undefined, clock);
    bucket.consume(10_000_000);
    let passed = false;
    void bucket.wait().then(() => (passed = true));
    await settle();
    expect(passed).toBe(true);
  });
});
