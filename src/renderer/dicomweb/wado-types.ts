import type { BadAnswerError, HttpStatusError } from './site-error';

/** One item of a preview batch: its JPEG, or why there is none. */
export type RenderedBatchAnswer =
  | { sopInstanceUID: string; ok: true; bytes: ArrayBuffer }
  | { sopInstanceUID: string; ok: false; error: HttpStatusError | BadAnswerError };

/** A rendered preview (WADO-RS Retrieve Rendered, PS3.18 §9.5): `viewport` raster size and JPEG quality. */
export interface RenderedOptions {
  viewport: { width: number; height: number };
  quality: number;
  onBytes?: (n: number) => void;
}

export interface RetrieveInstanceOptions {
  /** Transfer syntax UID to ask the site for; '*' (the default) is the file as stored. */
  transferSyntax?: string;
  /** Told of each chunk of the body as it arrives (bytes after HTTP decoding), for bandwidth and ETA. */
  onBytes?: (n: number) => void;
}
