// Helpers shared by the audit forwarding integration tests and bench: events
// in a real AuditLog, a forwarder on it, the browser host as its own process.
import type { AuditLog } from '../../src/main/services/audit/audit-log';
import { createAuditForwarder } from '../../src/main/services/audit/audit-forwarder';
import type { AuditForwarder, AuditForwarderOptions } from '../../src/main/services/audit/audit-forwarder';
import type { LogRecord } from '../../src/shared/log';
import { createLogger } from '../../src/shared/log';
import { spawnSourceHost } from './host-process';
import type { SpawnedHost } from './host-process';

export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 20_000, everyMs = 20): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `count` events of the kinds a reading day produces (views, a failed login every 7th), appended in order. */
export async function appendEvents(audit: AuditLog, count: number, tag = 'E'): Promise<void> {
  for (let i = 0; i < count; i++) {
    await audit.append(
      i % 7 === 6
        ? { action: 'login.failed', actor: 'system', source: 'main', outcome: 'failure', reason: `wrong PIN (${tag}-${i})` }
        : {
            action: 'study.view',
            actor: 'Dr Ama Mensah',
            source: 'renderer',
            patient: { id: `${tag}-${i}`, name: 'MENSAH^KOFI' },
            studyInstanceUID: `1.2.826.0.1.3680043.8.498.${i + 1}`,
            siteId: 'hospital-a',
            outcome: 'success',
          },
    );
  }
}

export interface TestForwarder {
  forwarder: AuditForwarder;
  records: LogRecord[];
  messages(): string[];
}

/** A forwarder on `audit` with short retry delays (100 ms → 500 ms), its log lines kept. */
export function testForwarder(
  audit: AuditLog,
  options: Pick<AuditForwarderOptions, 'repository' | 'cursorFile'> & Partial<AuditForwarderOptions>,
): TestForwarder {
  const records: LogRecord[] = [];
  const forwarder = createAuditForwarder({
    source: audit,
    hostname: 'test-workstation',
    clock: () => new Date(),
    log: createLogger('main', (r) => records.push(r)).child('audit-forward'),
    backoff: { initialMs: 100, maxMs: 500 },
    ...options,
  });
  return { forwarder, records, messages: () => records.map((r) => `${r.level} ${r.message}`) };
}

export interface HostProcess extends SpawnedHost {
  /** audit.status through the host's API. */
  auditStatus(): Promise<{ newestSeq: number; forwarding: { state: string; forwardedUpTo: number; backlog: number; lastError?: string } }>;
}

/**
 * The browser host as its own process, from source with tsx as the other
 * process tests run it (no build step; the same code esbuild bundles into
 * dist/main/web-host.mjs), so a test can SIGKILL it.
 */
export async function startHostProcess(args: string[]): Promise<HostProcess> {
  const host = await spawnSourceHost(args);
  return {
    ...host,
    auditStatus: async () => {
      const res = await fetch(`${host.origin}/api/audit.status`, { method: 'POST', headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' }, body: '{}' });
      const env = (await res.json()) as { ok: boolean; value: Awaited<ReturnType<HostProcess['auditStatus']>> };
      if (!env.ok) throw new Error(`audit.status failed: ${JSON.stringify(env)}`);
      return env.value;
    },
  };
}
