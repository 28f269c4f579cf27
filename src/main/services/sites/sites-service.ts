import type {
  SiteAddRequestSchema,
  SiteAuth,
  SecretProtection,
  SiteCapabilities,
  SiteSummary,
  SiteTimeouts,
  SiteUpdateRequestSchema,
} from '../../../shared/ipc/contract';
import { DEFAULT_SITE_TIMEOUTS } from '../../../shared/ipc/contract';
import { ServiceError } from '../../../shared/ipc/envelope';
import { gatewayPathForSite } from '../../../shared/gateway';
import type { Logger, Redactor } from '../../../shared/log';
import type { z } from 'zod';
import type { SecretStore } from '../secrets/secret-store';
import type { ProvisioningEntry } from './provisioning';
import { slugForSiteName } from './provisioning';
import type { SiteRepository, StoredSite } from './site-repository';
import { SiteTransports, caCertificateProblem } from './site-transport';
import { SerialQueue } from '../fs/private-json-file';
import { isUnencryptedRemoteUrl, plainHttpRefusal } from '../../../shared/sites/plain-http';

/** What the gateway needs from the sites service; tests can supply a fake. */
export interface SiteDirectory {
  find(siteId: string): Promise<(Pick<StoredSite, 'id' | 'name' | 'url'> & Partial<Pick<StoredSite, 'timeouts' | 'allowInsecureHttp'>>) | undefined>;
  /** Headers that authenticate main at the site; empty for auth type none. */
  authHeaders(siteId: string): Promise<Record<string, string>>;
  /** A fetch pinned to the site's custom CA; undefined (or absent) means the default fetch. */
  fetchFor?(siteId: string): Promise<typeof fetch | undefined>;
  /**
   * The site and its credentials read in one step, in the same queue as updates: a request racing a
   * change of URL and secret gets the old pair or the new pair, never the new secret for the old URL.
   * SitesService has it; a narrow test double may leave it out and is then read with find + authHeaders.
   */
  connection?(siteId: string): Promise<SiteConnection | undefined>;
}

/** A site, its credentials and its transport (custom CA, keep-alive), as of one moment. */
export interface SiteConnection {
  site: SiteConnectionSite;
  auth: Record<string, string>;
  /** Absent: the default fetch. */
  fetch?: typeof fetch;
}

/** What the gateway reads of a site. */
export type SiteConnectionSite = Pick<StoredSite, 'id' | 'name' | 'url'> & Partial<Pick<StoredSite, 'timeouts' | 'allowInsecureHttp'>>;

export type SiteAddInput = z.output<typeof SiteAddRequestSchema>;
export type SiteUpdateInput = z.output<typeof SiteUpdateRequestSchema>;

function credentialKey(siteId: string): string {
  return `site:${siteId}:credential`;
}

/**
 * The configured remote sites. Site metadata is in the repository, the
 * password or token of each in the SecretStore under `site:<id>:credential`;
 * only summaries without secrets (or CA certificates) ever leave this class
 * towards the renderer.
 */
/** Which request field carries the credential of an auth type that has one, for error messages. */
const SECRET_FIELD = {
  basic: { field: 'auth.password', kind: 'password' },
  bearer: { field: 'auth.token', kind: 'token' },
} as const;

export class SitesService implements SiteDirectory {
  private sites: StoredSite[] | undefined;
  /**
   * connection()'s answers per site id, so a gateway request neither waits in the queue nor reads and decrypts
   * the secret each time. Filled on a miss inside the queue; emptied inside the queue wherever sites or secrets
   * change (forgetConnections), so a hit is always a pair some moment of the queue had.
   */
  private readonly connections = new Map<string, SiteConnection & { site: StoredSite }>();
  private readonly queue = new SerialQueue();
  private readonly transports = new SiteTransports();

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

  async summary(siteId: string): Promise<SiteSummary> {
    return toSummary(await this.require(siteId));
  }

  async fetchFor(siteId: string): Promise<typeof fetch | undefined> {
    const site = await this.find(siteId);
    return site ? this.transports.fetchFor(site) : undefined;
  }

