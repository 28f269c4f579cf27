import { createListeners } from './listeners';

/** What a view of dismissable notices (toasts) needs: the notices shown now, and dismissing one. */
export interface NoticeList<N extends { key: unknown }> {
  getState(): readonly N[];
  subscribe(listener: () => void): () => void;
  dismiss(key: N['key']): void;
}

/** The notice list as its source holds it: it also adds notices. */
export interface NoticeListWriter<N extends { key: unknown }> extends NoticeList<N> {
  /** Appends the notices in order; nothing to add calls no listener. */
  add(notices: readonly N[]): void;
  /** Whether a notice with this key is shown now. */
  has(key: N['key']): boolean;
}

/**
 * The state half of every notice store: an immutable list (a new array on
 * each change, so useSyncExternalStore sees it) that listeners hear about only
 * when it really changed, a dismiss of a notice already gone included.
 */
export function createNoticeList<N extends { key: unknown }>(): NoticeListWriter<N> {
  const listeners = createListeners();
  let list: readonly N[] = [];
  return {
    getState: () => list,
    subscribe: listeners.subscribe,
    dismiss(key) {
      const next = list.filter((n) => n.key !== key);
      if (next.length === list.length) return;
      list = next;
      listeners.notify();
    },
    add(notices) {
      if (notices.length === 0) return;
      list = [...list, ...notices];
      listeners.notify();
    },
    has: (key) => list.some((n) => n.key === key),
  };
}
