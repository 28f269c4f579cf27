/**
 * Plain-HTTP rule for sites: http:// carries patient data and credentials
 * unencrypted, so it is allowed without asking only to this machine itself
 * (the test Orthancs on 127.0.0.1). Hosts are judged after the WHATWG URL
 * parser canonicalised them ("127.1" → "127.0.0.1", "[0::1]" → "[::1]"),
 * so only canonical forms need matching, and "127.0.0.1.evil.example" stays
 * a domain name.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === 'localhost') return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return true;
  // IPv6 loopback, and IPv4-mapped 127.0.0.0/8 (::ffff:7fxx:xxxx).
  return host === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host);
}

/** True for an http:// URL whose host is not loopback: it needs the user's explicit allowance. */
export function isUnencryptedRemoteUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return parsed.protocol === 'http:' && !isLoopbackHost(parsed.hostname);
}

/** The refusal, in the words the form, the service and the gateway all use. */
export function plainHttpRefusal(url: string): string {
  return `${url} sends patient data unencrypted; use https, or allow plain HTTP for this site explicitly`;
}
