import type { Dispatch } from '../../src/shared/ipc/dispatcher';
import type { Envelope } from '../../src/shared/ipc/envelope';
import { Redactor, memorySink } from '../../src/shared/log';
import type { LogSink } from '../../src/shared/log';
import { createAppServices } from '../../src/main/services/app-services';
import type { AppServices } from '../../src/main/services/app-services';
import { FileSecretStore } from '../../src/main/services/secrets/file-secret-store';

// Driving main's services over the contract the way the renderer does, for
// unit tests of the dispatcher, the proxy and the services behind them.

/** `dispatch` with the payload and the answer passed through JSON, as over HTTP or structured clone over IPC. */
export function overJson(dispatch: Dispatch): Dispatch {
  return async (channel, payload) => JSON.parse(JSON.stringify(await dispatch(channel, JSON.parse(JSON.stringify(payload))))) as Envelope<unknown>;
}

/** The browser host's services on `dataDir`, its secrets in an owner-only file there. */
export function startWebServices(dataDir: string, logSink: LogSink = memorySink()): AppServices {
  const redactor = new Redactor();
  return createAppServices({ dataDir, host: 'web', version: 't', secretStore: new FileSecretStore(dataDir, redactor), logSink, redactor });
}

/** The passphrase test vaults are set up with. */
export const TEST_PASSPHRASE = 'correct horse battery';

/**
 * Past the vault's lock, as the lock screen gets there: main answers no data channel while locked
 * (issue 18). The first start chooses TEST_PASSPHRASE (`vault.setup`), a restart over the same data
 * dir unlocks with it. Either leaves a `login` line in the audit trail and a vault.json in the folder.
 */
export async function unlockServices(services: Pick<AppServices, 'dispatch' | 'audit'>): Promise<void> {
  const status = (await services.dispatch('vault.status', {})) as Envelope<{ state: string }>;
  if (!status.ok) throw new Error(`vault.status: ${status.error.code} ${status.error.message}`);
  if (status.value.state === 'unlocked') return;
  const answer =
    status.value.state === 'new'
      ? await services.dispatch('vault.setup', { passphrase: TEST_PASSPHRASE })
      : await services.dispatch('vault.unlock', { method: 'passphrase', secret: TEST_PASSPHRASE });
  if (!answer.ok) throw new Error(`unlocking the test vault: ${answer.error.code} ${answer.error.message}`);
  // The unlock's `login` line is on disk before the test goes on (and before its teardown removes the folder).
  await services.audit.newestSeq();
}

/** startWebServices, unlocked. */
export async function startUnlockedWebServices(dataDir: string, logSink: LogSink = memorySink()): Promise<AppServices> {
  const services = startWebServices(dataDir, logSink);
  await unlockServices(services);
  return services;
}

export interface ContractCalls {
  /** The envelope a channel answers. */
  call<T>(channel: string, payload?: unknown): Promise<Envelope<T>>;
  /** The value of a channel that must succeed. */
  value<T>(channel: string, payload?: unknown): Promise<T>;
  /** The error of a channel that must fail. */
  errorOf(channel: string, payload?: unknown): Promise<{ code: string; message: string }>;
}

/** Typed calls over `dispatch` (an empty object when no payload is given). */
export function contractCalls(dispatch: Dispatch): ContractCalls {
  const call = async <T>(channel: string, payload: unknown = {}): Promise<Envelope<T>> => (await dispatch(channel, payload)) as Envelope<T>;
  return {
    call,
    async value<T>(channel: string, payload?: unknown): Promise<T> {
      const env = await call<T>(channel, payload);
      if (!env.ok) throw new Error(`${channel} failed: ${env.error.code} ${env.error.message}`);
      return env.value;
    },
    async errorOf(channel: string, payload?: unknown): Promise<{ code: string; message: string }> {
      const env = await call(channel, payload);
      if (env.ok) throw new Error(`${channel} unexpectedly succeeded`);
      return env.error;
    },
  };
}