  /**
   * Adds or updates sites by name. An existing site keeps its id (gateway
   * paths and cached studies refer to it); its credential is replaced, or
   * removed when the new auth type has none. An entry describes its site
   * whole: a CA or timeouts it leaves out go back to none / the defaults.
   */
  provision(entries: readonly ProvisioningEntry[]): Promise<SiteSummary[]> {
    return this.queue.run(async () => {
      for (const entry of entries) if (entry.caCertificate !== undefined) assertUsableCa(entry.caCertificate, `"${entry.name}" caCertificate`);
      const sites = [...(await this.all())];
      const changed: StoredSite[] = [];
      for (const entry of entries) {
        // One unsafe entry must not keep the others from being provisioned; it is named in the log instead.
        if (isUnencryptedRemoteUrl(entry.url) && entry.allowInsecureHttp !== true) {
          this.log.warn(`Provisioning skipped site "${entry.name}": ${plainHttpRefusal(entry.url)} ("allowInsecureHttp": true)`);
          continue;
        }
        const existing = sites.find((s) => s.name.toLowerCase() === entry.name.toLowerCase());
        const id = existing?.id ?? slugForSiteName(entry.name, new Set(sites.map((s) => s.id)));
        const site = withCapabilitiesIfStillValid(existing, describedSite(id, entry));
        // Secret first: a site must never be listed while its credential is missing or stale.
        await this.storeSecret(id, entry.auth);
        if (existing) sites[sites.indexOf(existing)] = site;
        else sites.push(site);
        changed.push(site);
      }
      if (changed.length > 0) await this.commit(sites);
      this.log.info(`Provisioned ${changed.length} site(s): ${changed.map((s) => s.id).join(', ')}`);
      return changed.map(toSummary);
    });
  }

  /** A new site from the "Add site" form. Names are unique, case-insensitively, like in provisioning. */
  add(input: SiteAddInput): Promise<SiteSummary> {
    return this.queue.run(async () => {
      if (input.caCertificate !== undefined) assertUsableCa(input.caCertificate, 'caCertificate');
      assertTransportAllowed(input.url, input.allowInsecureHttp === true);
      const sites = [...(await this.all())];
      assertNameFree(sites, input.name);
      const id = slugForSiteName(input.name, new Set(sites.map((s) => s.id)));
      const site = describedSite(id, input);
      await this.storeSecret(id, input.auth);
      await this.commit([...sites, site]);
      this.log.info(`Added site ${id}`);
      return toSummary(site);
    });
  }

  /**
   * Changes what the request names and keeps the rest. The id never changes
   * (gateway paths and cached studies refer to it). A secret left out is kept
   * when the auth type stays the same and the URL keeps its origin; switching
   * type, or moving the site to another origin, needs the new secret.
   */
  update(input: SiteUpdateInput): Promise<SiteSummary> {
    return this.queue.run(async () => {
      const sites = [...(await this.all())];
      const index = sites.findIndex((s) => s.id === input.id);
      const current = sites[index];
      if (!current) throw new ServiceError('NOT_FOUND', `No site with id "${input.id}"`);
      if (input.name !== undefined) assertNameFree(sites, input.name, current.id);
      if (typeof input.caCertificate === 'string') assertUsableCa(input.caCertificate, 'caCertificate');

      let secret: SiteAuth | undefined;
      const next: StoredSite = { ...current };
      if (input.name !== undefined) next.name = input.name;
      if (input.url !== undefined) next.url = input.url;
      // Consent covers the origin it was given for: a move to another host needs it again.
      const allowed = input.allowInsecureHttp ?? (current.allowInsecureHttp === true && sameOrigin(current.url, next.url));
      assertTransportAllowed(next.url, allowed);
      delete next.allowInsecureHttp;
      Object.assign(next, insecureHttpField(next.url, allowed));
      if (input.caCertificate === null) delete next.caCertificate;
      else if (input.caCertificate !== undefined) next.caCertificate = input.caCertificate;
      if (input.timeouts !== undefined) {
        delete next.timeouts;
        Object.assign(next, timeoutsField({ ...effectiveTimeouts(current), ...input.timeouts }));
      }
      if (input.auth !== undefined) {
        const auth = input.auth;
        next.authType = auth.type;
        if (auth.type === 'basic') next.username = auth.username;
        else delete next.username;
        if (auth.type === 'basic' && auth.password !== undefined) secret = { type: 'basic', username: auth.username, password: auth.password };
        else if (auth.type === 'bearer' && auth.token !== undefined) secret = { type: 'bearer', token: auth.token };
        else if (auth.type === 'none') secret = { type: 'none' };
        else if (auth.type !== current.authType || (await this.secrets.get(credentialKey(current.id))) === undefined) {
          const { field, kind } = SECRET_FIELD[auth.type];
          throw new ServiceError('BAD_REQUEST', `${field}: required when the site had no ${kind} before`);
        }
      }
      // A stored password or token was given for one server: a move to another origin (scheme, host or port)
      // must not take it along, or the first request sends it to whoever answers there. So such a move needs the
      // new credentials in the same request (or auth type none), which replace the stored secret below, and is
      // refused before anything changes otherwise. A new path on the same origin keeps it: the same server (same
      // TLS identity, same host and port) gets it, which it could already ask for under any path.
      if (next.authType !== 'none' && !sameOrigin(current.url, next.url) && secret === undefined) {
        throw new ServiceError('BAD_REQUEST', originChangeRefusal(next.authType));
      }
      const site = withCapabilitiesIfStillValid(current, next);
      if (secret) await this.storeSecret(site.id, secret);
      sites[index] = site;
      await this.commit(sites);
      this.log.info(`Updated site ${site.id}`);
      return toSummary(site);
    });
  }

