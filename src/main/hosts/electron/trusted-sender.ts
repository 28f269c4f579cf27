import type { WebFrameMain } from 'electron';
import { isAppUrl } from './app-origin';

/**
 * Whether an IPC message comes from the app's own page. A frame navigated
 * elsewhere (or an iframe, were one ever allowed) must not reach main's
 * services even though it shares the preload.
 */
export function isTrustedSender(frame: Pick<WebFrameMain, 'url'> | null | undefined): boolean {
  return frame != null && isAppUrl(frame.url);
}
