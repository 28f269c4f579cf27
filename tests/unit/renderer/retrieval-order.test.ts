import { describe, expect, it } from 'vitest';
import { RetrievalOrder } from '../../../src/renderer/cache/retrieval-order';
import type { OrderedSeries, WorkKind } from '../../../src/renderer/cache/retrieval-order';
import { preloadOrder } from '../../../src/renderer/viewer/stack-preloader';

// The order a streaming study is fetched in, decided one instance at a time
// (late binding). Series A: 11 slices a0…a10, hanging slice a5 (the viewer
// opens on it); series B: 5 slices b0…b4, hanging b2.

const sopsOf = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, k) => `${prefix}${k}`);
const A: OrderedSeries = { seriesInstanceUID: 'A', sops: sopsOf('a', 11), hanging: 5 };
const B: OrderedSeries = { seriesInstanceUID: 'B', sops: sopsOf('b', 5), hanging: 2 };

function orderOf(series: readonly OrderedSeries[], kinds: readonly WorkKind[] = ['lossless']): RetrievalOrder {
  const order = new RetrievalOrder(series);
  for (const kind of kinds) for (const s of series) for (const sop of s.sops) order.want(kind, sop);
  return order;
}

/** Everything `take` hands out, until nothing is pending. */
function drain(order: RetrievalOrder, kind: WorkKind = 'lossless'): string[] {
  const out: string[] = [];
  for (let sop = order.take(kind); sop !== undefined; sop = order.take(kind)) out.push(sop);
  return out;
}

describe('RetrievalOrder: where a study starts', () => {
  it('fetches the hanging slice of every series first (the first series first), then outward from them', () => {
    const order = orderOf([A, B]);
    expect(drain(order)).toEqual(['a5', 'b2', 'a6', 'a4', 'a7', 'a3', 'a8', 'a2', 'a9', 'a1', 'a10', 'a0', 'b3', 'b1', 'b4', 'b0']);
    expect(order.count('lossless')).toBe(0);
    expect(order.take('lossless')).toBeUndefined();
  });

  it('skips a hanging slice that is already stored (never wanted) and starts from its neighbours', () => {
    const order = new RetrievalOrder([A]);
    for (const sop of A.sops) if (sop !== 'a5') order.want('lossless', sop);
    expect(drain(order).slice(0, 4)).toEqual(['a6', 'a4', 'a7', 'a3']);
  });
});

describe('RetrievalOrder: following the reader', () => {
  it('fetches the slice the reader jumped to before the ones around the old position, then its neighbours ahead first', () => {
    const order = orderOf([A]);
    expect(order.take('lossless')).toBe('a5');
    expect(order.take('lossless')).toBe('a6');
    // The reader jumps to a9, scrolling forward.
    expect(order.focus('a9', 1)).toBe(true);
    expect(drain(order)).toEqual(['a9', 'a10', 'a8', 'a7', 'a4', 'a3', 'a2', 'a1', 'a0']);
  });

  it('ranks a slice behind the reader like one three times as far ahead, as the decoder’s read-ahead does', () => {
    const S: OrderedSeries = { seriesInstanceUID: 'S', sops: sopsOf('s', 21), hanging: 0 };
    const forward = orderOf([S]);
    expect(forward.take('lossless')).toBe('s0'); // the hanging slice
    forward.focus('s10', 1);
    const got = drain(forward);
    expect(got.slice(0, 10)).toEqual(['s10', 's11', 's12', 's13', 's9', 's14', 's15', 's16', 's8', 's17']);
    expect(got).toEqual(preloadOrder(21, 10, 1, 21).filter((i) => i !== 0).map((i) => `s${i}`));

    const backward = orderOf([S]);
    backward.take('lossless');
    backward.focus('s10', -1);
    expect(drain(backward).slice(0, 6)).toEqual(['s10', 's9', 's8', 's7', 's11', 's6']);
  });

  it('fetches the reader’s own series outward from the reader first, then the other series outward from their hanging slice', () => {
    const order = orderOf([A, B]);
    expect([order.take('lossless'), order.take('lossless')]).toEqual(['a5', 'b2']);
    order.focus('b0', 1);
    const got = drain(order);
    expect(got.slice(0, 3)).toEqual(['b0', 'b1', 'b3']);
    expect(got.slice(4, 8)).toEqual(['a6', 'a4', 'a7', 'a3']);
  });

  it('never hands an instance out twice: moving the focus only changes what comes next', () => {
    const order = orderOf([A]);
    const first = [order.take('lossless'), order.take('lossless'), order.take('lossless')];
    order.focus('a6', -1); // a slice already handed out (in flight)
    const rest = drain(order);
    expect(rest).not.toContain('a6');
    expect(new Set([...first, ...rest]).size).toBe(11);
    expect([...first, ...rest].sort()).toEqual([...A.sops].sort());
  });

  it('ignores a focus on an instance it does not know, keeping the previous one', () => {
    const order = orderOf([A]);
    order.take('lossless');
    order.focus('a1', 1);
    expect(order.focus('not-in-the-study', 1)).toBe(false);
    expect(order.take('lossless')).toBe('a1');
  });
});

