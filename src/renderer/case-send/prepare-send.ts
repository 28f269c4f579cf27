import type { OutboxInstance } from '../cache/telerad-db';
import type { TranscodeDeps } from './transcode';
import { transcodeForSending } from './transcode';

/**
 * A case's files → the outbox instances that carry it, JPEG-LS lossless
 * compressed when the user chose so. Done once, before the job is written:
 * the job then holds the very bytes every retry sends.
 */

export interface PreparedCase {
  instances: OutboxInstance[];
  /** Instances re-encoded as JPEG-LS lossless. */
  transcoded: number;
  /** Instances sent as they are, with the reason (already compressed, not an image…) — shown, not an error. */
  keptAsIs: { sopInstanceUID: string; reason: string }[];
  originalBytes: number;
  bytes: number;
}

function uidsOf(bytes: ArrayBuffer, deps: Pick<TranscodeDeps, 'dcmjs'>): { sopInstanceUID: string; sopClassUID: string; seriesInstanceUID: string } {
  const { meta, dict } = deps.dcmjs.data.DicomMessage.readFile(bytes, { ignoreErrors: false, untilTag: '7FE00010', includeUntilTagValue: false });
  const s = (d: typeof dict, tag: string): string => String(d[tag]?.Value?.[0] ?? '').replace(/\0/g, '').trim();
  const sopInstanceUID = s(dict, '00080018') || s(meta, '00020003');
  const sopClassUID = s(dict, '00080016') || s(meta, '00020002');
  const seriesInstanceUID = s(dict, '0020000E');
  if (!sopInstanceUID || !sopClassUID || !seriesInstanceUID) throw new Error('a file of the case lacks its SOP Instance, SOP Class or Series Instance UID');
  return { sopInstanceUID, sopClassUID, seriesInstanceUID };
}

export async function prepareCaseForSending(
  files: readonly ArrayBuffer[],
  opts: { compress: boolean; deps: TranscodeDeps; onProgress?: (done: number, total: number) => void },
): Promise<PreparedCase> {
  const instances: OutboxInstance[] = [];
  const keptAsIs: PreparedCase['keptAsIs'] = [];
  let transcoded = 0;
  let originalBytes = 0;
  let bytes = 0;
  for (const [k, file] of files.entries()) {
    const ids = uidsOf(file, opts.deps);
    originalBytes += file.byteLength;
    let out = file;
    if (opts.compress) {
      const r = await transcodeForSending(file, opts.deps);
      out = r.bytes;
      if (r.transcoded) transcoded += 1;
      else keptAsIs.push({ sopInstanceUID: ids.sopInstanceUID, reason: r.reason ?? 'sent as it is' });
    }
    bytes += out.byteLength;
    instances.push({ ...ids, bytes: out, state: 'pending' });
    opts.onProgress?.(k + 1, files.length);
  }
  return { instances, transcoded, keptAsIs, originalBytes, bytes };
}
