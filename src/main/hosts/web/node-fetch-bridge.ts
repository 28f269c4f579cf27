import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

/** Headers of the browser's request that are about its session with us, never for a site. */
const LOCAL_ONLY_HEADERS = new Set(['cookie', 'authorization', 'x-telerad-token', 'host', 'connection', 'transfer-encoding', 'keep-alive', 'upgrade']);

/**
 * A WHATWG Request for a Node request, body streamed (STOW-RS uploads can be
 * large). `signal` lets the caller abort the work when the browser goes away.
 */
export function toWebRequest(req: IncomingMessage, url: URL, signal: AbortSignal): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || LOCAL_ONLY_HEADERS.has(name)) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(url, {
    method,
    headers,
    signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
  } as RequestInit);
}

/**
 * Writes a WHATWG Response to a Node response, streaming with backpressure.
 * `overrides` are set after the response's own headers so they win (the
 * app's security headers over whatever a site sent).
 */
export async function sendWebResponse(
  res: ServerResponse,
  response: Response,
  overrides: Readonly<Record<string, string>>,
): Promise<void> {
  res.statusCode = response.status;
  response.headers.forEach((value, name) => res.setHeader(name, value));
  for (const [name, value] of Object.entries(overrides)) res.setHeader(name, value);
  if (!response.body) {
    res.end();
    return;
  }
  await streamToResponse(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), res);
}

/**
 * Pipes `source` into `res`. Resolves when the response is done or the
 * browser went away (a client closing its socket right after the last byte
 * is normal, not an error); rejects only when the source itself fails — a
 * site stalling mid-body, a file read error — after cutting the response
 * short so the browser sees a truncated transfer, not a complete one.
 */
export function streamToResponse(source: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    source.once('error', (err) => {
      res.destroy();
      reject(err);
    });
    res.once('close', () => {
      source.destroy();
      resolve();
    });
    source.pipe(res);
  });
}
