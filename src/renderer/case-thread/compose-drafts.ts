import type { Logger } from '../../shared/log';
import type { ComposeDraftRecord, TeleradDB } from '../cache/telerad-db';

export type ComposeForm = ComposeDraftRecord['form'];

export interface ComposeDrafts {
  /** The unsent text of a case's composer, if any. */
  load(studyInstanceUID: string): Promise<{ form: ComposeForm; text: string } | undefined>;
  /** Typed text: written after a short pause (and at once by flush). The latest call wins. */
  save(studyInstanceUID: string, form: ComposeForm, text: string): void;
  /** Writes whatever is waiting now (a lock, leaving the page). */
  flush(): Promise<void>;
  /** Sent or abandoned on purpose: the draft goes. */
  discard(studyInstanceUID: string): Promise<void>;
}

export interface ComposeDraftsDeps {
  db: TeleradDB;
  now: () => number;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (h: unknown) => void;
  log: Logger;
  debounceMs?: number;
}

/**
 * The case thread's composer text, kept in the (sealed) cache as it is typed, so a question or an
 * answer half written survives a lock (which reloads the page), a crash or a closed window. Offline:
 * local only; nothing here talks to a site. A write waiting for its pause is replaced by a newer one;
 * a discard cancels what is waiting, so a late write cannot bring a sent text back.
 */
export function createComposeDrafts(deps: ComposeDraftsDeps): ComposeDrafts {
  const waiting = new Map<string, { form: ComposeForm; text: string; timer: unknown }>();
  const writes = new Set<Promise<unknown>>();
  const write = (studyInstanceUID: string): Promise<void> => {
    const w = waiting.get(studyInstanceUID);
    if (!w) return Promise.resolve();
    deps.clearTimeout(w.timer);
    waiting.delete(studyInstanceUID);
    const p = deps.db.composeDrafts
      .put({ studyInstanceUID, form: w.form, text: w.text, updatedAt: deps.now() })
      .then(
        () => undefined,
        (err: unknown) => deps.log.error(`Keeping the unsent thread text of ${studyInstanceUID} failed`, err),
      );
    writes.add(p);
    void p.finally(() => writes.delete(p));
    return p;
  };
  return {
    async load(studyInstanceUID) {
      const r = await deps.db.composeDrafts.get(studyInstanceUID);
      return r && r.text.trim() !== '' ? { form: r.form, text: r.text } : undefined;
    },
    save(studyInstanceUID, form, text) {
      const before = waiting.get(studyInstanceUID);
      if (before) deps.clearTimeout(before.timer);
      const timer = deps.setTimeout(() => void write(studyInstanceUID), deps.debounceMs ?? 1000);
      waiting.set(studyInstanceUID, { form, text, timer });
    },
    async flush() {
      await Promise.all([...waiting.keys()].map(write));
      await Promise.allSettled([...writes]);
    },
    async discard(studyInstanceUID) {
      const w = waiting.get(studyInstanceUID);
      if (w) deps.clearTimeout(w.timer);
      waiting.delete(studyInstanceUID);
      await Promise.allSettled([...writes]);
      await deps.db.composeDrafts.delete(studyInstanceUID);
    },
  };
}
