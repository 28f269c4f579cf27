import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServiceClient } from '../../../src/shared/ipc/proxy';
import { createLogger, memorySink } from '../../../src/shared/log';
import type { AppServices } from '../../../src/main/services/app-services';
import { auditFilterRequest, createAuditReporter, createAuditStore, forwardingSummary } from '../../../src/renderer/audit/audit-store';
import type { AuditStatus } from '../../../src/shared/ipc/contract';
import { overJson, startUnlockedWebServices } from '../../support/contract';

// The renderer's audit store against the real main-side services, over the
// contract (JSON both ways, as over HTTP). The transport can hold one answer
// back, to let a newer request overtake it.
let dir: string;
let services: AppServices;
let hold: { channel: string; release?: () => void } | undefined;
const log = createLogger('t', memorySink());

function client(): ReturnType<typeof createServiceClient> {
  return createServiceClient(async (channel, payload) => {
    const answer = await overJson((c, p) => services.dispatch(c, p))(channel, payload);
    if (hold && hold.channel === channel && !hold.release) {
      const held = hold;
      await new Promise<void>((resolve) => (held.release = resolve));
    }
    return answer;
  });
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-audit-store-'));
  services = await startUnlockedWebServices(dir);
  hold = undefined;
});
afterEach(async () => {
  await services.sites.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('audit store', () => {
  it('lists what the reporter recorded, filtered by patient, newest first', async () => {
    const report = createAuditReporter(client(), () => 'Dr Ama Mensah', log);
    await report({ action: 'study.view', patient: { id: 'P-1', name: 'ASANTE^YAW' }, outcome: 'success' });
    await report({ action: 'report.sign', patient: { id: 'P-1', name: 'ASANTE^YAW' }, outcome: 'success' });
    await report({ action: 'study.view', patient: { id: 'P-2', name: 'BOATENG^ESI' }, outcome: 'success' });

    const store = createAuditStore({ client: client(), log });
    await store.setFilters({ patient: 'asante' });
    expect(store.getState()).toMatchObject({ total: 2, loading: false });
    expect(store.getState().events.map((e) => [e.action, e.actor])).toEqual([
      ['report.sign', 'Dr Ama Mensah'],
      ['study.view', 'Dr Ama Mensah'],
    ]);
  });

  it('keeps the newer filter when an older answer arrives late', async () => {
    const report = createAuditReporter(client(), () => 'Dr Ama Mensah', log);
    await report({ action: 'study.view', patient: { id: 'P-1', name: 'ASANTE^YAW' }, outcome: 'success' });
    await report({ action: 'study.view', patient: { id: 'P-2', name: 'BOATENG^ESI' }, outcome: 'success' });

    const store = createAuditStore({ client: client(), log });
    hold = { channel: 'audit.query' };
    const older = store.setFilters({ patient: 'asante' });
    await new Promise((r) => setTimeout(r, 20));
    await store.setFilters({ patient: 'boateng' });
    hold.release?.();
    await older;
    expect(store.getState().events.map((e) => e.patient?.name)).toEqual(['BOATENG^ESI']);
  });

  it('turns local calendar days into the instants main compares with', () => {
    const req = auditFilterRequest({ patient: ' ', fromDate: '2026-03-01', toDate: '2026-03-02', action: '' });
    expect(req).toEqual({ from: new Date('2026-03-01T00:00:00.000').toISOString(), to: new Date('2026-03-02T23:59:59.999').toISOString() });
  });

  it('shows the host refusing a bad filter as a message, keeping the filters', async () => {
    const store = createAuditStore({ client: client(), log, pageSize: 10 });
    await store.setFilters({ patient: 'x'.repeat(300) });
    expect(store.getState().error).toMatch(/Could not read the audit trail: .*patient/s);
    expect(store.getState().filters.patient).toHaveLength(300);
  });

  it('says the workstation holds the only copy when no repository is configured, with the newest seq from main', async () => {
    const report = createAuditReporter(client(), () => 'Dr Ama Mensah', log);
    await report({ action: 'study.view', patient: { id: 'P-1', name: 'ASANTE^YAW' }, outcome: 'success' });
    const store = createAuditStore({ client: client(), log });
    await store.loadStatus();
    const status = store.getState().status as AuditStatus;
    // #1 is the unlock's login (tests/support/contract.ts), #2 the view.
    expect(status).toMatchObject({ newestSeq: 2, forwarding: { state: 'off' }, integrity: { ok: true, missingNewest: 0 } });
    expect(forwardingSummary(status)).toContain('This workstation holds the only copy');
  });

  it('words the forwarding line as "forwarded up to #N" with the backlog and why it is retrying', () => {
    const base: AuditStatus = { newestSeq: 40, integrity: { ok: true, missingNewest: 0 }, forwarding: { repository: 'tcp+tls://atna.example:6514', state: 'idle', forwardedUpTo: 40, backlog: 0 } };
    expect(forwardingSummary(base)).toBe('Audit Record Repository tcp+tls://atna.example:6514: forwarded up to #40, no backlog.');
    const retrying = forwardingSummary({ ...base, forwarding: { ...base.forwarding, state: 'retrying', forwardedUpTo: 12, backlog: 28, lastError: 'connection refused' } });
    expect(retrying).toContain('forwarded up to #12, 28 events waiting; retrying');
    expect(retrying).toContain('(connection refused)');
  });
});
