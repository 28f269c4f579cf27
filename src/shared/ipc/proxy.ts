import type { ServiceClient, ServiceName } from './contract';
import { contract } from './contract';
import type { Envelope, ErrorCode } from './envelope';
import { ServiceError, isEnvelope } from './envelope';

/** Sends one request over whatever carries the contract (IPC via preload, or HTTP). */
export type Invoke = (channel: string, payload: unknown) => Promise<Envelope<unknown>>;

/**
 * A typed client for every service in the contract, over any transport
 * (VS Code's ProxyChannel.toService, generated from the contract table rather
 * than from a class). A failed envelope becomes a thrown ServiceError so
 * callers write ordinary async code.
 */
export function createServiceClient(invoke: Invoke): ServiceClient {
  const client: Record<string, Record<string, (req: unknown) => Promise<unknown>>> = {};
  for (const [service, methods] of Object.entries(contract)) {
    const group: Record<string, (req: unknown) => Promise<unknown>> = {};
    for (const method of Object.keys(methods)) {
      const channel = `${service}.${method}`;
      group[method] = async (req: unknown) => {
        const env = await invoke(channel, req ?? {});
        if (!isEnvelope(env)) throw new ServiceError('INTERNAL', `Malformed answer on ${channel}`);
        if (env.ok) return env.value;
        throw new ServiceError(env.error.code as ErrorCode, env.error.message);
      };
    }
    client[service as ServiceName] = group;
  }
  return client as unknown as ServiceClient;
}
