import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditRecordRequestSchema } from '../../../src/shared/ipc/contract';
import { createServiceClient } from '../../../src/shared/ipc/proxy';
import { createLogger, memorySink } from '../../../src/shared/log';
import type { AppServices } from '../../../src/main/services/app-services';
import { createAuditReporter, createAuditStore, deliveryAuditRecord, failedDeliveryAuditRecord, retrievalAuditRecord } from '../../../src/renderer/audit/audit-store';
import { overJson, startUnlockedWebServices } from '../../support/contract';

// The Audit view's ATNA export and the records the composition root makes of
// retrievals and failed deliveries, against the real main-side services.
let dir: string;
let services: AppServices;
const log = createLogger('t', memorySink());
const client = (): ReturnType<typeof createServiceClient> =>
  createServiceClient(overJson((channel, payload) => services.dispatch(channel, payload)));

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-audit-export-'));
  services = await startUnlockedWebServices(dir);
});
afterEach(async () => {
  await services.sites.close();
  rmSync(dir, { recursive: true, force: true });
});

const STUDY = '1.2.826.0.1.3680043.8.498.5';

describe('ATNA export from the audit view', () => {
  it('saves one XML document holding the filtered events as <AuditMessage> elements, and records the export', async () => {
    const report = createAuditReporter(client(), () => 'Dr Ama Mensah', log);
    await report({ action: 'study.view', patient: { id: 'P-1', name: 'ASANTE^YAW' }, studyInstanceUID: STUDY, outcome: 'success' });
    await report({ action: 'report.sign', patient: { id: 'P-1', name: 'ASANTE^YAW' }, outcome: 'success' });
    await report({ action: 'study.view', patient: { id: 'P-2', name: 'BOATENG^ESI' }, outcome: 'success' });

    const store = createAuditStore({ client: client(), log, report, now: () => new Date(2026, 2, 1, 8, 15, 0) });
    await store.setFilters({ patient: 'asante' });
    const file = await store.exportAtnaFile();

    expect(file.fileName).toBe('audit-atna-20260301-081500.xml');
    expect(file.count).toBe(2);
    const errors: string[] = [];
    const doc = new DOMParser({ errorHandler: { error: (m: unknown) => void errors.push(String(m)), fatalError: (m: unknown) => void errors.push(String(m)) } }).parseFromString(file.xml, 'text/xml');
    expect(errors).toEqual([]);
    const root = doc.documentElement!;
    expect(root.tagName).toBe('AuditMessages');
    expect(root.getAttribute('count')).toBe('2');
    expect(root.getAttribute('patientFilter')).toBe('asante');
    const messages = Array.from(root.getElementsByTagName('AuditMessage'));
    expect(messages).toHaveLength(2);
    // Oldest first, as a repository should receive them: the view, then the signature.
    const eventIds = messages.map((m) => m.getElementsByTagName('EventID')[0]?.getAttribute('csd-code'));
    expect(eventIds).toEqual(['110103', '110110']);
    expect(file.xml).not.toContain('BOATENG');
    // Only one XML declaration: the messages' own were dropped inside the root.
    expect(file.xml.match(/<\?xml/g)).toHaveLength(1);

    const exports = await services.audit.query({ action: 'export' }, { offset: 0, limit: 10 });
    expect(exports.events).toEqual([expect.objectContaining({ actor: 'Dr Ama Mensah', outcome: 'success', reason: 'audit trail export (2 DICOM audit messages)' })]);
    expect(store.getState()).toMatchObject({ exporting: false, exportResult: { ok: true, message: '2 events exported to audit-atna-20260301-081500.xml' } });
  });

  it('records an export by "unknown user" when the root gave the store no reporter', async () => {
    const store = createAuditStore({ client: client(), log });
    await store.exportAtnaFile();
    const exports = await services.audit.query({ action: 'export' }, { offset: 0, limit: 10 });
    // The one event before it: the unlock's login (tests/support/contract.ts).
    expect(exports.events[0]).toMatchObject({ actor: 'unknown user', reason: 'audit trail export (1 DICOM audit message)' });
  });

  it('shows why an export failed, records the failure, and saves nothing', async () => {
    const store = createAuditStore({ client: client(), log });
    await store.setFilters({ patient: 'x'.repeat(300) });
    await expect(store.exportAtnaFile()).rejects.toThrow();
    expect(store.getState().exportResult).toMatchObject({ ok: false, message: expect.stringMatching(/^Could not export the audit trail: .*patient/s) });
    const exports = await services.audit.query({ action: 'export' }, { offset: 0, limit: 10 });
    expect(exports.events[0]).toMatchObject({ outcome: 'failure', reason: expect.stringMatching(/^audit trail export failed: /) });
  });
});

