import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../../src/shared/ipc/envelope';
import { memorySink } from '../../../src/shared/log';
import { stubDispatch } from '../../support/stub-handlers';

describe('dispatcher', () => {
  it('answers a payload that fails its schema with BAD_REQUEST naming the field', async () => {
    const dispatch = stubDispatch();
    const env = await dispatch('log.write', { level: 'loud', scope: 'x', message: 'm' });
    expect(env.ok).toBe(false);
    if (env.ok) return;
    expect(env.error.code).toBe('BAD_REQUEST');
    expect(env.error.message).toContain('log.write');
    expect(env.error.message).toContain('level');
  });

  it('answers an unknown channel with UNKNOWN_CHANNEL, including prototype names', async () => {
    const dispatch = stubDispatch();
    for (const channel of ['nope.nothing', 'sites.constructor', '__proto__.x', 'sites']) {
      const env = await dispatch(channel, {});
      expect(env).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHANNEL' } });
    }
  });

  it('reports a throwing handler as INTERNAL without its message or stack, and logs it in main', async () => {
    const sink = memorySink();
    const dispatch = stubDispatch(
      {
        sites: {
          list: async () => {
            throw new Error('ENOENT: /home/dr/secret/path/sites.json');
          },
        },
      },
      sink,
    );
    const env = await dispatch('sites.list', {});
    expect(env).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'Internal error in sites.list' } });
    expect(JSON.stringify(env)).not.toMatch(/ENOENT|\/home|at /);
    expect(sink.records.some((r) => r.level === 'error' && r.message.includes('ENOENT'))).toBe(true);
  });

  it('passes a ServiceError code and message through unchanged', async () => {
    const dispatch = stubDispatch({
      sites: {
        list: async () => {
          throw new ServiceError('NOT_FOUND', 'No such site');
        },
      },
    });
    expect(await dispatch('sites.list', {})).toEqual({ ok: false, error: { code: 'NOT_FOUND', message: 'No such site' } });
  });

  it('strips keys that are not in the contract from a response, such as a password', async () => {
    const leaky = {
      id: 'a',
      name: 'A',
      url: 'http://x',
      authType: 'basic' as const,
      username: 'reader',
      gatewayPath: '/sites/a/dicom-web',
      password: 'hunter22',
    };
    const dispatch = stubDispatch({ sites: { list: async () => [leaky] } });
    const env = await dispatch('sites.list', {});
    expect(env.ok).toBe(true);
    expect(JSON.stringify(env)).not.toContain('hunter22');
    expect(JSON.stringify(env)).not.toContain('password');
  });
});
