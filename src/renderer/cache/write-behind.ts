import type { InstanceMeta, PreviewPut, StudyCache } from './study-cache';

/** Instances written together: a batch holds at most this many... */
const WRITE_BATCH = 8;
/** ...and waits at most this long after its first instance arrived. */
const WRITE_DELAY_MS = 40;

/**
 * A write-behind buffer of one retrieval: items queue until `size` of them
 * wait, or `WRITE_DELAY_MS` after the first, then go to `write` in one call.
 * One IndexedDB transaction per instance held a 300-slice CT to 75–125 MB/s
 * in Chromium; 8 per transaction reach 170–215 MB/s (bench/cache.bench.ts).
 * Each item's promise settles when its batch has committed — whole or not at
 * all — so nothing counts as stored before it is; `outcome` turns what the
 * batch's write returned into what each item's promise says.
 */
export class WriteBehind<T, W, R> {
  private pending: Array<{ item: T; resolve: (result: R) => void; reject: (err: unknown) => void }> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly size: number,
    private readonly write: (items: T[]) => Promise<W>,
    private readonly outcome: (written: W) => (item: T) => R,
  ) {}

  /** Queues an item; `now` writes it (and whatever is queued) at once, as for the first image of a series. */
  add(item: T, now = false): Promise<R> {
    const written = new Promise<R>((resolve, reject) => this.pending.push({ item, resolve, reject }));
    if (now || this.pending.length >= this.size) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), WRITE_DELAY_MS);
    return written;
  }

  /** Writes what is queued, in one transaction. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.write(batch.map((b) => b.item)).then(
      (written) => {
        const of = this.outcome(written);
        batch.forEach((b) => b.resolve(of(b.item)));
      },
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    );
  }
}

/** Previews written together (they are small; one transaction each would cost more than the JPEGs). */
const PREVIEW_BATCH = 16;

/** The write-behind buffer for instances; each promise settles when its instance is stored. */
export function instanceWriter(cache: StudyCache): WriteBehind<{ meta: InstanceMeta; bytes: ArrayBuffer }, unknown, void> {
  return new WriteBehind<{ meta: InstanceMeta; bytes: ArrayBuffer }, unknown, void>(WRITE_BATCH, (items) => cache.putInstances(items), () => () => undefined);
}

/** The write-behind buffer for previews; each promise says whether its preview was kept (not when its lossless file was there first). */
export function previewWriterOf(cache: StudyCache): WriteBehind<PreviewPut, readonly string[], boolean> {
  return new WriteBehind<PreviewPut, readonly string[], boolean>(
    PREVIEW_BATCH,
    (puts) => cache.putPreviews(puts),
    (kept) => {
      const set = new Set(kept);
      return (put) => set.has(put.sopInstanceUID);
    },
  );
}
