/**
 * Reports are signed on lossless images only (issue 15). A slice can be on
 * screen as its rendered preview (the site's JPEG, "not for diagnosis")
 * while its lossless file is still on the way; a measurement or a key image
 * that a report names must stand on the lossless file. Measuring is off on a
 * preview, so this is the last line: before signing, every image the report
 * names is checked in the cache; one that is only a preview (or missing) is
 * waited for — first in the retrieval queue — for a bounded time while its
 * study streams, and otherwise the signature is refused with the reason.
 */

/** An image the report names, and what it carries there ("a Length measurement", "a key image"). */
export interface NamedImage {
  studyInstanceUID: string;
  sopInstanceUID: string;
  what: string;
}

export interface LosslessGateDeps {
  /** Both the lossless file and its metadata are in the cache (StudyCache.hasInstance). */
  hasLossless(sopInstanceUID: string): Promise<boolean>;
  /** Only its preview is in the cache. */
  hasPreview(sopInstanceUID: string): Promise<boolean>;
  /** A retrieval of the study is under way (the retriever). */
  isStreaming(studyInstanceUID: string): boolean;
  /** Puts these instances first in the study's retrieval. */
  prioritize(studyInstanceUID: string, sopInstanceUIDs: readonly string[]): void;
  /** Told of every instance stored; returns the unsubscribe. */
  onStored(listener: (e: { studyInstanceUID: string; sopInstanceUID: string; kind: 'lossless' | 'preview' }) => void): () => void;
  /** How long a signature waits for the lossless files (default 60 s). */
  timeoutMs?: number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
}

/** Why a report cannot be signed yet: names the images and what to do. */
export class LosslessRequiredError extends Error {
  constructor(
    message: string,
    readonly sopInstanceUIDs: readonly string[],
  ) {
    super(message);
    this.name = 'LosslessRequiredError';
  }
}

export type LosslessGate = (images: readonly NamedImage[], onWaiting?: (note: string) => void) => Promise<void>;

const plural = (n: number, one: string, many: string): string => (n === 1 ? one : many);

/**
 * Resolves once every named image is stored lossless. While some are not and
 * their study streams, it tells `onWaiting` and waits for them (first in the
 * queue), up to the timeout; it rejects with LosslessRequiredError when they
 * do not come (the study is not being retrieved, or the time ran out).
 */
export function createLosslessGate(deps: LosslessGateDeps): LosslessGate {
  const timeoutMs = deps.timeoutMs ?? 60_000;
  const setTimer = deps.setTimeout ?? ((fn: () => void, ms: number): unknown => setTimeout(fn, ms));
  const clearTimer = deps.clearTimeout ?? ((h: unknown): void => clearTimeout(h as ReturnType<typeof setTimeout>));

  const describe = async (missing: readonly NamedImage[]): Promise<string> => {
    const previews = (await Promise.all(missing.map((m) => deps.hasPreview(m.sopInstanceUID)))).filter(Boolean).length;
    const what = [...new Set(missing.map((m) => m.what))].join(', ');
    const n = missing.length;
    const seen = previews > 0 ? `${previews === n ? plural(n, 'was', 'were') : `${previews} of them ${plural(previews, 'was', 'were')}`} seen only as a preview` : `${plural(n, 'is', 'are')} not in the local cache`;
    return `${n} ${plural(n, 'image', 'images')} the report names (${what}) ${seen}, and a report is signed on lossless images only`;
  };

  return async (images, onWaiting) => {
    const unique = [...new Map(images.map((i) => [i.sopInstanceUID, i])).values()];
    const missing: NamedImage[] = [];
    for (const i of unique) if (!(await deps.hasLossless(i.sopInstanceUID))) missing.push(i);
    if (missing.length === 0) return;
    const studies = [...new Set(missing.map((m) => m.studyInstanceUID))];
    if (!studies.every((uid) => deps.isStreaming(uid))) {
      throw new LosslessRequiredError(
        `${await describe(missing)}: their lossless files are not being retrieved. Open the study again while its site is reachable, then sign.`,
        missing.map((m) => m.sopInstanceUID),
      );
    }
    const waiting = new Set(missing.map((m) => m.sopInstanceUID));
    for (const uid of studies) deps.prioritize(uid, missing.filter((m) => m.studyInstanceUID === uid).map((m) => m.sopInstanceUID));
    onWaiting?.(`Waiting for the lossless ${plural(waiting.size, 'image', 'images')} of ${waiting.size} measured or key ${plural(waiting.size, 'slice', 'slices')}…`);
    await new Promise<void>((resolve, reject) => {
      const off = deps.onStored((e) => {
        if (e.kind !== 'lossless' || !waiting.delete(e.sopInstanceUID)) return;
        if (waiting.size > 0) {
          onWaiting?.(`Waiting for the lossless ${plural(waiting.size, 'image', 'images')} of ${waiting.size} measured or key ${plural(waiting.size, 'slice', 'slices')}…`);
          return;
        }
        clearTimer(timer);
        off();
        resolve();
      });
      const timer = setTimer(() => {
        off();
        const left = missing.filter((m) => waiting.has(m.sopInstanceUID));
        void describe(left).then(
          (d) => reject(new LosslessRequiredError(`${d}: waited ${Math.max(1, Math.round(timeoutMs / 1000))} s and the lossless files have not arrived. Sign once they have (Transfers shows how far the study is).`, [...waiting])),
          reject,
        );
      }, timeoutMs);
      // Stored between the check and the subscription.
      void Promise.all([...waiting].map(async (sop) => ((await deps.hasLossless(sop)) ? sop : undefined))).then((done) => {
        for (const sop of done) if (sop) waiting.delete(sop);
        if (waiting.size === 0) {
          clearTimer(timer);
          off();
          resolve();
        }
      }, reject);
    });
  };
}
