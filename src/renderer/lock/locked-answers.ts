import type { Invoke } from '../../shared/ipc/proxy';
import { isEnvelope } from '../../shared/ipc/envelope';
import { createListeners } from '../../shared/store/listeners';

/**
 * Main holds the lock (issue 18): it may lock on its own (its idle timer, no
 * page for a while, the OS screen lock) and then answers every data channel
 * LOCKED. Whatever call hears that first tells the lock controller, which
 * takes the page to its lock screen at once rather than at its next poll.
 */
export interface LockedAnswers {
  /** Wraps the transport: answers pass unchanged, and a LOCKED one is reported. */
  watch(invoke: Invoke): Invoke;
  /** Called on every LOCKED answer; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

export function createLockedAnswers(): LockedAnswers {
  const listeners = createListeners();
  return {
    watch: (invoke) => async (channel, payload) => {
      const answer = await invoke(channel, payload);
      if (isEnvelope(answer) && !answer.ok && answer.error.code === 'LOCKED') listeners.notify();
      return answer;
    },
    subscribe: listeners.subscribe,
  };
}
