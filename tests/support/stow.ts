// A small STOW-RS client (PS3.18 §10.5) for tests and the demo: one
// multipart/related POST of Part 10 files to `<dicomWebUrl>/studies`, and the
// answer read for the instances the server refused.
import { randomBytes } from 'node:crypto';

export interface StowFailure {
  sopInstanceUID?: string;
  /** Failure Reason (0008,1197), e.g. 0xA700 out of resources, 0xC000 cannot understand. */
  reason?: number;
}

export interface StowResult {
  status: number;
  /** SOP Instance UIDs the server stored (Referenced SOP Sequence). */
  stored: string[];
  failed: StowFailure[];
}

type JsonAttr = { Value?: unknown[] } | undefined;
type JsonDataset = Record<string, JsonAttr>;

function seqItems(ds: JsonDataset, tag: string): JsonDataset[] {
  return (ds[tag]?.Value ?? []).filter((v): v is JsonDataset => typeof v === 'object' && v !== null);
}

function first(ds: JsonDataset, tag: string): unknown {
  return ds[tag]?.Value?.[0];
}

/** Builds the multipart/related body; the boundary is random, so it cannot occur in a file by chance (2^-128). */
export function stowBody(files: readonly Uint8Array[]): { body: Uint8Array<ArrayBuffer>; contentType: string } {
  const boundary = `telerad-stow-${randomBytes(16).toString('hex')}`;
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const f of files) {
    chunks.push(enc.encode(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), f, enc.encode('\r\n'));
  }
  chunks.push(enc.encode(`--${boundary}--\r\n`));
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.length;
  }
  return { body, contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

/**
 * Stores `files` with STOW-RS and throws, naming the instances, if the server
 * answered with an error status or refused any of them. `authorization` is
 * the full header value (`Basic …`); `headers` adds others (e.g. the browser
 * host's `x-telerad-token` when posting through its gateway).
 */
export async function stowInstances(
  dicomWebUrl: string,
  authorization: string | undefined,
  files: readonly Uint8Array[],
  headers: Record<string, string> = {},
): Promise<StowResult> {
  if (files.length === 0) return { status: 200, stored: [], failed: [] };
  const { body, contentType } = stowBody(files);
  const res = await fetch(`${dicomWebUrl.replace(/\/$/, '')}/studies`, {
    method: 'POST',
    headers: {
      ...headers,
      ...(authorization ? { authorization } : {}),
      'content-type': contentType,
      accept: 'application/dicom+json',
    },
    body,
  });
  const text = await res.text();
  let answer: JsonDataset = {};
  try {
    const parsed: unknown = text ? JSON.parse(text) : {};
    // Some servers wrap the one response dataset in an array.
    answer = (Array.isArray(parsed) ? parsed[0] : parsed) as JsonDataset;
  } catch {
    // not JSON: an error page; the status check below reports it
  }
  const stored = seqItems(answer, '00081199').map((i) => String(first(i, '00081155') ?? ''));
  const failed = seqItems(answer, '00081198').map((i): StowFailure => {
    const uid = first(i, '00081155');
    const reason = first(i, '00081197');
    return { ...(uid ? { sopInstanceUID: String(uid) } : {}), ...(typeof reason === 'number' ? { reason } : {}) };
  });
  if (res.status >= 300 || failed.length > 0) {
    const what = failed.length
      ? failed.map((f) => `${f.sopInstanceUID ?? '?'} (reason 0x${(f.reason ?? 0).toString(16)})`).join(', ')
      : text.slice(0, 300);
    throw new Error(`STOW-RS to ${dicomWebUrl} failed: HTTP ${res.status}; ${what}`);
  }
  return { status: res.status, stored, failed };
}
