import { GATEWAY_PREFIX } from '../../shared/gateway';
import { LAUNCH_TOKEN_FRAGMENT, LAUNCH_TOKEN_HEADER } from '../../shared/launch-token';
/**
 * This tab's copy across its own reloads (the lock reloads the page; so does F5). sessionStorage is scoped to
 * the origin with its port, so a server on another 127.0.0.1 port cannot read it, and it ends with the tab.
 * Chromium does write it into the profile's Session Storage for session restore: the same exposure as the
 * History entry of the link itself, which Chromium records before any script can replace it (measured).
 */
const SESSION_KEY = 'telerad.launchToken';

type TokenWindow = Pick<Window, 'location' | 'history' | 'sessionStorage'>;

/**
 * Takes the launch token out of the address bar at once (the fragment `#token=…` of the link the host
 * printed; a `?token=` is taken too) and answers it; on a reload, answers this tab's copy. Undefined when
 * the page was opened without one: the host then answers 401 and the page says to open the printed link.
 */
export function takeLaunchToken(win: TokenWindow): string | undefined {
  const { location } = win;
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const query = new URLSearchParams(location.search);
  const fromUrl = fragment.get(LAUNCH_TOKEN_FRAGMENT) ?? query.get(LAUNCH_TOKEN_FRAGMENT);
  if (fromUrl !== null) {
    fragment.delete(LAUNCH_TOKEN_FRAGMENT);
    query.delete(LAUNCH_TOKEN_FRAGMENT);
    const search = query.toString();
    const hash = fragment.toString();
    // Replaced, not pushed: Back must not bring the token back into the address bar.
    win.history.replaceState(win.history.state, '', `${location.pathname}${search ? `?${search}` : ''}${hash ? `#${hash}` : ''}`);
    try {
      win.sessionStorage.setItem(SESSION_KEY, fromUrl);
    } catch {
      // Storage refused (quota, policy): the token still lives in memory; a reload then needs the link again.
    }
    return fromUrl;
  }
  try {
    return win.sessionStorage.getItem(SESSION_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * fetch that adds the launch token to requests for the host's own /api and site gateway, and to nothing
 * else: a request to any other origin (or a same-origin static file) never carries it.
 */
export function fetchWithLaunchToken(fetchImpl: typeof fetch, token: string, origin: string): typeof fetch {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input), origin);
    const forHost = url.origin === origin && (url.pathname.startsWith('/api/') || url.pathname.startsWith(GATEWAY_PREFIX));
    if (!forHost) return fetchImpl(input, init);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set(LAUNCH_TOKEN_HEADER, token);
    return fetchImpl(input, { ...init, headers });
  };
}
