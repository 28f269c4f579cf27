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

/** A site as the renderer sees it: never with its secret. */
export const SiteSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string(),
  authType: AuthTypeSchema,
  username: z.string().optional(),
  /** Path of the gateway for this site, relative to the app origin, e.g. `/sites/hospital-a/dicom-web`. */
  gatewayPath: z.string(),
});
export type SiteSummary = z.infer<typeof SiteSummarySchema>;

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
  },
  log: {
    /** The renderer's log lines land in main's log file, redacted there. */
    write: channel(LogEntrySchema, z.null()),
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
