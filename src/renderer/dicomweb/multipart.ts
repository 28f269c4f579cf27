/**
 * A small multipart/related reader for WADO-RS answers (PS3.18 §8.7.1.1,
 * RFC 2387). It exists because dicomweb-client 0.11.3 cannot ask for
 * `transfer-syntax=*`: its retrieveInstance reduces the media types to
 * their common prefix ("application/") and then refuses it, and without
 * that parameter a server must transcode to Explicit VR Little Endian —
 * slow at the site, and lossy images would come back re-encoded. So the
 * retriever fetches itself and splits the body here.
 */

export interface MultipartPart {
  headers: Map<string, string>;
  body: ArrayBuffer;
}

/** The boundary parameter of a multipart Content-Type, quotes removed; undefined when it is not multipart. */
export function boundaryOf(contentType: string | null): string | undefined {
  if (!contentType || !/^\s*multipart\//i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = haystack.length - needle.length;
  outer: for (let i = from; i <= last; i++) {
    if (haystack[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const CRLFCRLF = ascii('\r\n\r\n');

/**
 * Splits a multipart body into its parts. The delimiter is CRLF "--" boundary
 * (the first one may start the body without the CRLF); each part's headers end
 * at the first blank line. Throws on a body without a single complete part,
 * which is what a truncated transfer looks like.
 */
export function parseMultipart(body: ArrayBuffer, boundary: string): MultipartPart[] {
  const bytes = new Uint8Array(body);
  const delimiter = ascii(`\r\n--${boundary}`);
  const parts: MultipartPart[] = [];
  // The first delimiter may open the body without its CRLF: treat that as a CRLF at -2.
  const opensBody = delimiter.subarray(2).every((b, i) => bytes[i] === b);
  let pos = opensBody ? -2 : indexOf(bytes, delimiter, 0);
  if (pos === -1) throw new Error('multipart body has no opening boundary');
  let closed = false;
  while (pos !== -1) {
    let cursor = pos + delimiter.length;
    // "--" after the boundary closes the body.
    if (bytes[cursor] === 0x2d && bytes[cursor + 1] === 0x2d) {
      closed = true;
      break;
    }
    // Skip transport padding up to the CRLF that ends the boundary line.
    while (cursor < bytes.length && bytes[cursor] !== 0x0a) cursor++;
    cursor++;
    const headerEnd = indexOf(bytes, CRLFCRLF, cursor - 2);
    if (headerEnd === -1) break;
    const headers = new Map<string, string>();
    const headerText = new TextDecoder('latin1').decode(bytes.subarray(cursor, headerEnd));
    for (const line of headerText.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const start = headerEnd + CRLFCRLF.length;
    const next = indexOf(bytes, delimiter, start);
    if (next === -1) break; // no closing delimiter: the part is truncated, do not hand it out
    parts.push({ headers, body: body.slice(start, next) });
    pos = next;
  }
  if (parts.length === 0) throw new Error(closed ? 'multipart body has no parts' : 'multipart body is truncated');
  return parts;
}
