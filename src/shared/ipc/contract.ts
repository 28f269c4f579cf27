import { z } from 'zod';

/**
 * The one contract between the workstation (renderer) and its host (Electron
 * main or the browser host). Each service is a group of channels; each channel
 * has a zod schema for its request and its response. From this table alone:
 *  - main validates every request before a handler sees it (ipc/dispatcher.ts),
 *  - the preload allowlist is the list of channel names (CHANNEL_NAMES),
 *  - the renderer gets a typed proxy (ipc/proxy.ts), whatever the transport.
 * Response schemas are applied on the main side too: zod strips unknown keys,
 * so a field that is not in the contract (a password, say) can never leak out.
 */

export const AuthTypeSchema = z.enum(['none', 'basic', 'bearer']);
export type AuthType = z.infer<typeof AuthTypeSchema>;

/* ---------------------------------------------------------------- sites -- */

/** Per-site network limits. The bounds keep a typo (5 instead of 5000) from making a site unusable. */
export const SITE_TIMEOUT_BOUNDS = {
  connectMs: { min: 500, max: 300_000 },
  idleMs: { min: 500, max: 600_000 },
} as const;
export const DEFAULT_SITE_TIMEOUTS = { connectMs: 30_000, idleMs: 30_000 } as const;

export const SiteTimeoutsSchema = z
  .object({
    /** Until the site's response headers arrive (connecting, TLS and the site's own think time included). */
    connectMs: z
      .number({ error: 'must be a number of milliseconds' })
      .int('must be a whole number of milliseconds')
      .min(SITE_TIMEOUT_BOUNDS.connectMs.min, `must be at least ${SITE_TIMEOUT_BOUNDS.connectMs.min} ms`)
      .max(SITE_TIMEOUT_BOUNDS.connectMs.max, `must be at most ${SITE_TIMEOUT_BOUNDS.connectMs.max} ms`),
    /** Longest pause between two chunks of a response body. */
    idleMs: z
      .number({ error: 'must be a number of milliseconds' })
      .int('must be a whole number of milliseconds')
      .min(SITE_TIMEOUT_BOUNDS.idleMs.min, `must be at least ${SITE_TIMEOUT_BOUNDS.idleMs.min} ms`)
      .max(SITE_TIMEOUT_BOUNDS.idleMs.max, `must be at most ${SITE_TIMEOUT_BOUNDS.idleMs.max} ms`),
  })
  .strict();
export type SiteTimeouts = z.infer<typeof SiteTimeoutsSchema>;

/** What a site turned out to support; `unknown` when the test could not tell (e.g. the site holds no images). */
export const CapabilityAnswerSchema = z.enum(['yes', 'no', 'unknown']);
export type CapabilityAnswer = z.infer<typeof CapabilityAnswerSchema>;

export const SiteCapabilitiesSchema = z
  .object({
    qido: CapabilityAnswerSchema,
    wado: CapabilityAnswerSchema,
    stow: CapabilityAnswerSchema,
    /** WADO-RS answers with JPEG-LS lossless (1.2.840.10008.1.2.4.80) when asked: retrieval may negotiate it. */
    jpegLsLossless: CapabilityAnswerSchema,
    /**
     * WADO-RS `/rendered` answers with a JPEG: the viewer may show small previews before the lossless pixels.
     * Absent on a test stored before this probe existed (sites.json is read with this schema), i.e. not tested.
     */
    rendered: CapabilityAnswerSchema.optional(),
    /** Median round trip of a one-study QIDO-RS, ms. */
    latencyMs: z.number().nonnegative().nullable(),
    /** ISO 8601. */
    testedAt: z.string(),
  })
  .strict();
export type SiteCapabilities = z.infer<typeof SiteCapabilitiesSchema>;

function parsedUrl(u: string): URL | undefined {
  try {
    return new URL(u);
  } catch {
    return undefined;
  }
}

/** A site's DICOMweb base URL, normalised without a trailing slash (the gateway appends `/studies…`). */
export const SiteUrlSchema = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  // zod runs every check even after one failed, so these cope with an unparsable URL.
  .refine((u) => {
    const url = parsedUrl(u);
    return !url || (url.username === '' && url.password === '');
  }, 'must not contain credentials; put them in "auth"')
  .refine((u) => {
    const url = parsedUrl(u);
    return !url || (url.search === '' && url.hash === '');
  }, 'must be a base URL without query or fragment')
  .transform((u) => u.replace(/\/+$/, ''));

