import type { ChannelName } from '../shared/ipc/contract';
import { CHANNEL_NAMES } from '../shared/ipc/contract';
import type { Envelope } from '../shared/ipc/envelope';
import { fail } from '../shared/ipc/envelope';

/** Must equal IPC_CHANNEL_PREFIX in main's ipc-transport (a unit test checks); preload may not import main. */
export const IPC_CHANNEL_PREFIX = 'telerad:';

/** What the renderer finds at `window.telerad` under Electron; `invoke` fits shared/ipc/proxy's Invoke. */
export interface TeleradBridge {
  readonly host: 'electron';
  invoke(channel: string, payload: unknown): Promise<Envelope<unknown>>;
}

type IpcInvoke = (ipcChannel: string, payload: unknown) => Promise<unknown>;

const allowed: ReadonlySet<string> = new Set<ChannelName>(CHANNEL_NAMES);

/**
 * The whole surface the page gets. Channel names outside the contract are
 * answered here and never reach IPC, so the page cannot probe other
 * handlers; IPC failures come back as envelopes like every other failure.
 */
export function createTeleradBridge(ipcInvoke: IpcInvoke): TeleradBridge {
  return {
    host: 'electron',
    async invoke(channel, payload) {
      if (typeof channel !== 'string' || !allowed.has(channel)) {
        return fail('UNKNOWN_CHANNEL', `Unknown channel "${String(channel).slice(0, 80)}"`);
      }
      try {
        return (await ipcInvoke(`${IPC_CHANNEL_PREFIX}${channel}`, payload)) as Envelope<unknown>;
      } catch {
        return fail('INTERNAL', `IPC failed on ${channel}`);
      }
    },
  };
}
