import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { parseAuditRepositoryUrl } from '../audit/audit-forwarder';
import type { AuditRepositoryConfig } from '../audit/audit-forwarder';
import { caCertificateProblem } from '../sites/site-transport';
import { isLoopbackHost } from '../../../shared/sites/plain-http';

/**
 * `<dataDir>/settings.json`: settings an administrator provisions per
 * machine (optional; a missing file means the defaults). For now only where
 * the audit trail is forwarded:
 *
 *   { "audit": { "repository": "tcp+tls://arr.hospital.example:6514",
 *                "caCertificate": "-----BEGIN CERTIFICATE-----…" } }
 *
 * A file that does not fit is a startup error naming the field: starting
 * without the configured forwarding would silently keep the trail local.
 */

const RepositoryUrlSchema = z.string().superRefine((url, ctx) => {
  try {
    parseAuditRepositoryUrl(url);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

const CaCertificateSchema = z.string().superRefine((pem, ctx) => {
  const problem = caCertificateProblem(pem);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const AppSettingsSchema = z
  .object({
    audit: z
      .object({
        /** tcp://host:port or tcp+tls://host:port of the Audit Record Repository. */
        repository: RepositoryUrlSchema.optional(),
        /** PEM; replaces the system roots for the repository's TLS certificate. */
        caCertificate: CaCertificateSchema.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type AppSettings = z.infer<typeof AppSettingsSchema>;

export function appSettingsPath(dataDir: string): string {
  return join(dataDir, 'settings.json');
}

/** Reads and validates settings.json; {} when there is none. Throws an Error naming the file and the field. */
export async function loadAppSettings(dataDir: string): Promise<AppSettings> {
  const file = appSettingsPath(dataDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`${file} could not be read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseAppSettings(json, file);
}

/** Validates already-parsed settings; `source` names them in the error. */
export function parseAppSettings(json: unknown, source: string): AppSettings {
  const parsed = AppSettingsSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `field "${issue.path.map(String).join('.') || '(the file itself)'}": ${issue.message}`);
  throw new Error(`${source}: ${problems.join('; ')}`);
}

/** The command line's repository and CA (already read from its file) over settings.json's. */
export function effectiveAuditRepository(
  settings: AppSettings,
  flags: { repository?: string | undefined; caCertificate?: string | undefined },
): AuditRepositoryConfig | undefined {
  const url = flags.repository ?? settings.audit?.repository;
  if (url === undefined) return undefined;
  const caCertificate = flags.caCertificate ?? settings.audit?.caCertificate;
  return { url, ...(caCertificate !== undefined ? { caCertificate } : {}) };
}

/**
 * The hosts' last check before forwarding starts: the trail carries patient names, IDs and study UIDs,
 * so plain `tcp://` goes only to this computer (a local relay); any other host needs `tcp+tls://`
 * (RFC 5425, what IHE ATNA's Secure Node asks), as plain http:// to a remote site is refused.
 * Throws an Error the host shows at start.
 */
export function assertAuditTransportAllowed(repository: AuditRepositoryConfig | undefined): void {
  if (!repository) return;
  const target = parseAuditRepositoryUrl(repository.url);
  // parseAuditRepositoryUrl drops an IPv6 literal's brackets; isLoopbackHost judges URL host forms.
  const urlHost = target.host.includes(':') ? `[${target.host}]` : target.host;
  if (!target.tls && !isLoopbackHost(urlHost)) {
    throw new Error(`audit repository ${target.display}: plain tcp:// would send patient names unencrypted to another computer; use tcp+tls://${urlHost}:${target.port} (RFC 5425) or a relay on this computer`);
  }
}

/**
 * Checks a repository given on the command line (settings.json is checked
 * by its schema): throws an Error naming the flag.
 */
export function checkAuditRepositoryFlags(flags: { repository?: string | undefined; caCertificate?: string | undefined; caFile?: string | undefined }): void {
  if (flags.repository !== undefined) {
    try {
      parseAuditRepositoryUrl(flags.repository);
    } catch (err) {
      throw new Error(`--audit-repository ${(err as Error).message}`);
    }
  }
  if (flags.caCertificate !== undefined) {
    const problem = caCertificateProblem(flags.caCertificate);
    if (problem) throw new Error(`--audit-ca ${flags.caFile ?? ''}: ${problem}`);
  }
}
