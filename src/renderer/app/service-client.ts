import type { ServiceClient } from '../../shared/ipc/contract';
import type { Envelope } from '../../shared/ipc/envelope';
import { fail, isEnvelope } from '../../shared/ipc/envelope';
import type { Invoke } from '../../shared/ipc/proxy';
import { createServiceClient } from '../../shared/ipc/proxy';
import type { TeleradPreloadBridge } from './telerad-global';
import { errorMessage } from '../../shared/error-message';

/**
 * The contract over HTTP, as the browser host carries it: `POST /api/<channel>`
 * with the JSON request, answered by an envelope. The fetch given adds the
 * launch-token header (app/launch-token.ts). Transport failures become failed
 * envelopes, like every other failure.
 */
export function httpInvoke(fetchImpl: typeof fetch, base = ''): Invoke {
  return async (channel, payload): Promise<Envelope<unknown>> => {
    let res: Response;
    try {
      res = await fetchImpl(`${base}/api/${channel}`, {
        method: 'POST',
        body: JSON.stringify(payload ?? {}),
        headers: { 'content-type': 'application/json' },
        credentials: 'same-origin',
      });
    } catch (err) {
      return fail('INTERNAL', `The app host did not answer on ${channel}: ${errorMessage(err)}`);
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      return fail('INTERNAL', `The app host answered ${res.status} without JSON on ${channel}`);
    }
    if (isEnvelope(body)) return body;
    // The host's own refusals (401 without the launch token) are `{code, message}`, not envelopes.
    if (typeof body === 'object' && body !== null && res.status === 401) {
      const m = (body as { message?: unknown }).message;
      return fail('UNAUTHORIZED', typeof m === 'string' ? m : 'Not authorised by the app host');
    }
    return fail('INTERNAL', `Malformed answer (${res.status}) on ${channel}`);
  };
}

/** The preload's invoke under Electron, HTTP otherwise. */
export function selectInvoke(bridge: TeleradPreloadBridge | undefined, fetchImpl: typeof fetch): Invoke {
  if (bridge && typeof bridge.invoke === 'function') return (channel, payload) => bridge.invoke(channel, payload);
  return httpInvoke(fetchImpl);
}

/** `watch` sees every answer on its way (the lock's LOCKED watch, lock/locked-answers.ts). */
export function createAppServiceClient(bridge: TeleradPreloadBridge | undefined, fetchImpl: typeof fetch, watch: (invoke: Invoke) => Invoke = (invoke) => invoke): ServiceClient {
  return createServiceClient(watch(selectInvoke(bridge, fetchImpl)));
}
