/**
 * The Electron renderer's origin. A privileged standard scheme rather than
 * file:// gives the app a real origin: CSP 'self', fetch and IndexedDB behave
 * as on the web, and the site gateway can live on the same origin under
 * /sites/ (as it does in the browser host).
 */
export const APP_SCHEME = 'telerad';
export const APP_HOST = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

/** Whether `url` is a page or resource of the app itself (and not, say, `telerad://app@elsewhere/`). */
export function isAppUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return (
    parsed.protocol === `${APP_SCHEME}:` &&
    parsed.host === APP_HOST &&
    parsed.username === '' &&
    parsed.password === ''
  );
}
