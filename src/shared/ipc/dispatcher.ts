import { z } from 'zod';
import type { ChannelName, ServiceHandlers } from './contract';
import { CHANNEL_NAMES, channelDef } from './contract';
import type { Envelope } from './envelope';
import { ServiceError, fail, ok } from './envelope';
import type { Logger } from '../log';

/** Transport-neutral entry point: both hosts route every request through one of these. */
export type Dispatch = (channel: string, payload: unknown) => Promise<Envelope<unknown>>;

/**
 * Binds the service handlers to the contract. The returned function never
 * throws: an unknown channel, a payload that fails its schema, or a handler
 * that throws all come back as `{ok: false, error}` with a message a person
 * can read. Handler errors that are not ServiceErrors are logged in full and
 * reported to the caller only as INTERNAL, so stack traces and paths stay in
 * main.
 */
export function createDispatcher(handlers: ServiceHandlers, log: Logger): Dispatch {
  const table = new Map<string, (req: unknown) => Promise<unknown>>();
  for (const name of CHANNEL_NAMES) {
    const [service, method] = name.split('.') as [keyof ServiceHandlers, string];
    const impl = (handlers[service] as Record<string, (req: unknown) => Promise<unknown>>)[method];
    if (typeof impl !== 'function') throw new Error(`No handler for channel ${name}`);
    table.set(name, impl.bind(handlers[service]));
  }

  return async (channel, payload) => {
    const def = channelDef(channel);
    const impl = table.get(channel);
    if (!def || !impl) return fail('UNKNOWN_CHANNEL', `Unknown channel "${String(channel).slice(0, 80)}"`);

    const parsed = def.request.safeParse(payload ?? {});
    if (!parsed.success) {
      const message = `Invalid request for ${channel}: ${z.prettifyError(parsed.error)}`;
      log.warn(message);
      return fail('BAD_REQUEST', message);
    }
    try {
      const value = await impl(parsed.data);
      const out = def.response.safeParse(value);
      if (!out.success) {
        log.error(`Handler for ${channel} answered outside its contract: ${z.prettifyError(out.error)}`);
        return fail('INTERNAL', `Internal error in ${channel as ChannelName}`);
      }
      return ok(out.data);
    } catch (err) {
      if (err instanceof ServiceError) return fail(err.code, err.message);
      log.error(`Handler for ${channel} failed`, err);
      return fail('INTERNAL', `Internal error in ${channel}`);
    }
  };
}
