import type { SecretProtection, ServiceClient, SiteAddRequest, SiteSummary, SiteTestResult, SiteUpdateRequest } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { SiteFormErrors } from './site-form';
import { fieldErrorFromMessage } from './site-form';
import { createListeners } from '../../shared/store/listeners';
import { errorMessage } from '../../shared/error-message';

export interface SiteTestState {
  state: 'running' | 'done' | 'error';
  result?: SiteTestResult;
  /** When the test could not even be asked for (the host refused): the reason in plain words. */
  error?: string;
}

export interface SitesState {
  sites: SiteSummary[];
  loading: boolean;
  /** The host could not list the sites. */
  error?: string;
  /** Last "Test connection" per site id. */
  tests: Record<string, SiteTestState>;
  /** What protects stored site passwords on this host; undefined until main answered. */
  secretProtection?: SecretProtection;
  /** Main could not say, or refused the user's choice about weak protection: the reason. */
  secretProtectionError?: string;
}

export type SaveOutcome = { ok: true; site?: SiteSummary } | { ok: false; errors: SiteFormErrors };

export interface SitesStoreDeps {
  client: Pick<ServiceClient, 'sites'>;
  /** After a site was added, changed, removed or successfully tested (the worklist refreshes). */
  onSitesChanged: () => void;
  log: Logger;
}

export interface SitesStore {
  getState(): SitesState;
  subscribe(listener: () => void): () => void;
  load(): Promise<void>;
  add(request: SiteAddRequest): Promise<SaveOutcome>;
  update(request: SiteUpdateRequest): Promise<SaveOutcome>;
  remove(siteId: string): Promise<SaveOutcome>;
  test(siteId: string): Promise<void>;
  /** Asks main what protects stored site passwords (the form explains it). */
  loadSecretProtection(): Promise<void>;
  /** The user's explicit choice to keep site passwords with weak protection, or its withdrawal. */
  chooseWeakSecretProtection(accept: boolean): Promise<void>;
}

function messageOf(err: unknown): string {
  return errorMessage(err);
}

/**
 * Site management outside React. A list load and each site's test carry a
 * revision: an answer to an older request (the user pressed "Test" twice, or
 * a list load raced a save) never overwrites a newer one.
 */
export function createSitesStore(deps: SitesStoreDeps): SitesStore {
  let state: SitesState = { sites: [], loading: false, tests: {} };
  const listeners = createListeners();
  let listRevision = 0;
  const testRevision = new Map<string, number>();
  let protectionRevision = 0;

  const set = (next: SitesState): void => {
    state = next;
    listeners.notify();
  };

  const load = async (): Promise<void> => {
    const rev = ++listRevision;
    set({ ...state, loading: true });
    try {
      const sites = await deps.client.sites.list({});
      if (rev !== listRevision) return;
      const { error: _cleared, ...rest } = state;
      set({ ...rest, sites, loading: false });
    } catch (err) {
      if (rev !== listRevision) return;
      deps.log.warn(`Listing sites failed: ${messageOf(err)}`);
      set({ ...state, loading: false, error: `Could not list the sites: ${messageOf(err)}` });
    }
  };

  /** Runs one protection request; only the newest one's answer (or error) is kept. */
  const protectionRequest = async (what: string, run: () => Promise<SecretProtection>): Promise<void> => {
    const rev = ++protectionRevision;
    try {
      const secretProtection = await run();
      if (rev !== protectionRevision) return;
      const { secretProtectionError: _cleared, ...rest } = state;
      set({ ...rest, secretProtection });
    } catch (err) {
      if (rev !== protectionRevision) return;
      deps.log.warn(`${what} failed: ${messageOf(err)}`);
      set({ ...state, secretProtectionError: messageOf(err) });
    }
  };

  const loadSecretProtection = (): Promise<void> =>
    protectionRequest('Asking how site passwords are protected', () => deps.client.sites.secretProtection({}));

  const afterChange = async (): Promise<void> => {
    // A saved or removed password changes how many are kept with weak protection.
    await Promise.all([load(), loadSecretProtection()]);
    deps.onSitesChanged();
  };

  const save = async (what: string, run: () => Promise<SiteSummary | null>): Promise<SaveOutcome> => {
    try {
      const site = await run();
      await afterChange();
      return site ? { ok: true, site } : { ok: true };
    } catch (err) {
      deps.log.warn(`${what} failed: ${messageOf(err)}`);
      return { ok: false, errors: fieldErrorFromMessage(messageOf(err)) };
    }
  };

  return {
    getState: () => state,
    subscribe: listeners.subscribe,
    load,
    add: (request) => save('Adding a site', () => deps.client.sites.add(request)),
    update: (request) => save(`Updating site ${request.id}`, () => deps.client.sites.update(request)),
    remove: async (siteId) => {
      const outcome = await save(`Removing site ${siteId}`, () => deps.client.sites.remove({ id: siteId }));
      if (outcome.ok) {
        testRevision.delete(siteId);
        const { [siteId]: _gone, ...tests } = state.tests;
        set({ ...state, tests });
      }
      return outcome;
    },
    loadSecretProtection,
    chooseWeakSecretProtection: (accept) =>
      protectionRequest(accept ? 'Accepting weak protection for site passwords' : 'Withdrawing weak protection for site passwords', () =>
        deps.client.sites.chooseWeakSecretProtection({ accept }),
      ),
    async test(siteId) {
      const rev = (testRevision.get(siteId) ?? 0) + 1;
      testRevision.set(siteId, rev);
      const current = (): boolean => testRevision.get(siteId) === rev;
      set({ ...state, tests: { ...state.tests, [siteId]: { state: 'running' } } });
      try {
        const result = await deps.client.sites.test({ id: siteId });
        if (!current()) return;
        set({ ...state, tests: { ...state.tests, [siteId]: { state: 'done', result } } });
        // A successful test stored new capabilities on the site: the list shows them, and the worklist's
        // copy of the site (which retrieval negotiates from) is refreshed too.
        if (result.ok) await afterChange();
      } catch (err) {
        if (!current()) return;
        set({ ...state, tests: { ...state.tests, [siteId]: { state: 'error', error: messageOf(err) } } });
      }
    },
  };
}