export const SiteNameSchema = z.string().trim().min(1, 'must not be empty').max(200);

/** Complete credentials: what adding a site (or provisioning one) needs. */
export const SiteAuthSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }).strict(),
  z.object({ type: z.literal('basic'), username: z.string().min(1, 'is required'), password: z.string().min(1, 'is required') }).strict(),
  z.object({ type: z.literal('bearer'), token: z.string().min(1, 'is required') }).strict(),
]);
export type SiteAuth = z.infer<typeof SiteAuthSchema>;

/** On update the secret may be left out: the stored one is kept (the form never shows it). */
export const SiteAuthUpdateSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }).strict(),
  z.object({ type: z.literal('basic'), username: z.string().min(1, 'is required'), password: z.string().min(1, 'must not be empty; leave it out to keep the stored one').optional() }).strict(),
  z.object({ type: z.literal('bearer'), token: z.string().min(1).optional() }).strict(),
]);
export type SiteAuthUpdate = z.infer<typeof SiteAuthUpdateSchema>;

const PEM_CERTIFICATES = /^\s*(?:-----BEGIN CERTIFICATE-----\r?\n(?:[A-Za-z0-9+/=]+\r?\n)+-----END CERTIFICATE-----\s*)+$/;

/**
 * One or more PEM certificates (a CA, or a chain) the site's TLS certificate
 * must chain to. Shape only here; main also parses each certificate.
 */
export const CaCertificateSchema = z
  .string()
  .max(256 * 1024, 'is too large for a CA certificate')
  .regex(PEM_CERTIFICATES, 'must be PEM text: -----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----');

export const SiteAddRequestSchema = z
  .object({
    name: SiteNameSchema,
    url: SiteUrlSchema,
    auth: SiteAuthSchema,
    caCertificate: CaCertificateSchema.optional(),
    timeouts: SiteTimeoutsSchema.partial().optional(),
    /** Consent to plain http:// to a host that is not loopback (main refuses such a URL without it). */
    allowInsecureHttp: z.boolean().optional(),
  })
  .strict();
export type SiteAddRequest = z.input<typeof SiteAddRequestSchema>;

export const SiteUpdateRequestSchema = z
  .object({
    id: z.string().min(1),
    name: SiteNameSchema.optional(),
    url: SiteUrlSchema.optional(),
    /**
     * Omitted: credentials unchanged. A secret omitted inside it: the stored secret is kept. Except when `url`
     * moves the site to another origin (scheme, host, port): the stored secret was given for the old server,
     * so main then needs the new one here (or type none) and refuses the update without it.
     */
    auth: SiteAuthUpdateSchema.optional(),
    /** A PEM string sets it, null removes it, omitted keeps it. */
    caCertificate: CaCertificateSchema.nullable().optional(),
    timeouts: SiteTimeoutsSchema.partial().optional(),
    /** Omitted keeps the stored consent, unless the URL moves to another origin. */
    allowInsecureHttp: z.boolean().optional(),
  })
  .strict();
export type SiteUpdateRequest = z.input<typeof SiteUpdateRequestSchema>;

/** A site as the renderer sees it: never with its secret or its CA certificate. */
export const SiteSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string(),
  authType: AuthTypeSchema,
  username: z.string().optional(),
  /** Path of the gateway for this site, relative to the app origin, e.g. `/sites/hospital-a/dicom-web`. */
  gatewayPath: z.string(),
  // Optional in the type only so older callers' literals still type-check; main always sends them.
  hasCustomCa: z.boolean().optional(),
  timeouts: SiteTimeoutsSchema.optional(),
  /** Present (true) when the user allowed plain http:// to this non-loopback site. */
  allowInsecureHttp: z.boolean().optional(),
  /** The last successful "Test connection"; absent until one ran (or after the URL or CA changed). */
  capabilities: SiteCapabilitiesSchema.optional(),
});
export type SiteSummary = z.infer<typeof SiteSummarySchema>;

export const SiteTestFailureKindSchema = z.enum(['auth', 'unreachable', 'timeout', 'tls', 'http']);
export type SiteTestFailureKind = z.infer<typeof SiteTestFailureKindSchema>;

