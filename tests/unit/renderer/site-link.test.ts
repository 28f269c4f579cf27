import { describe, expect, it } from 'vitest';
import { SiteLink } from '../../../src/renderer/cache/site-link';
import type { LinkSource, LinkWork } from '../../../src/renderer/cache/site-link';
import type { WorkKind } from '../../../src/renderer/cache/retrieval-order';

// The request slots to one site, shared by every retrieval from it. The
// sources here are narrow doubles: each hands out its queued requests in
// order (previews only while the link offers preview slots, as the
// retriever does) and every request waits until the test settles it.

interface Running {
  label: string;
  kind: WorkKind;
  finish(): Promise<void>;
  fail(): Promise<void>;
}

/** Lets the link's `.finally` continuation (and the pump after it) run. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

class Requests {
  readonly started: Running[] = [];
  labels(): string[] {
    return this.started.map((r) => r.label);
  }
  running(label: string): Running {
    const r = this.started.find((s) => s.label === label);
    if (!r) throw new Error(`${label} was not started; started: ${this.labels().join(', ')}`);
    return r;
  }
}

type FakeSource = LinkSource & { foreground: boolean; rank: number; paused: boolean; offered: number[]; queue: WorkKind[] };

function source(name: string, requests: Requests, queue: WorkKind[], props: Partial<Pick<FakeSource, 'foreground' | 'rank' | 'paused'>> = {}): FakeSource {
  let n = 0;
  const s: FakeSource = {
    foreground: props.foreground ?? true,
    rank: props.rank ?? 0,
    paused: props.paused ?? false,
    offered: [],
    queue: [...queue],
    next(previewSlots): LinkWork | undefined {
      s.offered.push(previewSlots);
      const k = s.queue.findIndex((kind) => kind === 'lossless' || previewSlots > 0);
      if (k < 0) return undefined;
      const [kind] = s.queue.splice(k, 1) as [WorkKind];
      const label = `${name}:${kind === 'lossless' ? 'L' : 'P'}${n++}`;
      return {
        kind,
        run: () =>
          new Promise<void>((resolve, reject) => {
            requests.started.push({
              label,
              kind,
              finish: async () => {
                resolve();
                await settle();
              },
              fail: async () => {
                reject(new Error(`${label} failed`));
                await settle();
              },
            });
          }),
      };
    },
  };
  return s;
}

const lossless = (n: number): WorkKind[] => new Array<WorkKind>(n).fill('lossless');
const previews = (n: number): WorkKind[] => new Array<WorkKind>(n).fill('preview');

describe('SiteLink: slots', () => {
  it('never has more than `slots` requests in flight, and hands the next out as one finishes', async () => {
    const requests = new Requests();
    const link = new SiteLink(3);
    link.add(source('s', requests, lossless(10)));
    expect(requests.labels()).toEqual(['s:L0', 's:L1', 's:L2']);
    expect(link.inFlight).toBe(3);
    await requests.running('s:L1').finish();
    expect(requests.labels()).toEqual(['s:L0', 's:L1', 's:L2', 's:L3']);
    expect(link.inFlight).toBe(3);
  });

  it('frees the slot of a request that failed, and goes on', async () => {
    const requests = new Requests();
    const link = new SiteLink(1);
    link.add(source('s', requests, lossless(3)));
    await requests.running('s:L0').fail();
    expect(requests.labels()).toEqual(['s:L0', 's:L1']);
    expect(link.inFlight).toBe(1);
  });

  it('lets a link fall idle when nobody has work, and is woken by pump', async () => {
    const requests = new Requests();
    const link = new SiteLink(2);
    const s = source('s', requests, []);
    link.add(s);
    expect(link.inFlight).toBe(0);
    s.queue.push('lossless');
    link.pump();
    expect(requests.labels()).toEqual(['s:L0']);
  });
});

describe('SiteLink: previews never stop the lossless transfer', () => {
  it('offers previews at most slots − 1 slots: the last one stays for lossless files', async () => {
    const requests = new Requests();
    const link = new SiteLink(3);
    const s = source('s', requests, [...previews(5), ...lossless(3)]);
    link.add(s);
    expect(requests.labels()).toEqual(['s:P0', 's:P1', 's:L2']);
    expect(s.offered).toEqual([2, 1, 0]);
  });

  it('gives a preview slot back when a preview finishes, not when a lossless request does', async () => {
    const requests = new Requests();
    const link = new SiteLink(3);
    const s = source('s', requests, [...previews(5), ...lossless(3)]);
    link.add(s);
    await requests.running('s:L2').finish();
    // Still two previews in flight: the freed slot goes to a lossless request.
    expect(requests.labels().at(-1)).toBe('s:L3');
    await requests.running('s:P0').finish();
    expect(requests.labels().at(-1)).toBe('s:P4');
  });

  it('leaves a slot empty rather than give it to a preview', async () => {
    const requests = new Requests();
    const link = new SiteLink(3);
    link.add(source('s', requests, previews(5)));
    expect(requests.labels()).toEqual(['s:P0', 's:P1']);
    expect(link.inFlight).toBe(2);
  });

  it('counts previews of every retrieval on the link together', async () => {
    const requests = new Requests();
    const link = new SiteLink(3);
    const a = source('a', requests, previews(1), { rank: 2 });
    const b = source('b', requests, previews(3), { rank: 1 });
    link.add(a);
    link.add(b);
    expect(requests.labels()).toEqual(['a:P0', 'b:P0']);
    expect(b.offered.at(-1)).toBe(0);
  });
});

describe('SiteLink: who goes first', () => {
  it('gives a free slot to a study the user waits for before prefetch, whatever their ranks', async () => {
    const requests = new Requests();
    const link = new SiteLink(1);
    link.add(source('prefetch', requests, lossless(3), { foreground: false, rank: 99 }));
    expect(requests.labels()).toEqual(['prefetch:L0']);
    link.add(source('open', requests, lossless(2), { foreground: true, rank: 1 }));
    await requests.running('prefetch:L0').finish();
    await requests.running('open:L0').finish();
    await requests.running('open:L1').finish();
    expect(requests.labels()).toEqual(['prefetch:L0', 'open:L0', 'open:L1', 'prefetch:L1']);
  });

  it('among studies of one kind, the one opened or focused last (higher rank) goes first; a rank change counts at the next slot', async () => {
    const requests = new Requests();
    const link = new SiteLink(1);
    const older = source('older', requests, lossless(3), { rank: 1 });
    const newer = source('newer', requests, lossless(3), { rank: 2 });
    link.add(older);
    link.add(newer);
    await requests.running('older:L0').finish();
    expect(requests.labels().at(-1)).toBe('newer:L0');
    older.rank = 3; // the reader scrolled in the older study
    await requests.running('newer:L0').finish();
    expect(requests.labels().at(-1)).toBe('older:L1');
  });

  it('gives a slot to the next source when the first has nothing to run now', async () => {
    const requests = new Requests();
    const link = new SiteLink(2);
    link.add(source('idle', requests, [], { rank: 5 }));
    link.add(source('busy', requests, lossless(2), { rank: 1, foreground: false }));
    expect(requests.labels()).toEqual(['busy:L0', 'busy:L1']);
  });

  it('a paused retrieval takes no slot; carried on, it gets slots at the next pump', async () => {
    const requests = new Requests();
    const link = new SiteLink(2);
    const s = source('s', requests, lossless(4), { paused: true });
    link.add(s);
    expect(requests.labels()).toEqual([]);
    expect(s.offered).toEqual([]);
    s.paused = false;
    link.pump();
    expect(requests.labels()).toEqual(['s:L0', 's:L1']);
    s.paused = true;
    await requests.running('s:L0').finish(); // what was in flight lands; nothing new is asked
    expect(requests.labels()).toEqual(['s:L0', 's:L1']);
    expect(link.inFlight).toBe(1);
  });

  it('a retrieval taken off the link gets no more slots; its requests in flight still free theirs', async () => {
    const requests = new Requests();
    const link = new SiteLink(1);
    const gone = source('gone', requests, lossless(3), { rank: 9 });
    link.add(gone);
    link.add(source('other', requests, lossless(3)));
    link.remove(gone);
    await requests.running('gone:L0').finish();
    expect(requests.labels()).toEqual(['gone:L0', 'other:L0']);
    expect(link.inFlight).toBe(1);
  });
});
