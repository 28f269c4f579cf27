import { describe, expect, it } from 'vitest';
import { fetchWithLaunchToken, takeLaunchToken } from '../../../src/renderer/app/launch-token';

const ORIGIN = 'http://127.0.0.1:4100';
const TOKEN = 'a'.repeat(64);

function fakeWindow(href: string): { win: Parameters<typeof takeLaunchToken>[0]; replaced: string[]; storage: Map<string, string> } {
  const url = new URL(href);
  const replaced: string[] = [];
  const storage = new Map<string, string>();
  const win = {
    location: { hash: url.hash, search: url.search, pathname: url.pathname },
    history: { state: null, replaceState: (_s: unknown, _t: string, to: string) => void replaced.push(to) },
    sessionStorage: { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => void storage.set(k, v) },
  } as unknown as Parameters<typeof takeLaunchToken>[0];
  return { win, replaced, storage };
}

describe('launch token in the page', () => {
  it('takes the token from the fragment and replaces the history entry without it, keeping the rest of the URL', () => {
    const { win, replaced } = fakeWindow(`${ORIGIN}/viewer?open=complete#token=${TOKEN}&x=1`);
    expect(takeLaunchToken(win)).toBe(TOKEN);
    expect(replaced).toEqual(['/viewer?open=complete#x=1']);
  });

  it('answers the tab\'s copy on a reload, and nothing for a page opened without the link', () => {
    const first = fakeWindow(`${ORIGIN}/#token=${TOKEN}`);
    takeLaunchToken(first.win);
    const reloaded = fakeWindow(`${ORIGIN}/`);
    for (const [k, v] of first.storage) reloaded.storage.set(k, v);
    expect(takeLaunchToken(reloaded.win)).toBe(TOKEN);
    expect(reloaded.replaced).toEqual([]);
    expect(takeLaunchToken(fakeWindow(`${ORIGIN}/`).win)).toBeUndefined();
  });

  it('adds the token header to its own /api and /sites requests only', async () => {
    const sent: Array<{ url: string; token: string | null }> = [];
    const base: typeof fetch = async (input, init) => {
      sent.push({ url: String(input instanceof Request ? input.url : input), token: new Headers(init?.headers).get('x-telerad-token') });
      return new Response('{}');
    };
    const f = fetchWithLaunchToken(base, TOKEN, ORIGIN);
    await f('/api/vault.status', { method: 'POST', headers: { 'content-type': 'application/json' } });
    await f(`${ORIGIN}/sites/a/dicom-web/studies`);
    await f('/assets/index.js');
    await f('http://127.0.0.1:4200/api/vault.status');
    await f('https://example.org/sites/a');
    expect(sent.map((s) => s.token)).toEqual([TOKEN, TOKEN, null, null, null]);
  });
});
