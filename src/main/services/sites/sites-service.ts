import type { SiteSummary } from '../../../shared/ipc/contract';
import { gatewayPathForSite } from '../../../shared/gateway';
import type { Logger, Redactor } from '../../../shared/log';
import type { SecretStore } from '../secrets/secret-store';
import type { ProvisioningEntry } from './provisioning';
import { slugForSiteName } from './provisioning';
import type { SiteRepository, StoredSite } from './site-repository';
import { SerialQueue } from '../fs/private-json-file';

/** What the gateway needs from the sites service; tests can supply a fake. */
export interface SiteDirectory {
  find(siteId: string): Promise<Pick<StoredSite, 'id' | 'name' | 'url'> | undefined>;
  /** Headers that authenticate main at the site; empty for auth type none. */
  authHeaders(siteId: string): Promise<Record<string, string>>;
}

function credentialKey(siteId: string): string {
  return `site:${siteId}:credential`;
}

/**
 * The configured remote sites. Site metadata is in the repository, the
 * password or token of each in the SecretStore under `site:<id>:credential`;
 * only summaries without secrets ever leave this class towards the renderer.
 */
export class SitesService implements SiteDirectory {
  private sites: StoredSite[] | undefined;
  private readonly queue = new SerialQueue();

  constructor(
    private readonly repository: SiteRepository,
    private readonly secrets: SecretStore,
    private readonly redactor: Redactor,
    private readonly log: Logger,
  ) {}

  async list(): Promise<SiteSummary[]> {
    return (await this.all()).map(toSummary);
  }

  async find(siteId: string): Promise<StoredSite | undefined> {
    return (await this.all()).find((s) => s.id === siteId);
  }

  /**
   * Adds or updates sites by name. An existing site keeps its id (gateway
   * paths and cached studies refer to it); its credential is replaced, or
   * removed when the new auth type has none.
   */
  provision(entries: readonly ProvisioningEntry[]): Promise<SiteSummary[]> {
    return this.queue.run(async () => {
      const sites = [...(await this.all())];
      const changed: StoredSite[] = [];
      for (const entry of entries) {
        const existing = sites.find((s) => s.name.toLowerCase() === entry.name.toLowerCase());
        const id = existing?.id ?? slugForSiteName(entry.name, new Set(sites.map((s) => s.id)));
        const site: StoredSite = {
          id,
          name: entry.name,
          url: entry.url,
          authType: entry.auth.type,
          ...(entry.auth.type === 'basic' ? { username: entry.auth.username } : {}),
        };
        // Secret first: a site must never be listed while its credential is missing or stale.
        if (entry.auth.type === 'basic') await this.secrets.set(credentialKey(id), entry.auth.password);
        else if (entry.auth.type === 'bearer') await this.secrets.set(credentialKey(id), entry.auth.token);
        else await this.secrets.delete(credentialKey(id));
        if (existing) sites[sites.indexOf(existing)] = site;
        else sites.push(site);
        changed.push(site);
      }
      await this.repository.save(sites);
      this.sites = sites;
      this.log.info(`Provisioned ${changed.length} site(s): ${changed.map((s) => s.id).join(', ')}`);
      return changed.map(toSummary);
    });
  }

  async authHeaders(siteId: string): Promise<Record<string, string>> {
    const site = await this.find(siteId);
    if (!site || site.authType === 'none') return {};
    const secret = await this.secrets.get(credentialKey(site.id));
    if (secret === undefined) throw new Error(`No credential stored for site ${site.id}`);
    if (site.authType === 'bearer') return { authorization: `Bearer ${secret}` };
    const encoded = Buffer.from(`${site.username ?? ''}:${secret}`, 'utf8').toString('base64');
    // The encoded form is as good as the password itself.
    this.redactor.add(encoded);
    return { authorization: `Basic ${encoded}` };
  }

  private async all(): Promise<StoredSite[]> {
    this.sites ??= await this.repository.load();
    return this.sites;
  }
}

function toSummary(site: StoredSite): SiteSummary {
  return {
    id: site.id,
    name: site.name,
    url: site.url,
    authType: site.authType,
    ...(site.username !== undefined ? { username: site.username } : {}),
    gatewayPath: gatewayPathForSite(site.id),
  };
}
