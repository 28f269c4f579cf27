import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
export type { SiteAuth } from '../../../shared/ipc/contract';
import { SiteAddRequestSchema } from '../../../shared/ipc/contract';

/**
 * The site provisioning file an administrator hands to the workstation
 * (`--sites FILE`):
 *
 *   [{"name": "Hospital A", "url": "https://pacs.a.example/dicom-web",
 *     "auth": {"type": "basic", "username": "reader", "password": <the site's password>}}]
 *
 * Optional per entry: `"caCertificate": "-----BEGIN CERTIFICATE-----…"` and
 * `"timeouts": {"connectMs": 30000, "idleMs": 30000}`, and `"allowInsecureHttp": true`,
 * without which an http:// URL to a host other than loopback is skipped
 * (SitesService.provision logs why).
 *
 * Objects are strict so a misspelt key ("pasword") is an error instead of a
 * site that silently has no password. The field schemas are the contract's,
 * so a file and the "Add site" form accept exactly the same sites.
 */
// An entry describes a site whole (an absent optional field means its default), exactly as
// "Add site" does: the same schema, so a file and the form accept the same sites.
export const ProvisioningEntrySchema = SiteAddRequestSchema;
export type ProvisioningEntry = z.infer<typeof ProvisioningEntrySchema>;

/** A provisioning file that cannot be used; the message names each bad entry and field. */
export class ProvisioningError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Site provisioning ${source} is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ProvisioningError';
  }
}

function describeEntry(raw: unknown, index: number): string {
  const name = typeof raw === 'object' && raw !== null ? (raw as { name?: unknown }).name : undefined;
  return typeof name === 'string' && name.trim() !== '' ? `entry ${index + 1} ("${name.slice(0, 80)}")` : `entry ${index + 1}`;
}

/** Validates already-parsed JSON; `source` names it in error messages (a path, or "request"). */
export function parseProvisioning(raw: unknown, source: string): ProvisioningEntry[] {
  if (!Array.isArray(raw)) throw new ProvisioningError(source, ['the top level must be a JSON array of sites']);
  if (raw.length === 0) throw new ProvisioningError(source, ['the list of sites is empty']);
  const problems: string[] = [];
  const entries: ProvisioningEntry[] = [];
  const seen = new Map<string, number>();
  raw.forEach((item, index) => {
    const parsed = ProvisioningEntrySchema.safeParse(item);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = issue.path.map(String).join('.') || '(the entry itself)';
        problems.push(`${describeEntry(item, index)}, field "${field}": ${issue.message}`);
      }
      return;
    }
    const key = parsed.data.name.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push(`${describeEntry(item, index)}, field "name": duplicates entry ${first + 1}`);
      return;
    }
    seen.set(key, index);
    entries.push(parsed.data);
  });
  if (problems.length > 0) throw new ProvisioningError(source, problems);
  return entries;
}

/** Reads and validates a provisioning file. */
export async function loadProvisioningFile(filePath: string): Promise<ProvisioningEntry[]> {
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (err) {
    throw new ProvisioningError(`file ${filePath}`, [`cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // V8's message may quote the file's text, which holds passwords; keep only the position.
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    const where = position === undefined ? '' : ` at ${lineAndColumn(text, Number(position))}`;
    throw new ProvisioningError(`file ${filePath}`, [`is not valid JSON${where}`]);
  }
  return parseProvisioning(raw, `file ${filePath}`);
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

/**
 * A URL- and file-name-safe id from a site name ("Hôpital St. Anne" →
 * "hopital-st-anne"). Ids appear in gateway paths and cache keys, so they
 * must not change when the site is re-provisioned; SitesService keeps the
 * first id it gave a name.
 */
export function slugForSiteName(name: string, taken: ReadonlySet<string>): string {
  const base =
    name
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 48)
      .replace(/-+$/, '') || 'site';
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const candidate = `${base}-${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}
