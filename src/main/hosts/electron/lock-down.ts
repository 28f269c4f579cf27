import type { Session, WebContents } from 'electron';
import { decidePermission, decideWindowOpen, isNavigationAllowed } from './navigation-policy';

/** The parts of a WebContents the locks use; tests pass a narrow double that records the handlers. */
export type LockableContents = Pick<WebContents, 'on' | 'setWindowOpenHandler'>;

/**
 * Installs the navigation and window locks on every web contents (the app's
 * window and anything Chromium creates later): no navigation or redirect off
 * the app, no <webview>, no new windows.
 */
export function lockDownContents(contents: LockableContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!isNavigationAllowed(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isNavigationAllowed(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => decideWindowOpen(url));
}

/** The parts of a Session the permission lock uses. */
export type LockableSession = Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'>;

/** Every permission request and check of the session is refused (see decidePermission). */
export function lockDownSession(ses: LockableSession): void {
  ses.setPermissionRequestHandler((contents, permission, callback) => callback(decidePermission(permission, contents.getURL())));
  ses.setPermissionCheckHandler((_contents, permission, requestingOrigin) => decidePermission(permission, requestingOrigin));
}
