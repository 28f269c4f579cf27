import type { AuthType, SiteAddRequest, SiteSummary, SiteUpdateRequest } from '../../shared/ipc/contract';
import { DEFAULT_SITE_TIMEOUTS, SiteAddRequestSchema, SiteUpdateRequestSchema } from '../../shared/ipc/contract';
import { isUnencryptedRemoteUrl } from '../../shared/sites/plain-http';

/** What the add/edit form holds: strings as typed. Secrets start empty, always. */
export interface SiteFormValues {
  name: string;
  url: string;
  authType: AuthType;
  username: string;
  /** Empty on edit means "keep the stored password". */
  password: string;
  token: string;
  /** Pasted PEM; empty on edit means "keep the stored CA" unless removeCa. */
  caCertificate: string;
  removeCa: boolean;
  connectMs: string;
  idleMs: string;
  /** "Send patient data unencrypted to this site": must be ticked to save an http:// URL to a non-loopback host. */
  allowInsecureHttp: boolean;
}

/** Form field → message; keys are the form's own field names. */
export type SiteFormErrors = Partial<Record<keyof SiteFormValues | 'form', string>>;

export function emptySiteForm(): SiteFormValues {
  return {
    name: '',
    url: '',
    authType: 'basic',
    username: '',
    password: '',
    token: '',
    caCertificate: '',
    removeCa: false,
    connectMs: String(DEFAULT_SITE_TIMEOUTS.connectMs),
    idleMs: String(DEFAULT_SITE_TIMEOUTS.idleMs),
    allowInsecureHttp: false,
  };
}

/** The edit form for a listed site. The summary carries no secret or CA, so those fields start empty. */
export function siteFormFor(site: SiteSummary): SiteFormValues {
  return {
    ...emptySiteForm(),
    name: site.name,
    url: site.url,
    authType: site.authType,
    username: site.username ?? '',
    connectMs: String(site.timeouts?.connectMs ?? DEFAULT_SITE_TIMEOUTS.connectMs),
    idleMs: String(site.timeouts?.idleMs ?? DEFAULT_SITE_TIMEOUTS.idleMs),
    allowInsecureHttp: site.allowInsecureHttp === true,
  };
}

/** The form shows the plain-HTTP warning and its checkbox while this is true. */
export function needsInsecureHttpConsent(values: Pick<SiteFormValues, 'url'>): boolean {
  return isUnencryptedRemoteUrl(values.url.trim());
}

/** Contract paths (`auth.password`, `timeouts.connectMs`) → form fields. */
export function formFieldOf(path: string): keyof SiteFormValues | 'form' {
  switch (path) {
    case 'name':
    case 'url':
    case 'caCertificate':
      return path;
    case 'auth.username':
      return 'username';
    case 'auth.password':
      return 'password';
    case 'auth.token':
      return 'token';
    case 'auth.type':
    case 'auth':
      return 'authType';
    case 'timeouts.connectMs':
      return 'connectMs';
    case 'timeouts.idleMs':
      return 'idleMs';
    case 'allowInsecureHttp':
      return path;
    default:
      return 'form';
  }
}

