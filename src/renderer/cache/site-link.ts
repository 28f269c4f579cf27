import type { WorkKind } from './retrieval-order';

/** One request to run on a free slot. */
export interface LinkWork {
  kind: WorkKind;
  run(): Promise<void>;
}

/** A retrieval asking for the link's slots. */
export interface LinkSource {
  /** The user is waiting for it (the study is open), not prefetch or a study left. */
  readonly foreground: boolean;
  /** Higher goes first among sources of the same kind (the study opened or focused last). */
  readonly rank: number;
  readonly paused: boolean;
  /**
   * The next request, or undefined when it has nothing to run now.
   * `previewSlots` is how many more previews the link takes at once; at 0 a
   * source hands out lossless work only.
   */
  next(previewSlots: number): LinkWork | undefined;
}

/**
 * The request slots to one site, shared by every retrieval from it, handed
 * out one at a time as they free (so the order can follow the reader) rather
 * than queued up front. Written here rather than with p-queue: p-queue fixes a
 * task's priority when it is added, and re-ranking hundreds of queued
 * instances on every scroll step (or limiting one kind of work to part of
 * the slots) is not something it offers. Previews hold at most `maxPreviews`
 * slots at once (default `slots − 1`); which kind goes first is the sources'
 * call (the retriever lets previews go first: see study-stream.ts).
 */
export class SiteLink {
  private readonly sources = new Set<LinkSource>();
  private active = 0;
  private previews = 0;

  /**
   * @param maxPreviews previews in flight at once, at most.
   * @param slots requests in flight at once. The browser host's page makes at most six HTTP/1.1
   * connections to its origin, which the API and every site share: five leaves one for the rest.
   */
  constructor(
    readonly slots: number,
    private readonly maxPreviews = Math.max(1, slots - 1),
  ) {}

  add(source: LinkSource): void {
    this.sources.add(source);
    this.pump();
  }

  remove(source: LinkSource): void {
    this.sources.delete(source);
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.active;
  }

  /** Hands free slots out; call it whenever a source may have new work (focus moved, resumed, promoted). */
  pump(): void {
    while (this.active < this.slots) {
      const work = this.nextWork();
      if (!work) return;
      this.active++;
      if (work.kind === 'preview') this.previews++;
      void work
        .run()
        .catch(() => undefined) // each work reports its own failure
        .finally(() => {
          this.active--;
          if (work.kind === 'preview') this.previews--;
          this.pump();
        });
    }
  }

  private nextWork(): LinkWork | undefined {
    const ranked = [...this.sources]
      .filter((s) => !s.paused)
      .sort((a, b) => Number(b.foreground) - Number(a.foreground) || b.rank - a.rank);
    const previewSlots = Math.max(0, Math.min(this.slots, this.maxPreviews) - this.previews);
    for (const s of ranked) {
      const work = s.next(previewSlots);
      if (work) return work;
    }
    return undefined;
  }
}
