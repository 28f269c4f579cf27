import { join } from 'node:path';
import { z } from 'zod';
import { AuthTypeSchema, SiteCapabilitiesSchema, SiteTimeoutsSchema } from '../../../shared/ipc/contract';
import { SerialQueue, readJsonFile, writePrivateJsonFile } from '../fs/private-json-file';

/**
 * A site as persisted: everything except its secret, which lives in the
 * SecretStore. The CA certificate is public material, so it lives here; it
 * is still never sent to the renderer (which has no use for it).
 */
export const StoredSiteSchema = z
  .object({
    id: z.string().min(1),
    name: z.string().min(1),
    url: z.string().min(1),
    authType: AuthTypeSchema,
    username: z.string().optional(),
    /** PEM; https connections to this site then trust only this CA (chain). */
    caCertificate: z.string().optional(),
    /** The user allowed plain http:// to this (non-loopback) site; only ever stored as true. */
    allowInsecureHttp: z.literal(true).optional(),
    /** Absent: the defaults. */
    timeouts: SiteTimeoutsSchema.optional(),
    /** The last successful connection test; cleared when the URL or the CA changes. */
    capabilities: SiteCapabilitiesSchema.optional(),
  })
  .strict();
export type StoredSite = z.infer<typeof StoredSiteSchema>;

const SitesFileSchema = z.object({ version: z.literal(1), sites: z.array(StoredSiteSchema) }).strict();

/**
 * `<dataDir>/sites.json`. The schema is strict on purpose: a `password` key
 * in this file is a bug, and reading it back fails loudly instead of
 * carrying the secret along.
 */
export class SiteRepository {
  readonly filePath: string;
  private readonly queue = new SerialQueue();

  constructor(dataDir: string) {
    this.filePath = join(dataDir, 'sites.json');
  }

  async load(): Promise<StoredSite[]> {
    const raw = await readJsonFile(this.filePath);
    if (raw === undefined) return [];
    const parsed = SitesFileSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`${this.filePath} is damaged: ${z.prettifyError(parsed.error)}`);
    return parsed.data.sites;
  }

  save(sites: readonly StoredSite[]): Promise<void> {
    // Parsing before writing strips anything that is not a StoredSite field.
    const clean = sites.map((s) => StoredSiteSchema.parse(s));
    return this.queue.run(() => writePrivateJsonFile(this.filePath, { version: 1, sites: clean }));
  }
}
