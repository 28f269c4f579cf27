import type { WindowOpenHandlerResponse } from 'electron';
import { isAppUrl } from './app-origin';

/**
 * Decisions for `will-navigate`, `will-redirect` and `setWindowOpenHandler`.
 * The window only ever shows the app: a link or script that tries to load
 * anything else (a site's web UI, a phishing page) is refused rather than
 * opened, since that page would inherit the window's trust.
 */
export function isNavigationAllowed(url: string): boolean {
  return isAppUrl(url);
}

/** No new windows at all: the app is a single window; popups are how content escapes the policy. */
export function decideWindowOpen(_url: string): WindowOpenHandlerResponse {
  return { action: 'deny' };
}

/**
 * Camera, microphone, geolocation, notifications, clipboard reads…: the
 * workstation needs none, so every request and check is refused, whatever
 * the origin asking.
 */
export function decidePermission(_permission: string, _requestingUrl: string | undefined): boolean {
  return false;
}
