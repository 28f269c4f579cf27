import { describe, expect, it } from 'vitest';
import { CHANNEL_NAMES } from '../../../src/shared/ipc/contract';
import type { Dispatch } from '../../../src/shared/ipc/dispatcher';
import { ServiceError } from '../../../src/shared/ipc/envelope';
import { createServiceClient } from '../../../src/shared/ipc/proxy';
import { overJson } from '../../support/contract';
import { stubDispatch } from '../../support/stub-handlers';

function dispatch(): Dispatch {
  return stubDispatch({
    app: { info: async () => ({ name: 'Telerad', version: '0.0.0', host: 'web' }) },
    sites: {
      list: async () => {
        // A handler that accidentally returns a secret: the contract strips it.
        return [{ id: 'a', name: 'A', url: 'http://x', authType: 'basic', username: 'u', gatewayPath: '/sites/a/dicom-web', password: 'hunter22' } as never];
      },
    },
    log: {
      write: async () => {
        throw new ServiceError('NOT_FOUND', 'nothing to write to');
      },
    },
  });
}

// The transport in between is JSON, as over HTTP or structured clone over IPC.
function jsonClient(): ReturnType<typeof createServiceClient> {
  return createServiceClient(overJson(dispatch()));
}

describe('contract proxy', () => {
  it('exposes every channel of the contract as a typed method', () => {
    const client = jsonClient();
    for (const name of CHANNEL_NAMES) {
      const [s, m] = name.split('.') as [keyof typeof client, string];
      expect(typeof (client[s] as Record<string, unknown>)[m]).toBe('function');
    }
  });

  it('returns the value of a successful call', async () => {
    await expect(jsonClient().app.info({})).resolves.toEqual({ name: 'Telerad', version: '0.0.0', host: 'web' });
  });

  it('never lets a field outside the contract reach the renderer', async () => {
    const [site] = await jsonClient().sites.list({});
    expect(site).toBeDefined();
    expect(JSON.stringify(site)).not.toContain('hunter22');
  });

  it('turns a failed envelope into a ServiceError with its code', async () => {
    const err = await jsonClient()
      .log.write({ level: 'info', scope: 'x', message: 'y' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).code).toBe('NOT_FOUND');
  });

  it('reports a payload that breaks the schema as BAD_REQUEST naming the field', async () => {
    const err = await jsonClient()
      .log.write({ level: 'shout' as never, scope: 'x', message: 'y' })
      .catch((e: unknown) => e);
    expect((err as ServiceError).code).toBe('BAD_REQUEST');
    expect((err as ServiceError).message).toMatch(/level/);
  });
});