/** Per-capability explanation in plain words ("the site holds no instance to retrieve"). */
export const SiteTestNotesSchema = z
  .object({
    qido: z.string().optional(),
    wado: z.string().optional(),
    stow: z.string().optional(),
    jpegLsLossless: z.string().optional(),
    rendered: z.string().optional(),
  })
  .strict();

export const SiteTestResultSchema = z.object({
  siteId: z.string(),
  /** False when the site could not be queried at all; `failure` says why. */
  ok: z.boolean(),
  failure: z.object({ kind: SiteTestFailureKindSchema, message: z.string() }).optional(),
  capabilities: SiteCapabilitiesSchema,
  notes: SiteTestNotesSchema,
});
export type SiteTestResult = z.infer<typeof SiteTestResultSchema>;

/**
 * What protects the stored site passwords and tokens on this host, for the Sites form to say so.
 * `keyring`: the OS keychain encrypts them (Electron safeStorage). `basic_text`: Electron on Linux without a
 * keyring, which encrypts with a fixed key built into every copy of Chromium — anyone who copies the data
 * folder can read them; kept only after the user's explicit choice. `owner-only-file`: the browser host, no
 * keyring at all — a 0600 file, not encrypted. `unavailable`: nothing can encrypt; nothing is stored.
 */
export const SecretProtectionSchema = z.object({
  kind: z.enum(['keyring', 'basic_text', 'owner-only-file', 'unavailable']),
  /** The file holding the secrets. */
  location: z.string(),
  /** Whether a new password or token would be stored now. */
  canStore: z.boolean(),
  /** basic_text only: how the weak protection was accepted — in the app (stored, can be withdrawn) or by the launch flag. */
  weakAcceptedBy: z.enum(['choice', 'launch-flag']).optional(),
  /** How many stored secrets are kept with the weak (basic_text) protection. */
  weakSecretCount: z.number().int().nonnegative(),
});
export type SecretProtection = z.infer<typeof SecretProtectionSchema>;

export const AppInfoSchema = z.object({
  name: z.string(),
  version: z.string(),
  host: z.enum(['electron', 'web']),
});
export type AppInfo = z.infer<typeof AppInfoSchema>;

export const LogLevelSchema = z.enum(['debug', 'info', 'warn', 'error']);
export type LogLevel = z.infer<typeof LogLevelSchema>;

export const LogEntrySchema = z.object({
  level: LogLevelSchema,
  scope: z.string().max(64),
  message: z.string().max(4000),
});
export type LogEntry = z.infer<typeof LogEntrySchema>;

/* ---------------------------------------------------------------- audit -- */

/** What the renderer may report: what a person did in the app. */
export const RENDERER_AUDIT_ACTIONS = ['study.view', 'study.retrieve', 'export', 'deidentify', 'report.sign', 'outbox.send', 'integrity.failed'] as const;
/** What main records from what it sees itself; the renderer cannot claim these. */
export const MAIN_AUDIT_ACTIONS = ['login.failed', 'site.auth.failed', 'login', 'lock', 'audit.integrity'] as const;
export const AuditActionSchema = z.enum([...RENDERER_AUDIT_ACTIONS, ...MAIN_AUDIT_ACTIONS]);
export type AuditAction = z.infer<typeof AuditActionSchema>;

const AuditUidSchema = z.string().max(64).regex(/^[0-9]+(\.[0-9]+)*$/, 'must be a DICOM UID (digits and dots)');

export const AuditPatientSchema = z
  .object({ id: z.string().max(64).optional(), name: z.string().max(324).optional() })
  .strict();
export type AuditPatient = z.infer<typeof AuditPatientSchema>;

/** The subject of an event, shared by what the renderer sends and what the log stores. */
const auditSubject = {
  patient: AuditPatientSchema.optional(),
  studyInstanceUID: AuditUidSchema.optional(),
  seriesInstanceUID: AuditUidSchema.optional(),
  sopInstanceUIDs: z.array(AuditUidSchema).max(10_000).optional(),
  siteId: z.string().max(200).optional(),
  outcome: z.enum(['success', 'failure']),
  /** Why it failed, in plain words; required for a failure. */
  reason: z.string().max(1000).optional(),
};

/**
 * An event as the renderer reports it. Strict: seq, time, prev and hash are
 * main's to stamp, and a request carrying any of them is refused.
 */
