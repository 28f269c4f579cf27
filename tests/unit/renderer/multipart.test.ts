// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { boundaryOf, parseMultipart } from '../../../src/renderer/dicomweb/multipart';

const enc = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
function concat(...chunks: Uint8Array[]): ArrayBuffer {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out.buffer;
}

describe('WADO-RS multipart reader', () => {
  it('reads the boundary from a quoted or bare Content-Type parameter', () => {
    expect(boundaryOf('multipart/related; type="application/dicom"; boundary="abc 123"')).toBe('abc 123');
    expect(boundaryOf('multipart/related;boundary=xyz;type="application/dicom"')).toBe('xyz');
    expect(boundaryOf('application/dicom')).toBeUndefined();
  });

  it('returns each part byte for byte, even when the payload holds CRLF and dashes', () => {
    const payload = new Uint8Array(300);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 3 === 0 ? 0x0d : i % 3 === 1 ? 0x0a : 0x2d;
    const body = concat(
      enc('--B\r\nContent-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1\r\n\r\n'),
      payload,
      enc('\r\n--B\r\nContent-Type: application/dicom\r\n\r\n'),
      enc('second'),
      enc('\r\n--B--\r\n'),
    );
    const parts = parseMultipart(body, 'B');
    expect(parts).toHaveLength(2);
    expect(new Uint8Array(parts[0]!.body)).toEqual(payload);
    expect(parts[0]!.headers.get('content-type')).toContain('transfer-syntax=1.2.840.10008.1.2.1');
    expect(new TextDecoder().decode(parts[1]!.body)).toBe('second');
  });

  it('refuses a body cut off before its closing boundary', () => {
    const body = concat(enc('--B\r\nContent-Type: application/dicom\r\n\r\n'), enc('half a fi'));
    expect(() => parseMultipart(body, 'B')).toThrow(/truncated/);
  });
});
