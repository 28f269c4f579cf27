/**
 * Something a panel fetches to show (a PDF, say): still loading, ready with
 * its `data`, or failed with a readable `message`. Stores extend it with what
 * names the thing (a title, an attachment).
 */
export interface LoadState<T> {
  phase: 'loading' | 'ready' | 'error';
  data?: T;
  message?: string;
}