describe('RetrievalOrder: what goes before the previews', () => {
  it('puts instances a signature waits for right after the hanging slices, before the reader’s slice', () => {
    const order = orderOf([A, B]);
    order.prioritize(['a0', 'b4']);
    order.focus('a9', 1);
    expect(drain(order)).toEqual(['a5', 'b2', 'a0', 'b4', 'a9', 'a10', 'a8', 'a7', 'a6', 'a4', 'a3', 'a2', 'a1', 'b3', 'b1', 'b0']);
  });

  it('puts the latest asked-for instances first, keeping earlier ones behind them', () => {
    const order = orderOf([A]);
    order.take('lossless');
    order.prioritize(['a0']);
    order.prioritize(['a10', 'a0']);
    order.prioritize(['a2']);
    expect(drain(order).slice(0, 3)).toEqual(['a2', 'a10', 'a0']);
  });

  it('takeUrgent hands out hanging, asked-for and the focused slice only; the merely nearest wait', () => {
    const order = orderOf([A, B]);
    order.prioritize(['a0']);
    order.focus('a9', 1);
    expect([order.takeUrgent(), order.takeUrgent(), order.takeUrgent(), order.takeUrgent()]).toEqual(['a5', 'b2', 'a0', 'a9']);
    expect(order.takeUrgent()).toBeUndefined();
    expect(order.has('lossless', 'a10')).toBe(true);
    expect(order.take('lossless')).toBe('a10');
  });

  it('takeUrgent takes what it hands out: take never hands the same instance out again', () => {
    const order = orderOf([A]);
    expect(order.takeUrgent()).toBe('a5');
    expect(order.has('lossless', 'a5')).toBe(false);
    expect(order.count('lossless')).toBe(10);
    expect(drain(order)).not.toContain('a5');
  });
});

describe('RetrievalOrder: previews', () => {
  it('orders previews from the reader’s slice outward, ahead first, without the lossless hanging and asked-for rules', () => {
    const order = orderOf([A, B], ['preview']);
    order.prioritize(['a0']);
    order.focus('a8', -1);
    expect(drain(order, 'preview').slice(0, 5)).toEqual(['a8', 'a7', 'a6', 'a5', 'a9']);
  });

  it('starts previews at the hanging slice when the reader has not moved', () => {
    const order = orderOf([A], ['preview']);
    expect(drain(order, 'preview').slice(0, 3)).toEqual(['a5', 'a6', 'a4']);
  });

  it('keeps previews and lossless apart: taking or dropping one kind leaves the other pending', () => {
    const order = orderOf([A], ['lossless', 'preview']);
    expect(order.take('lossless')).toBe('a5');
    expect(order.has('preview', 'a5')).toBe(true);
    order.drop('preview', 'a6'); // its lossless file landed: no preview needed
    expect(order.has('preview', 'a6')).toBe(false);
    expect(order.has('lossless', 'a6')).toBe(true);
    expect(order.count('preview')).toBe(10);
    expect(drain(order, 'preview')).not.toContain('a6');
  });
});

describe('RetrievalOrder: bookkeeping', () => {
  it('ignores instances it does not know and forgets everything on clear', () => {
    const order = orderOf([A], ['lossless', 'preview']);
    order.want('lossless', 'elsewhere');
    order.prioritize(['elsewhere']);
    expect(order.has('lossless', 'elsewhere')).toBe(false);
    expect(order.count('lossless')).toBe(11);
    order.clear();
    expect(order.count('lossless')).toBe(0);
    expect(order.count('preview')).toBe(0);
    expect(order.take('lossless')).toBeUndefined();
    expect(order.takeUrgent()).toBeUndefined();
    expect(order.peek('preview')).toBeUndefined();
  });

  it('peek says what take would hand out without taking it', () => {
    const order = orderOf([A]);
    expect(order.peek('lossless')).toBe('a5');
    expect(order.count('lossless')).toBe(11);
    expect(order.take('lossless')).toBe('a5');
  });
});