function numberOrText(text: string): number | string {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/**
 * Whether an empty password or token field keeps the stored secret: only on
 * edit, with the same auth type, at the same origin (scheme, host, port). Main
 * refuses to carry a stored secret to another origin, since it was given for
 * one server; a new path on the same server keeps it.
 */
export function keepsStoredSecret(values: Pick<SiteFormValues, 'url' | 'authType'>, editing: SiteSummary | undefined): boolean {
  return editing !== undefined && editing.authType === values.authType && sameOrigin(editing.url, values.url.trim());
}

/** Main's words for a move to another origin without the secret (sites-service.ts), shown before asking it. */
const ORIGIN_CHANGED: Record<'basic' | 'bearer', string> = {
  basic: "The site's address changed: enter its user name and password again",
  bearer: "The site's address changed: enter its token again",
};

function authOf(values: SiteFormValues, editing: SiteSummary | undefined): Record<string, unknown> | undefined {
  const keeps = keepsStoredSecret(values, editing);
  switch (values.authType) {
    case 'none':
      return { type: 'none' };
    case 'basic':
      return {
        type: 'basic',
        username: values.username.trim(),
        // On edit an empty password keeps the stored one (only when the type and the origin stay the same).
        ...(values.password !== '' || !keeps ? { password: values.password } : {}),
      };
    case 'bearer':
      return { type: 'bearer', ...(values.token !== '' || !keeps ? { token: values.token.trim() } : {}) };
  }
}

/** The secret field a move to another origin leaves empty, with what to say there; undefined when none is missing. */
function secretMissingAfterMove(values: SiteFormValues, editing: SiteSummary | undefined): Partial<Record<'password' | 'token', string>> | undefined {
  if (!editing || values.authType === 'none' || editing.authType !== values.authType || keepsStoredSecret(values, editing)) return undefined;
  if (values.authType === 'basic') return values.password === '' ? { password: ORIGIN_CHANGED.basic } : undefined;
  return values.token.trim() === '' ? { token: ORIGIN_CHANGED.bearer } : undefined;
}

export type SiteFormResult =
  | { ok: true; kind: 'add'; request: SiteAddRequest }
  | { ok: true; kind: 'update'; request: SiteUpdateRequest }
  | { ok: false; errors: SiteFormErrors };

/**
 * Form values → a request, checked with the contract's own schemas, so the
 * form shows a field's problem at once, in the words main would use.
 */
export function buildSiteRequest(values: SiteFormValues, editing?: SiteSummary): SiteFormResult {
  const timeouts = { connectMs: numberOrText(values.connectMs), idleMs: numberOrText(values.idleMs) };
  const ca = values.caCertificate.trim();
  const insecure = needsInsecureHttpConsent(values);
  const base = {
    name: values.name,
    url: values.url.trim(),
    auth: authOf(values, editing),
    timeouts,
    // Sent only while the URL needs it; main drops a stored consent when the URL no longer does.
    ...(insecure && values.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
  };
  const raw = editing
    ? { id: editing.id, ...base, ...(values.removeCa ? { caCertificate: null } : ca !== '' ? { caCertificate: `${ca}\n` } : {}) }
    : { ...base, ...(ca !== '' ? { caCertificate: `${ca}\n` } : {}) };
  const parsed = editing ? SiteUpdateRequestSchema.safeParse(raw) : SiteAddRequestSchema.safeParse(raw);
  const consentMissing = insecure && !values.allowInsecureHttp;
  const secretMissing = secretMissingAfterMove(values, editing);
  if (!parsed.success || consentMissing || secretMissing) {
    // Said first, so it wins over the schema's "must not be empty; leave it out to keep the stored one", which is not true here.
    const errors: SiteFormErrors = { ...secretMissing };
    for (const issue of parsed.success ? [] : parsed.error.issues) {
      const field = formFieldOf(issue.path.map(String).join('.'));
      errors[field] ??= field === 'form' ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
    }
    if (consentMissing) errors.allowInsecureHttp = 'Tick this to send patient data unencrypted to this site, or use https';
    return { ok: false, errors };
  }
  // The raw object (not the parsed one) goes out: main parses it again, and the URL's normalisation happens there.
  return editing ? { ok: true, kind: 'update', request: raw as SiteUpdateRequest } : { ok: true, kind: 'add', request: raw as SiteAddRequest };
}

/**
 * A refusal from main as a field error: the dispatcher's "✖ message → at
 * auth.password", or a service's "caCertificate: message".
 */
export function fieldErrorFromMessage(message: string): SiteFormErrors {
  const at = /✖\s*(.+?)\s*\n\s*→ at ([\w.]+)/.exec(message);
  if (at?.[1] && at[2]) return { [formFieldOf(at[2])]: at[1] };
  const prefixed = /^([\w.]+): (.+)$/s.exec(message);
  if (prefixed?.[1] && prefixed[2] && formFieldOf(prefixed[1]) !== 'form') return { [formFieldOf(prefixed[1])]: prefixed[2] };
  return { form: message };
}