  remove(siteId: string): Promise<null> {
    return this.queue.run(async () => {
      const sites = await this.all();
      if (!sites.some((s) => s.id === siteId)) throw new ServiceError('NOT_FOUND', `No site with id "${siteId}"`);
      await this.commit(sites.filter((s) => s.id !== siteId));
      // After the site is gone from the list, so a crash between the two never lists a site without its secret.
      await this.secrets.delete(credentialKey(siteId));
      this.transports.forget(siteId);
      this.forgetConnections();
      this.log.info(`Removed site ${siteId}`);
      return null;
    });
  }

  /**
   * Keeps a connection test's findings on the site, unless the site was
   * removed, or its URL or CA changed, while the test ran: the result would
   * describe a different server.
   */
  recordCapabilities(tested: Pick<StoredSite, 'id' | 'url' | 'caCertificate'>, capabilities: SiteCapabilities): Promise<boolean> {
    return this.queue.run(async () => {
      const sites = [...(await this.all())];
      const index = sites.findIndex((s) => s.id === tested.id);
      const current = sites[index];
      if (!current || current.url !== tested.url || current.caCertificate !== tested.caCertificate) return false;
      sites[index] = { ...current, capabilities };
      await this.commit(sites);
      return true;
    });
  }

  async authHeaders(siteId: string): Promise<Record<string, string>> {
    return this.authHeadersOf(await this.find(siteId));
  }

  /**
   * See SiteDirectory.connection. A secret that cannot be read throws, as authHeaders does (and nothing is
   * kept). A site known from an earlier call is answered from memory, without the queue (see `connections`).
   */
  connection(siteId: string): Promise<(SiteConnection & { site: StoredSite }) | undefined> {
    const known = this.connections.get(siteId);
    if (known) return Promise.resolve(known);
    return this.queue.run(async () => {
      const cached = this.connections.get(siteId);
      if (cached) return cached;
      const site = await this.find(siteId);
      if (!site) return undefined;
      const connection = { site, auth: await this.authHeadersOf(site), fetch: this.transports.fetchFor(site) };
      this.connections.set(siteId, connection);
      return connection;
    });
  }

  /**
   * The secret store's choice of weak protection, in this queue: withdrawing it deletes the secrets kept
   * that way, so no connection() answered from memory may carry one on.
   */
  chooseWeakSecretProtection(accept: boolean): Promise<SecretProtection> {
    return this.queue.run(() => {
      this.forgetConnections();
      return this.secrets.chooseWeakProtection(accept);
    });
  }

  private async authHeadersOf(site: StoredSite | undefined): Promise<Record<string, string>> {
    if (!site || site.authType === 'none') return {};
    const secret = await this.secrets.get(credentialKey(site.id));
    if (secret === undefined) throw new Error(`No credential stored for site ${site.id}`);
    if (site.authType === 'bearer') return { authorization: `Bearer ${secret}` };
    const encoded = Buffer.from(`${site.username ?? ''}:${secret}`, 'utf8').toString('base64');
    // The encoded form is as good as the password itself.
    this.redactor.add(encoded);
    return { authorization: `Basic ${encoded}` };
  }

  /** Releases the per-site TLS agents. */
  close(): Promise<void> {
    return this.transports.close();
  }

  private async storeSecret(siteId: string, auth: SiteAuth): Promise<void> {
    // Before the secret changes: should the site list then fail to save, no answer from memory keeps the old secret.
    this.forgetConnections();
    if (auth.type === 'basic') await this.secrets.set(credentialKey(siteId), auth.password);
    else if (auth.type === 'bearer') await this.secrets.set(credentialKey(siteId), auth.token);
    else await this.secrets.delete(credentialKey(siteId));
  }

