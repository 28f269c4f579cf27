import type { TransfersState } from '../cache/transfers-store';
import type { TranscodeDeps } from './transcode';
import { transcodeForSending } from './transcode';

/**
 * What the wizard shows before sending: how much goes over the link and, when
 * the app has measured the link, about how long it takes.
 */

export interface SendEstimate {
  bytes: number;
  /** Undefined when no rate has been measured yet: the UI shows the bytes only. */
  seconds?: number;
}

/**
 * `bitsPerSecond`: the last measured rate — the outbox's last upload
 * (OutboxState.lastUploadBytesPerSecond × 8), else the transfers store's
 * download rate (a link's download rate is an upper bound for its upload;
 * the UI says "about"). Omitted or not positive: time unknown.
 */
export function estimateSend(sizes: readonly number[], opts: { bitsPerSecond?: number } = {}): SendEstimate {
  const bytes = sizes.reduce((n, s) => n + s, 0);
  const bps = opts.bitsPerSecond;
  if (bps === undefined || !Number.isFinite(bps) || bps <= 0) return { bytes };
  return { bytes, seconds: (bytes * 8) / bps };
}

/** The rate to estimate with: the outbox's measured upload first, else the last download rate the transfers panel saw. */
export function measuredBitsPerSecond(rates: { uploadBytesPerSecond?: number; downloadBytesPerSecond?: number }): number | undefined {
  const r = rates.uploadBytesPerSecond ?? rates.downloadBytesPerSecond;
  return r !== undefined && r > 0 ? r * 8 : undefined;
}

/**
 * The download rate the transfers panel last saw: a running transfer's
 * sliding-window bandwidth, else the average of the newest finished one
 * (bytes over its duration). Undefined when nothing was fetched yet.
 */
export function lastDownloadBytesPerSecond(state: Pick<TransfersState, 'transfers' | 'bandwidthBps'>): number | undefined {
  if (state.bandwidthBps > 0) return state.bandwidthBps;
  for (const t of state.transfers) {
    if (t.state === 'done' && t.finishedAt !== undefined && t.finishedAt > t.startedAt && t.bytes > 0) return t.bytes / ((t.finishedAt - t.startedAt) / 1000);
  }
  return undefined;
}

export interface CompressedEstimate {
  /** Estimated bytes after JPEG-LS (instances that would stay as they are count at their size). */
  bytes: number;
  /** Bytes as they are now. */
  originalBytes: number;
  /** How many instances were actually transcoded to make the estimate. */
  sampled: number;
  /** True when some instances were extrapolated rather than transcoded. */
  estimated: boolean;
  /** Why sampled instances stay as they are ("already JPEG-LS lossless", "the JPEG-LS encoder failed …"). */
  kept?: string[];
}

/**
 * The compressed size needs the transcode itself: transcode a sample of
 * `sampleSize` images (spread across the list) and apply their ratio to the
 * other transcodable images. Instances the sample shows stay as they are
 * (already compressed, not images) are checked cheaply by transcoding them
 * too — those return at once without encoding.
 */
export async function estimateCompressed(part10s: readonly ArrayBuffer[], deps: TranscodeDeps, opts: { sampleSize?: number } = {}): Promise<CompressedEstimate> {
  const sampleSize = Math.max(1, opts.sampleSize ?? 3);
  const originalBytes = part10s.reduce((n, b) => n + b.byteLength, 0);
  if (part10s.length === 0) return { bytes: 0, originalBytes: 0, sampled: 0, estimated: false };
  // Evenly spread picks, so a series' first few slices (often the smallest, outside the body) do not decide alone.
  const picks = new Set<number>();
  const n = Math.min(sampleSize, part10s.length);
  for (let k = 0; k < n; k++) picks.add(Math.floor(((k + 0.5) * part10s.length) / n));
  let sampleIn = 0;
  let sampleOut = 0;
  let bytes = 0;
  const kept: string[] = [];
  const rest: number[] = [];
  for (let i = 0; i < part10s.length; i++) {
    const b = part10s[i]!;
    if (picks.has(i)) {
      const r = await transcodeForSending(b, deps);
      bytes += r.bytes.byteLength;
      if (r.transcoded) {
        sampleIn += b.byteLength;
        sampleOut += r.bytes.byteLength;
      } else if (r.reason) kept.push(r.reason);
    } else {
      rest.push(b.byteLength);
    }
  }
  const ratio = sampleIn > 0 ? sampleOut / sampleIn : 1;
  for (const s of rest) bytes += s * ratio;
  return { bytes: Math.round(bytes), originalBytes, sampled: picks.size, estimated: rest.length > 0, ...(kept.length ? { kept } : {}) };
}
