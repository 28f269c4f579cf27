import type { ServiceHandlers } from '../../src/shared/ipc/contract';
import { createDispatcher } from '../../src/shared/ipc/dispatcher';
import type { Dispatch } from '../../src/shared/ipc/dispatcher';
import { ServiceError } from '../../src/shared/ipc/envelope';
import { createLogger, memorySink } from '../../src/shared/log';
import type { LogSink } from '../../src/shared/log';

const notHere = (code: 'BAD_REQUEST' | 'UNAUTHORIZED' = 'BAD_REQUEST') => async (): Promise<never> => {
  throw new ServiceError(code, 'not in this test');
};

export type StubOverrides = { [S in keyof ServiceHandlers]?: Partial<ServiceHandlers[S]> };

/**
 * Narrow handlers for every channel of the contract, for tests of the dispatcher and the proxy: what a
 * test does not use refuses plainly; a test replaces what it checks. One place to add a new channel.
 */
export function stubHandlers(overrides: StubOverrides = {}): ServiceHandlers {
  const base: ServiceHandlers = {
    app: { info: async () => ({ name: 'Telerad Workstation', version: '1.0.0', host: 'web' }) },
    sites: {
      list: async () => [],
      add: notHere(),
      update: notHere(),
      remove: async () => null,
      test: notHere(),
      secretProtection: async () => ({ kind: 'owner-only-file', location: '/data/secrets.json', canStore: true, weakSecretCount: 0 }),
      chooseWeakSecretProtection: notHere(),
    },
    log: { write: async () => null },
    vault: {
      status: async () => ({ state: 'locked', pinSet: false, idleLockMinutes: 10, retryAfterMs: 0, outboxKeyAvailable: false, keyProtection: 'passphrase' }),
      setup: notHere(),
      unlock: notHere('UNAUTHORIZED'),
      keys: notHere('UNAUTHORIZED'),
      outboxKey: notHere('UNAUTHORIZED'),
      lock: async () => null,
      setPin: async () => null,
      setIdleLock: async () => null,
      activity: async () => null,
    },
    audit: {
      record: async () => ({ seq: 1 }),
      query: async () => ({ events: [], total: 0 }),
      exportDicom: async () => ({ messages: [], count: 0 }),
    status: async () => ({ newestSeq: 0, forwarding: { state: 'off', forwardedUpTo: 0, backlog: 0 }, integrity: { ok: true, missingNewest: 0 } }),
    },
  };
  return {
    app: { ...base.app, ...overrides.app },
    sites: { ...base.sites, ...overrides.sites },
    log: { ...base.log, ...overrides.log },
    vault: { ...base.vault, ...overrides.vault },
    audit: { ...base.audit, ...overrides.audit },
  };
}

/** The dispatcher over `stubHandlers(overrides)`, logging to `sink`. */
export function stubDispatch(overrides: StubOverrides = {}, sink: LogSink = memorySink()): Dispatch {
  return createDispatcher(stubHandlers(overrides), createLogger('t', sink));
}