  private async commit(sites: StoredSite[]): Promise<void> {
    await this.repository.save(sites);
    this.sites = sites;
    this.forgetConnections();
  }

  /** Only inside the queue (see `connections`). */
  private forgetConnections(): void {
    this.connections.clear();
  }

  private async require(siteId: string): Promise<StoredSite> {
    const site = await this.find(siteId);
    if (!site) throw new ServiceError('NOT_FOUND', `No site with id "${siteId}"`);
    return site;
  }

  private async all(): Promise<StoredSite[]> {
    this.sites ??= await this.repository.load();
    return this.sites;
  }
}

function assertNameFree(sites: readonly StoredSite[], name: string, exceptId?: string): void {
  const clash = sites.find((s) => s.id !== exceptId && s.name.toLowerCase() === name.toLowerCase());
  if (clash) throw new ServiceError('CONFLICT', `name: a site named "${clash.name}" already exists`);
}

function assertTransportAllowed(url: string, allowInsecureHttp: boolean): void {
  if (isUnencryptedRemoteUrl(url) && !allowInsecureHttp) throw new ServiceError('BAD_REQUEST', `url: ${plainHttpRefusal(url)}`);
}

/** Stored only while the URL needs it, so switching back from https to http asks again. */
function insecureHttpField(url: string, allowed: boolean | undefined): { allowInsecureHttp?: true } {
  return allowed === true && isUnencryptedRemoteUrl(url) ? { allowInsecureHttp: true } : {};
}

/** The words the Sites form shows at the secret's field (the `auth.…:` prefix names it). */
function originChangeRefusal(authType: 'basic' | 'bearer'): string {
  return authType === 'basic'
    ? `${SECRET_FIELD.basic.field}: The site's address changed: enter its user name and password again`
    : `${SECRET_FIELD.bearer.field}: The site's address changed: enter its token again`;
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

function assertUsableCa(pem: string, field: string): void {
  const problem = caCertificateProblem(pem);
  if (problem) throw new ServiceError('BAD_REQUEST', `${field}: ${problem}`);
}

export function effectiveTimeouts(site: Pick<StoredSite, 'timeouts'>): SiteTimeouts {
  return site.timeouts ?? { ...DEFAULT_SITE_TIMEOUTS };
}

/** Stores timeouts only when they differ from the defaults, so a later change of defaults reaches every site that never chose its own. */
function timeoutsField(partial: Partial<SiteTimeouts> | undefined): { timeouts?: SiteTimeouts } {
  if (!partial) return {};
  const timeouts = { ...DEFAULT_SITE_TIMEOUTS, ...partial };
  if (timeouts.connectMs === DEFAULT_SITE_TIMEOUTS.connectMs && timeouts.idleMs === DEFAULT_SITE_TIMEOUTS.idleMs) return {};
  return { timeouts };
}

/**
 * The site a provisioning entry or the "Add site" form describes (one schema), whole: an optional
 * field left out is its default. Without the credential, which goes to the SecretStore.
 */
function describedSite(id: string, described: SiteAddInput): StoredSite {
  return {
    id,
    name: described.name,
    url: described.url,
    authType: described.auth.type,
    ...(described.auth.type === 'basic' ? { username: described.auth.username } : {}),
    ...(described.caCertificate !== undefined ? { caCertificate: described.caCertificate } : {}),
    ...timeoutsField(described.timeouts),
    ...insecureHttpField(described.url, described.allowInsecureHttp),
  };
}

/** A capability result describes one server: it survives a rename or a new password, not a new URL or CA. */
function withCapabilitiesIfStillValid(previous: StoredSite | undefined, next: StoredSite): StoredSite {
  const { capabilities: _dropped, ...rest } = next;
  if (previous?.capabilities && previous.url === next.url && previous.caCertificate === next.caCertificate) {
    return { ...rest, capabilities: previous.capabilities };
  }
  return rest;
}

function toSummary(site: StoredSite): SiteSummary {
  return {
    id: site.id,
    name: site.name,
    url: site.url,
    authType: site.authType,
    ...(site.username !== undefined ? { username: site.username } : {}),
    gatewayPath: gatewayPathForSite(site.id),
    hasCustomCa: site.caCertificate !== undefined,
    ...(site.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
    timeouts: effectiveTimeouts(site),
    ...(site.capabilities ? { capabilities: site.capabilities } : {}),
  };
}
