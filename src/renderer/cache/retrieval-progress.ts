import type { RetrieveProgress } from './retrieval-types';
import type { TransferHandle } from './transfers-store';

/**
 * The counts of one retrieval, told to its callers and to the transfers panel alike, so
 * the viewer's bar and the panel's never disagree. Nothing is told before the instance
 * list is in (`total` undefined): a count of nothing would read as "done".
 */
export class RetrievalProgress {
  /** Instances in the cache, those stored before this retrieval included. */
  readonly stored = new Set<string>();
  total: number | undefined = undefined;
  previewsDone = 0;
  previewsTotal = 0;
  /** Once the panel has shown previews it keeps being told, down to 0 of 0 (the site stopped rendering). */
  private previewsReported = false;

  constructor(
    private readonly onProgress: ((p: RetrieveProgress) => void) | undefined,
    private readonly handle: TransferHandle | undefined,
    private readonly bytes: () => number,
  ) {}

  report(): void {
    const { total } = this;
    if (total === undefined) return;
    this.onProgress?.({ done: this.stored.size, total, bytes: this.bytes(), previewsDone: this.previewsDone, previewsTotal: this.previewsTotal });
    this.handle?.progress(this.stored.size, total);
    if (this.previewsTotal > 0 || this.previewsReported) {
      this.previewsReported = true;
      this.handle?.previews(this.previewsDone, this.previewsTotal);
    }
  }
}
