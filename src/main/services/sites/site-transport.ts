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

interface PinnedTransport {
  key: string;
  agent: Agent;
  fetch: typeof fetch;
}

/**
 * One undici Agent per https site with a custom CA, so that site's TLS
 * connections trust exactly that CA (Node's `ca` option replaces the default
 * roots) while every other site keeps Node's global fetch and its system
 * roots. undici's own `fetch` is used with the Agent: Node's built-in fetch
 * carries its own copy of undici, whose dispatcher interface need not match
 * this package's version.
 */
export class SiteTransports {
  private readonly pinned = new Map<string, PinnedTransport>();

  /** A fetch bound to the site's CA, or undefined when the default fetch is right for it. */
  fetchFor(site: SiteEndpoint): typeof fetch | undefined {
    if (!site.caCertificate || !site.url.startsWith('https:')) {
      this.forget(site.id);
      return undefined;
    }
    const key = createHash('sha256').update(site.caCertificate).digest('hex');
    const existing = this.pinned.get(site.id);
    if (existing?.key === key) return existing.fetch;
    this.forget(site.id);
    const agent = new Agent({ connect: { ca: site.caCertificate } });
    const pinnedFetch = ((input: string | URL | Request, init?: RequestInit) =>
      undiciFetch(input as Parameters<typeof undiciFetch>[0], {
        ...(init as Parameters<typeof undiciFetch>[1]),
        dispatcher: agent,
      })) as unknown as typeof fetch;
    this.pinned.set(site.id, { key, agent, fetch: pinnedFetch });
    return pinnedFetch;
  }

  /** Drops a site's Agent (its CA changed, or the site was removed). */
  forget(siteId: string): void {
    const existing = this.pinned.get(siteId);
    if (!existing) return;
    this.pinned.delete(siteId);
    // In-flight requests finish; new ones get a new Agent.
    void existing.agent.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    const agents = [...this.pinned.values()].map((p) => p.agent);
    this.pinned.clear();
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
  }
}
