import type { Envelope } from '../../shared/ipc/envelope';

/**
 * What the Electron preload exposes (src/preload/bridge.ts, TeleradBridge).
 * Declared here rather than imported: the renderer may import only src/shared.
 * Absent in the browser host, where the contract travels over HTTP instead.
 */
export interface TeleradPreloadBridge {
  readonly host: 'electron';
  invoke(channel: string, payload: unknown): Promise<Envelope<unknown>>;
}

declare global {
  interface Window {
    telerad?: TeleradPreloadBridge;
  }
}
