import { X509Certificate, createHash } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';

/** What a site needs from the network layer: where it is and which CA it trusts. */
export interface SiteEndpoint {
  id: string;
  url: string;
  caCertificate?: string | undefined;
}

/**
 * Splits PEM text into certificates and parses each one; returns a problem in
 * plain words, or undefined when every block is a certificate Node can use.
 * The contract checks the shape; this catches base64 that is not a
 * certificate, which would otherwise only fail at the first TLS handshake.
 */
export function caCertificateProblem(pem: string): string | undefined {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return 'contains no PEM certificate';
  for (const [index, block] of blocks.entries()) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch {
      return `certificate ${index + 1} is not a valid X.509 certificate`;
    }
    if (Date.parse(cert.validTo) < Date.now()) return `certificate ${index + 1} (${cert.subject.replace(/\n/g, ', ')}) expired on ${cert.validTo}`;
  }
  return undefined;
}

/**
 * How much of a server's keep-alive hint undici leaves unused (its
 * `keepAliveTimeoutThreshold`). Orthanc 1.10 answers `Keep-Alive: timeout=1`;
 * undici's default threshold (1 s in its docs, 2 s in the 6.x code) leaves
 * nothing of that, so every request opened a new TCP (and TLS) connection:
 * one more round trip per QIDO or `/rendered` preview, ~110 ms instead of
 * ~60 ms over a 50 ms link. 500 ms keeps an idle connection for half of
 * Orthanc's second, which covers requests that follow one another, and
 * leaves the other half for the trip: our idle clock starts half a round trip
 * after Orthanc's and a request needs another half to arrive, so on links
 * with a round trip under 500 ms the last request we send on a kept
 * connection still reaches Orthanc before it closes that connection, and we
 * never write to one the server is already closing (undici does not retry
 * such a request; it would fail as "unreachable").
 */
export const KEEP_ALIVE_TIMEOUT_THRESHOLD_MS = 500;

interface SiteTransport {
  key: string;
  agent: Agent;
  fetch: typeof fetch;
}

/**
 * One undici Agent per site. Each keeps its connections alive for as long as
 * the site's keep-alive hint allows (see KEEP_ALIVE_TIMEOUT_THRESHOLD_MS), and
 * an https site with a custom CA trusts exactly that CA on its connections
 * (Node's `ca` option replaces the default roots; host names are still
 * checked) while every other site keeps Node's system roots. undici's own
 * `fetch` is used with the Agent: Node's built-in fetch carries its own copy
 * of undici, whose dispatcher interface need not match this package's
 * version.
 */
export class SiteTransports {
  private readonly transports = new Map<string, SiteTransport>();

  /** The site's fetch, on its own Agent; a new Agent (the old one closed) when its URL or CA changed. */
  fetchFor(site: SiteEndpoint): typeof fetch {
    // A CA only means something for https; an http site with one stored is an ordinary http site.
    const ca = site.url.startsWith('https:') ? site.caCertificate : undefined;
    const key = createHash('sha256')
      .update(site.url)
      .update('\0')
      .update(ca ?? '')
      .digest('hex');
    const existing = this.transports.get(site.id);
    if (existing?.key === key) return existing.fetch;
    this.forget(site.id);
    const agent = new Agent({
      keepAliveTimeoutThreshold: KEEP_ALIVE_TIMEOUT_THRESHOLD_MS,
      ...(ca !== undefined ? { connect: { ca } } : {}),
    });
    const siteFetch = ((input: string | URL | Request, init?: RequestInit) =>
      undiciFetch(input as Parameters<typeof undiciFetch>[0], {
        ...(init as Parameters<typeof undiciFetch>[1]),
        dispatcher: agent,
      })) as unknown as typeof fetch;
    this.transports.set(site.id, { key, agent, fetch: siteFetch });
    return siteFetch;
  }

  /** Drops a site's Agent and its idle connections (its URL or CA changed, or the site was removed). */
  forget(siteId: string): void {
    const existing = this.transports.get(siteId);
    if (!existing) return;
    this.transports.delete(siteId);
    // In-flight requests finish; new ones get a new Agent.
    void existing.agent.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    const agents = [...this.transports.values()].map((t) => t.agent);
    this.transports.clear();
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
  }
}
