import { describe, expect, it } from 'vitest';
import { createNoticeList } from '../../../src/shared/store/notice-list';

describe('createNoticeList', () => {
  it('adds in order, dismisses by key, and calls listeners only when the list changed', () => {
    const list = createNoticeList<{ key: number; text: string }>();
    let calls = 0;
    const stop = list.subscribe(() => calls++);
    list.add([]);
    expect(calls).toBe(0);
    list.add([{ key: 1, text: 'a' }]);
    list.add([{ key: 2, text: 'b' }, { key: 3, text: 'c' }]);
    expect(list.getState().map((n) => n.text)).toEqual(['a', 'b', 'c']);
    expect(list.has(2)).toBe(true);
    const before = list.getState();
    list.dismiss(2);
    expect(list.getState().map((n) => n.key)).toEqual([1, 3]);
    expect(before.map((n) => n.key)).toEqual([1, 2, 3]);
    expect(calls).toBe(3);
    list.dismiss(2);
    expect(calls).toBe(3);
    stop();
    list.add([{ key: 4, text: 'd' }]);
    expect(calls).toBe(3);
  });
});
