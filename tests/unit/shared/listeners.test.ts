import { describe, expect, it } from 'vitest';
import { createListeners } from '../../../src/shared/store/listeners';

describe('store listeners', () => {
  it('calls every subscriber on notify until it unsubscribes', () => {
    const listeners = createListeners();
    const calls: string[] = [];
    const offA = listeners.subscribe(() => calls.push('a'));
    listeners.subscribe(() => calls.push('b'));
    listeners.notify();
    offA();
    listeners.notify();
    expect(calls).toEqual(['a', 'b', 'b']);
  });

  it('finishes a round even when a listener unsubscribes another during it', () => {
    const listeners = createListeners();
    const calls: string[] = [];
    let offB = (): void => undefined;
    listeners.subscribe(() => {
      calls.push('a');
      offB();
    });
    offB = listeners.subscribe(() => calls.push('b'));
    listeners.notify();
    listeners.notify();
    expect(calls).toEqual(['a', 'b', 'a']);
  });
});