describe('records of retrievals and failed deliveries', () => {
  it('records a retrieval with its patient, so the view finds it by patient', async () => {
    const report = createAuditReporter(client(), () => 'Dr Ama Mensah', log);
    await report(
      retrievalAuditRecord({ studyInstanceUID: STUDY, siteId: 'hospital-a', patient: { id: 'P-9', name: 'MENSAH^KOFI' }, sopInstanceUIDs: [`${STUDY}.1.1`, `${STUDY}.1.2`], outcome: 'success' }),
    );
    const found = await services.audit.query({ patient: 'mensah' }, { offset: 0, limit: 10 });
    expect(found.events[0]).toMatchObject({ action: 'study.retrieve', siteId: 'hospital-a', studyInstanceUID: STUDY, sopInstanceUIDs: [`${STUDY}.1.1`, `${STUDY}.1.2`], outcome: 'success' });
  });

  it('caps a huge retrieval at 10,000 UIDs and says how many there were, within what main accepts', () => {
    const uids = Array.from({ length: 12_345 }, (_, i) => `${STUDY}.2.${i + 1}`);
    const record = retrievalAuditRecord({ studyInstanceUID: STUDY, siteId: 'hospital-a', patient: {}, sopInstanceUIDs: uids, outcome: 'failure', reason: 'retrieval cancelled; 12345 of 20000 instances in the cache' });
    expect(record.sopInstanceUIDs).toHaveLength(10_000);
    expect(record.reason).toBe('retrieval cancelled; 12345 of 20000 instances in the cache; 12345 instances, the first 10000 listed');
    expect(record).not.toHaveProperty('patient');
    expect(AuditRecordRequestSchema.safeParse({ ...record, actor: 'Dr Ama Mensah' }).success).toBe(true);
  });

  it('records a failed delivery as outbox.send failure with the job, the error and whether it waits for the user', async () => {
    const report = createAuditReporter(client(), () => 'Dr Ama Mensah', log);
    await report(
      failedDeliveryAuditRecord({
        jobId: 'job-1',
        siteId: 'hospital-a',
        kind: 'report',
        label: 'Report — CT chest',
        studyInstanceUID: STUDY,
        error: 'x'.repeat(2000),
        sopInstanceUIDs: [`${STUDY}.3.1`],
        permanent: true,
        attempts: 2,
      }),
    );
    await report(
      failedDeliveryAuditRecord({ jobId: 'job-2', siteId: 'hospital-a', kind: 'report', label: 'Report — CT head', studyInstanceUID: STUDY, error: 'the site is busy (HTTP 503)', sopInstanceUIDs: [`${STUDY}.4.1`], permanent: false, attempts: 1 }),
    );
    const failed = await services.audit.query({ action: 'outbox.send' }, { offset: 0, limit: 10 });
    expect(failed.events.map((e) => [e.outcome, (e.reason?.length ?? 0) <= 1000])).toEqual([
      ['failure', true],
      ['failure', true],
    ]);
    expect(failed.events[0]?.reason).toBe('Report — CT head: the site is busy (HTTP 503); attempt 1');
    expect(failed.events[1]?.reason).toMatch(/^Report — CT chest: x+…$/);
  });

  it('records a delivery with the instances that reached the site, capped as main accepts', async () => {
    const report = createAuditReporter(client(), () => 'Dr Ama Mensah', log);
    const sops = Array.from({ length: 10_002 }, (_, i) => `${STUDY}.5.${i + 1}`);
    await report(deliveryAuditRecord({ jobId: 'job-3', siteId: 'hospital-a', siteName: 'Hospital A', kind: 'referral', label: 'Referral — CT', studyInstanceUID: STUDY, sopInstanceUIDs: sops }));
    const sent = await services.audit.query({ action: 'outbox.send' }, { offset: 0, limit: 10 });
    expect(sent.events[0]).toMatchObject({ outcome: 'success', siteId: 'hospital-a', studyInstanceUID: STUDY, reason: '10002 instances, the first 10000 listed' });
    expect(sent.events[0]?.sopInstanceUIDs).toHaveLength(10_000);
  });
});