export const AuditRecordRequestSchema = z
  .object({
    action: z.enum(RENDERER_AUDIT_ACTIONS),
    /** The user profile name shown in the app. */
    actor: z.string().trim().min(1, 'must name the user').max(200),
    ...auditSubject,
  })
  .strict()
  .refine((r) => r.outcome === 'success' || (r.reason ?? '').trim() !== '', {
    message: 'a failure needs a reason',
    path: ['reason'],
  });
export type AuditRecordRequest = z.input<typeof AuditRecordRequestSchema>;

/** One line of the audit log as stored and as `audit.query` answers it. */
export const AuditEventSchema = z.object({
  seq: z.number().int().positive(),
  /** ISO 8601, main's clock. */
  at: z.string(),
  /** The user profile name, or "system" for what main recorded itself. */
  actor: z.string(),
  source: z.enum(['renderer', 'main']),
  action: AuditActionSchema,
  ...auditSubject,
  prev: z.string(),
  hash: z.string(),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

function isDateOrInstant(s: string): boolean {
  return /^\d{4}-\d{2}-\d{2}(T.*)?$/.test(s) && !Number.isNaN(Date.parse(s));
}
const AuditBoundSchema = z.string().refine(isDateOrInstant, 'must be a date (YYYY-MM-DD, a UTC day) or an ISO 8601 instant');

export const AuditFilterSchema = z
  .object({
    /** Substring of the patient id or name, case-insensitive. */
    patient: z.string().trim().max(200).optional(),
    /** Inclusive; a bare date is the start of that UTC day. */
    from: AuditBoundSchema.optional(),
    /** Inclusive; a bare date is the whole of that UTC day. */
    to: AuditBoundSchema.optional(),
    action: AuditActionSchema.optional(),
  })
  .strict();
export type AuditFilter = z.infer<typeof AuditFilterSchema>;

export const AuditQueryRequestSchema = AuditFilterSchema.extend({
  offset: z.number().int().nonnegative().default(0),
  limit: z.number().int().min(1).max(500).default(100),
}).strict();
export type AuditQueryRequest = z.input<typeof AuditQueryRequestSchema>;

export const AuditQueryResultSchema = z.object({
  /** Newest first. */
  events: z.array(AuditEventSchema),
  /** How many events match the filters, across all pages. */
  total: z.number().int().nonnegative(),
});
export type AuditQueryResult = z.infer<typeof AuditQueryResultSchema>;

export const AuditDicomExportSchema = z.object({
  /** One DICOM audit message (PS3.15 A.5, XML) per event, oldest first: ATNA carries one per syslog message. */
  messages: z.array(z.string()),
  count: z.number().int().nonnegative(),
});
export type AuditDicomExport = z.infer<typeof AuditDicomExportSchema>;

/** Where the audit trail is sent (IHE ATNA, RFC 5424 syslog over TCP or TLS) and how far it got. */
export const AuditForwardingStatusSchema = z.object({
  /** tcp://host:port or tcp+tls://host:port; absent when no Audit Record Repository is configured. */
  repository: z.string().optional(),
  /** off: none configured; sending: a backlog is going out; idle: all sent; retrying: the last try failed, another follows. */
  state: z.enum(['off', 'sending', 'idle', 'retrying']),
  /** Highest seq handed to the repository (0: none yet). */
  forwardedUpTo: z.number().int().nonnegative(),
  /** Events written locally and not yet forwarded. */
  backlog: z.number().int().nonnegative(),
  /** Why the last try failed, in plain words. */
  lastError: z.string().optional(),
  /** Why forwarding is held without a failure: "waiting for the first unlock to read sealed fields". */
  waiting: z.string().optional(),
  /** ISO 8601: when the next try is due while retrying. */
  nextRetryAt: z.string().optional(),
});
export type AuditForwardingStatus = z.infer<typeof AuditForwardingStatusSchema>;

/** What main found when it compared the log's files with the chain head it keeps apart from them. */
export const AuditIntegritySchema = z.object({
  ok: z.boolean(),
  /** Records the head says were written and the files no longer hold, at the newest end. */
  missingNewest: z.number().int().nonnegative(),
  /** One sentence for the Audit panel when not ok. */
  message: z.string().optional(),
});
export type AuditIntegrity = z.infer<typeof AuditIntegritySchema>;

export const AuditStatusSchema = z.object({
  /** Seq of the newest record written (0: none). */
  newestSeq: z.number().int().nonnegative(),
  forwarding: AuditForwardingStatusSchema,
  integrity: AuditIntegritySchema,
});
export type AuditStatus = z.infer<typeof AuditStatusSchema>;

/* ---------------------------------------------------------------- vault -- */

/**
 * The key that encrypts clinical content at rest lives in main (issue 9). Main keeps a random master
 * secret wrapped by a key derived from the user's passphrase (scrypt, salted; in Electron the wrapped
 * secret is wrapped again with safeStorage). Unlocking hands the renderer two AES-256-GCM keys derived
 * from it; the renderer imports them non-extractable and never stores them.
 */
export const VaultStatusSchema = z.object({
  /** `new`: no passphrase chosen yet (first start). The app starts `locked` otherwise. */
  state: z.enum(['new', 'locked', 'unlocked']),
  /** A PIN can unlock this run of the app after a lock; it lives in main's memory only, gone at restart. */
  pinSet: z.boolean(),
  /** Lock after this many minutes without input (default 10). */
  idleLockMinutes: z.number().int().min(1).max(240),
  /** After wrong passphrases: the next try is accepted in this many ms (0 = now). Survives a restart. */
  retryAfterMs: z.number().int().nonnegative(),
  /** While locked: main still holds the outbox key (unlocked once in this run), so sending goes on. */
  outboxKeyAvailable: z.boolean(),
  /** How the wrapped master secret is kept on disk. */
  keyProtection: z.enum(['passphrase', 'passphrase+safeStorage']),
  /**
   * While locked after an unlock in this run: why main locked, for the lock screen. `idle`: no input for
   * idleLockMinutes (main keeps its own timer); `no-page`: no app window was open for a while (issue 18).
   */
  lockReason: z.enum(['user', 'idle', 'os-lock', 'suspend', 'no-page']).optional(),
});
export type VaultStatus = z.infer<typeof VaultStatusSchema>;

const base64Key = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'must be 32 bytes of base64');
export const VaultKeysSchema = z.object({
  /** AES-256-GCM for the cache, annotations, drafts, reports, referral cases and notes. Dropped on lock. */
  dataKey: base64Key,
  /** AES-256-GCM for outbox payloads only: kept while locked so background sending goes on. */
  outboxKey: base64Key,
  /** Names the master secret these came from (16 hex digits); stored beside every sealed row. */
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
});
export type VaultKeys = z.infer<typeof VaultKeysSchema>;

export const VAULT_PASSPHRASE_MIN = 10;
/** The page reports user input (`vault.activity`) at most this often; main's idle lock allows this much more than idleLockMinutes, so the page, which sees every keystroke, locks first. */
export const ACTIVITY_REPORT_MS = 20_000;
export const VaultSetupRequestSchema = z
  .object({ passphrase: z.string().min(VAULT_PASSPHRASE_MIN, `must be at least ${VAULT_PASSPHRASE_MIN} characters`).max(1024) })
  .strict();
export const VaultUnlockRequestSchema = z
  .object({ method: z.enum(['passphrase', 'pin']), secret: z.string().min(1).max(1024) })
  .strict();
export const VaultLockRequestSchema = z.object({ reason: z.enum(['user', 'idle', 'os-lock', 'suspend']) }).strict();
export const VaultSetPinRequestSchema = z
  .object({
    /** 6 to 12 digits; null removes the PIN. */
    pin: z.string().regex(/^\d{6,12}$/, 'must be 6 to 12 digits').nullable(),
    /** The passphrase again: setting a PIN must not be possible from an unattended unlocked screen. */
    passphrase: z.string().min(1).max(1024),
  })
  .strict();

const empty = z.object({}).strict();

function channel<Req extends z.ZodType, Res extends z.ZodType>(
  request: Req,
  response: Res,
): { request: Req; response: Res } {
  return { request, response };
}

export const contract = {
  app: {
    info: channel(empty, AppInfoSchema),
  },
  sites: {
    list: channel(empty, z.array(SiteSummarySchema)),
    add: channel(SiteAddRequestSchema, SiteSummarySchema),
    update: channel(SiteUpdateRequestSchema, SiteSummarySchema),
    remove: channel(z.object({ id: z.string().min(1) }).strict(), z.null()),
    /** "Test connection": latency and what the site supports; the result is stored on the site when it answered. */
    test: channel(z.object({ id: z.string().min(1) }).strict(), SiteTestResultSchema),
    /** What protects stored site passwords here (shown in the Sites form). */
    secretProtection: channel(empty, SecretProtectionSchema),
    /**
     * Electron on Linux without a keyring: the user's explicit choice to keep site passwords with the weak
     * basic_text protection (stored in main, used from then on). Withdrawing deletes the passwords kept that way.
     */
    chooseWeakSecretProtection: channel(z.object({ accept: z.boolean() }).strict(), SecretProtectionSchema),
  },
  log: {
    /** The renderer's log lines land in main's log file, redacted there. */
    write: channel(LogEntrySchema, z.null()),
  },
  vault: {
    status: channel(empty, VaultStatusSchema),
    /** First start only: choose the passphrase; answers the keys (the app is then unlocked). */
    setup: channel(VaultSetupRequestSchema, VaultKeysSchema),
    /** Wrong secrets are counted and slowed down (UNAUTHORIZED with the wait in the message). */
    unlock: channel(VaultUnlockRequestSchema, VaultKeysSchema),
    /** The keys again while unlocked (a reloaded page); UNAUTHORIZED when locked. */
    keys: channel(empty, VaultKeysSchema),
    /** While locked, after one unlock in this run: the outbox key alone, for background sending. */
    outboxKey: channel(empty, VaultKeysSchema.pick({ outboxKey: true, keyId: true })),
    lock: channel(VaultLockRequestSchema, z.null()),
    setPin: channel(VaultSetPinRequestSchema, z.null()),
    setIdleLock: channel(z.object({ minutes: z.number().int().min(1).max(240) }).strict(), z.null()),
    /** The user is at the page (sent on input, at most every ACTIVITY_REPORT_MS): main's own idle timer starts again. */
    activity: channel(empty, z.null()),
  },
  audit: {
    /** The renderer reports what the user did; main stamps seq, time and the chain. */
    record: channel(AuditRecordRequestSchema, z.object({ seq: z.number().int().positive() })),
    query: channel(AuditQueryRequestSchema, AuditQueryResultSchema),
    /** The events matching the filters as DICOM audit messages for a site's ATNA repository. */
    exportDicom: channel(AuditFilterSchema, AuditDicomExportSchema),
    /** Forwarding to the Audit Record Repository and the local chain's integrity, for the Audit panel. */
    status: channel(empty, AuditStatusSchema),
  },
} as const;

export type Contract = typeof contract;
export type ServiceName = keyof Contract;
export type MethodName<S extends ServiceName> = keyof Contract[S] & string;
export type ChannelName = {
  [S in ServiceName]: `${S}.${MethodName<S>}`;
}[ServiceName];

type ChannelDef = { request: z.ZodType; response: z.ZodType };
type Def<S extends ServiceName, M extends MethodName<S>> = Contract[S][M] extends ChannelDef
  ? Contract[S][M]
  : never;

export type RequestOf<S extends ServiceName, M extends MethodName<S>> = z.input<Def<S, M>['request']>;
export type ParsedRequestOf<S extends ServiceName, M extends MethodName<S>> = z.output<
  Def<S, M>['request']
>;
export type ResponseOf<S extends ServiceName, M extends MethodName<S>> = z.output<
  Def<S, M>['response']
>;

/** What main implements: one object per service, one async method per channel. */
export type ServiceHandlers = {
  [S in ServiceName]: {
    [M in MethodName<S>]: (request: ParsedRequestOf<S, M>) => Promise<ResponseOf<S, M>>;
  };
};

/** What the renderer calls: the same shape, request as the caller may write it. */
export type ServiceClient = {
  [S in ServiceName]: {
    [M in MethodName<S>]: (request: RequestOf<S, M>) => Promise<ResponseOf<S, M>>;
  };
};

export const CHANNEL_NAMES: readonly ChannelName[] = Object.entries(contract).flatMap(
  ([service, methods]) => Object.keys(methods).map((m) => `${service}.${m}` as ChannelName),
);

export function channelDef(name: string): ChannelDef | undefined {
  const dot = name.indexOf('.');
  if (dot < 0) return undefined;
  const service = name.slice(0, dot);
  const method = name.slice(dot + 1);
  if (!Object.hasOwn(contract, service)) return undefined;
  const methods = contract[service as ServiceName] as Record<string, ChannelDef>;
  return Object.hasOwn(methods, method) ? methods[method] : undefined;
}
