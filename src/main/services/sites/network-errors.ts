/**
 * Fetch failures in plain words, for the gateway's answers and for "Test
 * connection": both name the same cause the same way.
 */

/** The most specific code in a fetch failure: `ECONNREFUSED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, … */
export function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}

/** undici's own connect timer (10 s in Node's fetch) fired before ours. */
export function isConnectTimeout(code: string): boolean {
  return code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT';
}

/**
 * A TLS failure code in plain words, code kept: "Test connection" and the
 * gateway say the same thing, and neither ever retries without verification.
 */
export function tlsFailureReason(code: string): string {
  if (/SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) return `the site's certificate is not signed by a trusted CA (${code}); add the site's CA certificate`;
  if (/EXPIRED|NOT_YET_VALID/.test(code)) return `the site's certificate is outside its validity period (${code})`;
  if (/ALTNAME|HOSTNAME/.test(code)) return `the site's certificate is for another host name (${code})`;
  return code;
}

/** OpenSSL / Node codes for a certificate the client does not trust, or a failed handshake. */
export function isTlsFailure(code: string): boolean {
  return (
    /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME_MISMATCH/.test(code) ||
    code === 'ERR_TLS_CERT_ALTNAME_INVALID'
  );
}
