/**
 * Which instance of a streaming study to fetch next, decided each time a
 * request slot frees (late binding), so the order follows the reader:
 *
 *   1. the hanging slice of every series (what the viewer shows first), the
 *      first series first;
 *   2. instances asked for by name (signing waits for them), then the slice
 *      the reader is on now;
 *   3. the rest by distance from the reader's slice in the series they are
 *      looking at (ahead of the direction of travel first), then the other
 *      series outward from their hanging slice.
 *
 * Previews are ordered the same way, from the reader's slice outward. Nothing
 * here does I/O: the retriever takes an instance (it is then in flight and
 * never handed out again) and drops it when done. Moving the focus changes
 * only what is handed out next; nothing in flight is cancelled.
 */

/** How much farther a slice behind the reader may be than one ahead to be fetched in the same turn (as the preloader). */
const BEHIND_WEIGHT = 3;

export interface OrderedSeries {
  seriesInstanceUID: string;
  /** SOP Instance UIDs in reading order (the viewer's stack order). */
  sops: readonly string[];
  /** Index of the slice the viewer opens on. */
  hanging: number;
}

export type WorkKind = 'lossless' | 'preview';

interface Place {
  series: number;
  index: number;
}

export class RetrievalOrder {
  private readonly series: OrderedSeries[];
  private readonly places = new Map<string, Place>();
  private readonly pending: Record<WorkKind, Set<string>> = { lossless: new Set(), preview: new Set() };
  private urgent: string[] = [];
  private focusAt: Place | undefined;
  private direction: 1 | -1 | 0 = 0;

  /** `series` in the order their hanging slices go (the series the viewer opens first, first). */
  constructor(series: readonly OrderedSeries[]) {
    this.series = [...series];
    this.series.forEach((s, k) => s.sops.forEach((sop, index) => this.places.set(sop, { series: k, index })));
  }

  /** Marks `sop` as wanted in `kind`; unknown instances are ignored. */
  want(kind: WorkKind, sop: string): void {
    if (this.places.has(sop)) this.pending[kind].add(sop);
  }

  /** No longer wanted (stored by someone else, superseded, given up). */
  drop(kind: WorkKind, sop: string): void {
    this.pending[kind].delete(sop);
  }

  /** Instances still to hand out. */
  count(kind: WorkKind): number {
    return this.pending[kind].size;
  }

  has(kind: WorkKind, sop: string): boolean {
    return this.pending[kind].has(sop);
  }

  /** Forgets everything still pending (the retrieval stops). */
  clear(): void {
    this.pending.lossless.clear();
    this.pending.preview.clear();
    this.urgent = [];
  }

  /** The reader is on `sop`, moving in `direction`: fetch from there outward. Unknown instances are ignored. */
  focus(sop: string, direction: 1 | -1 | 0 = 0): boolean {
    const place = this.places.get(sop);
    if (!place) return false;
    this.focusAt = place;
    this.direction = direction;
    return true;
  }

  /** These go before everything but the hanging slices (a signature waits for them). */
  prioritize(sops: readonly string[]): void {
    this.urgent = [...sops.filter((s) => this.places.has(s)), ...this.urgent.filter((s) => !sops.includes(s))];
  }

  /** The next instance to fetch in `kind`, taken out of the pending set; undefined when none is pending. */
  take(kind: WorkKind): string | undefined {
    const sop = this.peek(kind);
    if (sop !== undefined) this.pending[kind].delete(sop);
    return sop;
  }

  /**
   * The next instance that goes before any preview, taken: a hanging slice,
   * one asked for by name, or the very slice the reader is on. Undefined when
   * the next lossless one is merely the nearest of the rest.
   */
  takeUrgent(): string | undefined {
    const pending = this.pending.lossless;
    let sop: string | undefined;
    for (const s of this.series) {
      const h = s.sops[s.hanging];
      if (h !== undefined && pending.has(h)) {
        sop = h;
        break;
      }
    }
    sop ??= this.urgent.find((u) => pending.has(u));
    if (sop === undefined && this.focusAt) {
      const at = this.series[this.focusAt.series]?.sops[this.focusAt.index];
      if (at !== undefined && pending.has(at)) sop = at;
    }
    if (sop !== undefined) pending.delete(sop);
    return sop;
  }

  /** What `take` would hand out, without taking it. */
  peek(kind: WorkKind): string | undefined {
    const pending = this.pending[kind];
    if (pending.size === 0) return undefined;
    if (kind === 'lossless') {
      for (const s of this.series) {
        const sop = s.sops[s.hanging];
        if (sop !== undefined && pending.has(sop)) return sop;
      }
      for (const sop of this.urgent) if (pending.has(sop)) return sop;
    }
    const at = this.focusAt;
    const seriesOrder = at ? [at.series, ...this.series.map((_, k) => k).filter((k) => k !== at.series)] : this.series.map((_, k) => k);
    for (const k of seriesOrder) {
      const s = this.series[k]!;
      const from = at && at.series === k ? at.index : s.hanging;
      const dir = at && at.series === k ? this.direction : 0;
      const sop = nearestPending(s.sops, from, dir, pending);
      if (sop !== undefined) return sop;
    }
    return undefined;
  }
}

/** The pending slice nearest `from` (ahead ranks d, behind d × BEHIND_WEIGHT when moving; ties go ahead). */
function nearestPending(sops: readonly string[], from: number, direction: 1 | -1 | 0, pending: ReadonlySet<string>): string | undefined {
  const n = sops.length;
  if (n === 0) return undefined;
  const start = Math.max(0, Math.min(n - 1, from));
  if (pending.has(sops[start]!)) return sops[start];
  const forward = direction === -1 ? -1 : 1;
  const weight = direction === 0 ? 1 : BEHIND_WEIGHT;
  let ahead = 1;
  let behind = 1;
  for (;;) {
    const a = start + forward * ahead;
    const b = start - forward * behind;
    const aOk = a >= 0 && a < n;
    const bOk = b >= 0 && b < n;
    if (!aOk && !bOk) return undefined;
    if (aOk && (!bOk || ahead <= behind * weight)) {
      if (pending.has(sops[a]!)) return sops[a];
      ahead++;
    } else {
      if (pending.has(sops[b]!)) return sops[b];
      behind++;
    }
  }
}
