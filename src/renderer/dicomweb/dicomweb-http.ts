import { errorMessage } from '../../shared/error-message';
import { BadAnswerError, HttpStatusError, TransferInterruptedError } from './site-error';

/**
 * The HTTP plumbing every call of the DICOMweb client shares: one way to send
 * (same-origin, so only the app's cookie goes out; the gateway adds the
 * site's credentials), one way to say "no HTTP answer at all", one way to
 * turn an error answer into HttpStatusError for the single classifier.
 */
export interface DicomWebHttp {
  /** Sends one request; a failure without any HTTP answer becomes HttpStatusError(0) unless `signal` was aborted. */
  send(url: string, init: RequestInit, signal?: AbortSignal): Promise<Response>;
  get(url: string, accept: string, signal?: AbortSignal): Promise<Response>;
}

export function createDicomWebHttp(fetchImpl: typeof fetch): DicomWebHttp {
  const send = async (url: string, init: RequestInit, signal?: AbortSignal): Promise<Response> => {
    try {
      return await fetchImpl(url, { ...init, credentials: 'same-origin', ...(signal ? { signal } : {}) });
    } catch (err) {
      if (signal?.aborted) throw err;
      // No HTTP answer at all: the app host itself is gone (the gateway answers for the sites).
      throw noAnswer(err);
    }
  };
  return { send, get: (url, accept, signal) => send(url, { headers: { accept } }, signal) };
}

/** Status 0 for a fetch that threw; what fetch threw is kept as the cause, for a reason more precise than "fetch failed". */
function noAnswer(err: unknown): HttpStatusError {
  const e = new HttpStatusError(0, errorMessage(err));
  e.cause = err;
  return e;
}

/** Why a request got no HTTP answer: fetch's innermost reason ("socket hang up", not "fetch failed"). */
export function noAnswerReason(err: unknown): string {
  const cause = err instanceof HttpStatusError && err.status === 0 ? err.cause : err;
  if (cause instanceof Error) return cause.cause instanceof Error ? cause.cause.message : cause.message;
  return String(cause);
}

/** An error answer as HttpStatusError, its headers and body kept for the gateway's code. */
export async function failedAnswer(res: Response, message: string): Promise<HttpStatusError> {
  return new HttpStatusError(res.status, message, res.headers, await res.arrayBuffer().catch(() => undefined));
}

/** QIDO-RS query parameters; an array value repeats the key (`includefield=a&includefield=b`). */
export type QidoParams = Record<string, string | readonly string[]>;

export function toQuery(params: QidoParams): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) for (const v of typeof value === 'string' ? [value] : value) q.append(key, v);
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** `/studies/<study>/series/<series>/instances/<sop>`, each UID encoded. */
export function instancePath(uids: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string }): string {
  return `/studies/${encodeURIComponent(uids.studyInstanceUID)}/series/${encodeURIComponent(uids.seriesInstanceUID)}/instances/${encodeURIComponent(uids.sopInstanceUID)}`;
}

/** Reads a body to the end, telling `onBytes` of each chunk; a broken connection becomes TransferInterruptedError. */
export async function readBody(res: Response, signal: AbortSignal | undefined, onBytes?: (n: number) => void): Promise<ArrayBuffer> {
  if (!res.body) return new ArrayBuffer(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.byteLength;
      onBytes?.(value.byteLength);
    }
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new TransferInterruptedError(`connection dropped after ${total} bytes (${errorMessage(err)})`);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  // Only a body we received undecoded can be checked against its length.
  if (Number.isFinite(declared) && !res.headers.has('content-encoding') && declared !== total) {
    throw new BadAnswerError(`the body stopped at ${total} of the ${declared} bytes it announced`, true);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out.buffer;
}
