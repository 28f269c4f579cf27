import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { CHANNEL_NAMES } from '../../../shared/ipc/contract';
import type { Dispatch } from '../../../shared/ipc/dispatcher';
import type { Envelope } from '../../../shared/ipc/envelope';
import { fail } from '../../../shared/ipc/envelope';
import type { Logger } from '../../../shared/log';
import { isTrustedSender } from './trusted-sender';

/** Prefix of every contract channel on Electron IPC; the preload uses the same one. */
export const IPC_CHANNEL_PREFIX = 'telerad:';

/**
 * Carries the contract over Electron IPC: one `ipcMain.handle` per channel
 * name in the contract, each checking that the sender is the app's own frame
 * before dispatching. Returns a function that removes the handlers.
 */
export function registerIpcTransport(ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>, dispatch: Dispatch, log: Logger): () => void {
  for (const channel of CHANNEL_NAMES) {
    ipcMain.handle(`${IPC_CHANNEL_PREFIX}${channel}`, async (event: IpcMainInvokeEvent, payload: unknown): Promise<Envelope<unknown>> => {
      if (!isTrustedSender(event.senderFrame)) {
        log.warn(`Refused ${channel} from a frame outside the app`);
        return fail('UNAUTHORIZED', 'Only the app itself may call its services');
      }
      return dispatch(channel, payload);
    });
  }
  return () => {
    for (const channel of CHANNEL_NAMES) ipcMain.removeHandler(`${IPC_CHANNEL_PREFIX}${channel}`);
  };
}
