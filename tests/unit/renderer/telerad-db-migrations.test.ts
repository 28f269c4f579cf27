import 'fake-indexeddb/auto';
import Dexie from 'dexie';
import { afterEach, describe, expect, it } from 'vitest';
import { SEALING_POLICY, TELERAD_DB_SCHEMA_V9, TELERAD_DB_SCHEMA_V8, TELERAD_DB_SCHEMA_V7, TELERAD_DB_SCHEMA_V6, TELERAD_DB_SCHEMA_V1, TELERAD_DB_SCHEMA_V2, TELERAD_DB_SCHEMA_V3, TELERAD_DB_SCHEMA_V4, TELERAD_DB_SCHEMA_V5, TELERAD_DB_VERSION, TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { testRowSealer } from '../../support/test-sealer';
import { SEALED_FIELD, createSealingMiddleware } from '../../../src/renderer/cache/sealing/sealing-middleware';
import { sealExistingRows } from '../../../src/renderer/cache/sealing/seal-existing-rows';
import { createLogger } from '../../../src/shared/log';

// One test per migration: a database written by the previous schema version
// opens under the current one with every row intact.
let names: string[] = [];
afterEach(async () => {
  for (const n of names) await Dexie.delete(n);
  names = [];
});

describe('TeleradDB migrations', () => {
  it('v1 → v2 keeps cached studies, instances and their bytes, and adds empty referral and capability tables', async () => {
    const name = `migrate-v1-v2-${Math.random()}`;
    names.push(name);
    const v1 = new Dexie(name);
    v1.version(1).stores(TELERAD_DB_SCHEMA_V1);
    await v1.table('studies').put({
      studyInstanceUID: '1.2.3',
      siteId: 'hospital-a',
      patientName: 'DOE, JANE',
      patientId: 'P1',
      studyDate: '20261120',
      modalities: ['CT'],
      description: 'CT CHEST',
      numInstances: 1,
      complete: true,
      storedAt: 1,
    });
    await v1.table('instances').put({ sopInstanceUID: '1.2.3.1', studyInstanceUID: '1.2.3', seriesInstanceUID: '1.2.3.0', size: 3, sha256: 'x', transferSyntaxUID: '1.2.840.10008.1.2.1', storedAt: 1 });
    await v1.table('instanceBytes').put({ sopInstanceUID: '1.2.3.1', bytes: new Uint8Array([1, 2, 3]).buffer });
    v1.close();

    const db = new TeleradDB(name, { sealer: testRowSealer() });
    await db.open();
    expect(db.verno).toBeGreaterThanOrEqual(2);
    expect((await db.studies.get('1.2.3'))?.complete).toBe(true);
    expect((await db.instances.get('1.2.3.1'))?.size).toBe(3);
    expect(new Uint8Array((await db.instanceBytes.get('1.2.3.1'))!.bytes)).toEqual(new Uint8Array([1, 2, 3]));
    expect(await db.referrals.count()).toBe(0);
    await db.siteCapabilities.put({ siteId: 'hospital-a', jpegLsLossless: true, probedAt: 2 });
    expect((await db.siteCapabilities.get('hospital-a'))?.jpegLsLossless).toBe(true);
    db.close();
  });

  it('v2 → v3 keeps studies, referrals and bytes, and back-fills stored bytes and last access for eviction', async () => {
    const name = `migrate-v2-v3-${Math.random()}`;
    names.push(name);
    const v2 = new Dexie(name);
    v2.version(1).stores(TELERAD_DB_SCHEMA_V1);
    v2.version(2).stores(TELERAD_DB_SCHEMA_V2);
    const study = (uid: string, extra: object): object => ({
      studyInstanceUID: uid, siteId: 'a', patientName: 'X', patientId: 'P', studyDate: '20261120', modalities: ['CT'],
      description: '', numInstances: 2, complete: true, storedAt: 100, ...extra,
    });
    await v2.table('studies').bulkPut([study('1.1', { lastOpenedAt: 500 }), study('1.2', {})]);
    await v2.table('instances').bulkPut([
      { sopInstanceUID: '1.1.1', studyInstanceUID: '1.1', seriesInstanceUID: 's', size: 1000, sha256: 'x', transferSyntaxUID: 't', storedAt: 1 },
      { sopInstanceUID: '1.1.2', studyInstanceUID: '1.1', seriesInstanceUID: 's', size: 24, sha256: 'y', transferSyntaxUID: 't', storedAt: 1 },
    ]);
    await v2.table('instanceBytes').put({ sopInstanceUID: '1.1.1', bytes: new Uint8Array(1000).buffer });
    await v2.table('referrals').put({ studyInstanceUID: '1.1', siteId: 'a', priority: 'STAT', attachments: [], hasReport: false, fetchedAt: 1 });
    v2.close();

    const db = new TeleradDB(name, { sealer: testRowSealer() });
    await db.open();
    expect(db.verno).toBeGreaterThanOrEqual(3);
    const s1 = await db.studies.get('1.1');
    expect(s1).toMatchObject({ complete: true, storedBytes: 1024, lastAccessedAt: 500 });
    expect(await db.studies.get('1.2')).toMatchObject({ storedBytes: 0, lastAccessedAt: 100 });
    expect((await db.referrals.get('1.1'))?.priority).toBe('STAT');
    expect((await db.instanceBytes.get('1.1.1'))?.bytes.byteLength).toBe(1000);
    expect(await db.prefetchMarks.count()).toBe(0);
    await db.cacheSettings.put({ key: 'budgetBytes', value: 5e9 });
    expect((await db.cacheSettings.get('budgetBytes'))?.value).toBe(5e9);
    db.close();
  });

  it('v3 → v4 keeps studies, settings and bytes, and adds empty annotation and key-image tables', async () => {
    const name = `migrate-v3-v4-${Math.random()}`;
    names.push(name);
    const v3 = new Dexie(name);
    v3.version(1).stores(TELERAD_DB_SCHEMA_V1);
    v3.version(2).stores(TELERAD_DB_SCHEMA_V2);
    v3.version(3).stores(TELERAD_DB_SCHEMA_V3);
    await v3.table('studies').put({
      studyInstanceUID: '1.1', siteId: 'a', patientName: 'X', patientId: 'P', studyDate: '20261120', modalities: ['CT'],
      description: '', numInstances: 1, complete: true, storedAt: 100, pinned: true, lastAccessedAt: 200, storedBytes: 10,
    });
    await v3.table('instanceBytes').put({ sopInstanceUID: '1.1.1', bytes: new Uint8Array(10).buffer });
    await v3.table('cacheSettings').put({ key: 'budgetBytes', value: 7e9 });
    v3.close();

    const db = new TeleradDB(name, { sealer: testRowSealer() });
    await db.open();
    expect(db.verno).toBe(TELERAD_DB_VERSION);
    expect(await db.studies.get('1.1')).toMatchObject({ pinned: true, lastAccessedAt: 200, storedBytes: 10 });
    expect((await db.instanceBytes.get('1.1.1'))?.bytes.byteLength).toBe(10);
    expect((await db.cacheSettings.get('budgetBytes'))?.value).toBe(7e9);
    expect(await db.annotations.count()).toBe(0);
    await db.annotations.put({
      id: 'u1', studyInstanceUID: '1.1', seriesInstanceUID: 's', sopInstanceUID: '1.1.1', tool: 'Length',
      data: { handles: {} }, author: 'me', createdAt: 1, updatedAt: 1,
    });
    expect(await db.annotations.where('sopInstanceUID').equals('1.1.1').count()).toBe(1);
    expect(await db.keyImages.count()).toBe(0);
    db.close();
  });

  it('v4 → v5 keeps annotations, key images and bytes, and adds empty report, draft, outbox and profile tables', async () => {
    const name = `migrate-v4-v5-${Math.random()}`;
    names.push(name);
    const v4 = new Dexie(name);
    v4.version(1).stores(TELERAD_DB_SCHEMA_V1);
    v4.version(2).stores(TELERAD_DB_SCHEMA_V2);
    v4.version(3).stores(TELERAD_DB_SCHEMA_V3);
    v4.version(4).stores(TELERAD_DB_SCHEMA_V4);
    await v4.table('annotations').put({
      id: 'u1', studyInstanceUID: '1.1', seriesInstanceUID: 's', sopInstanceUID: '1.1.1', tool: 'Length',
      data: { handles: { start: { x: 1, y: 2 }, end: { x: 3, y: 4 } } }, author: 'me', createdAt: 1, updatedAt: 2,
    });
    await v4.table('keyImages').put({ sopInstanceUID: '1.1.1', studyInstanceUID: '1.1', seriesInstanceUID: 's', author: 'me', createdAt: 3 });
    await v4.table('instanceBytes').put({ sopInstanceUID: '1.1.1', bytes: new Uint8Array(12).buffer });
    v4.close();

    const db = new TeleradDB(name, { sealer: testRowSealer() });
    await db.open();
    expect(db.verno).toBe(TELERAD_DB_VERSION);
    expect(await db.annotations.get('u1')).toMatchObject({ tool: 'Length', data: { handles: { end: { x: 3, y: 4 } } }, updatedAt: 2 });
    expect(await db.keyImages.get('1.1.1')).toMatchObject({ studyInstanceUID: '1.1', createdAt: 3 });
    expect((await db.instanceBytes.get('1.1.1'))?.bytes.byteLength).toBe(12);
    expect(await db.reportDrafts.count()).toBe(0);
    expect(await db.reports.count()).toBe(0);
    expect(await db.outboxJobs.count()).toBe(0);
    expect(await db.userProfile.count()).toBe(0);
    await db.outboxJobs.put({
      id: 'j1', siteId: 'a', studyInstanceUID: '1.1', kind: 'report', reportId: 'r1', label: 'Report', instances: [],
      state: 'queued', attempts: 0, nextAttemptAt: 10, uncertain: false, createdAt: 1, updatedAt: 1,
    });
    expect(await db.outboxJobs.where('state').equals('queued').count()).toBe(1);
    db.close();
  });

  it('v5 → v6 keeps drafts, signed reports and outbox jobs with their bytes, and adds empty referral-case tables', async () => {
    const name = `migrate-v5-v6-${Math.random()}`;
    names.push(name);
    const v5 = new Dexie(name);
    v5.version(1).stores(TELERAD_DB_SCHEMA_V1);
    v5.version(2).stores(TELERAD_DB_SCHEMA_V2);
    v5.version(3).stores(TELERAD_DB_SCHEMA_V3);
    v5.version(4).stores(TELERAD_DB_SCHEMA_V4);
    v5.version(5).stores(TELERAD_DB_SCHEMA_V5);
    const content = { templateId: 'ct', sections: { findings: 'No acute finding.' }, priority: 'routine', measurementIds: [], keyImageSopInstanceUIDs: [] };
    await v5.table('reportDrafts').put({ id: 'd1', studyInstanceUID: '1.1', siteId: 'a', kind: 'report', content, createdAt: 1, updatedAt: 2 });
    await v5.table('outboxJobs').put({
      id: 'j1', siteId: 'a', studyInstanceUID: '1.1', kind: 'report', reportId: 'r1', label: 'Report',
      instances: [{ sopInstanceUID: '9.1', sopClassUID: '1.2.840.10008.5.1.4.1.1.88.33', seriesInstanceUID: '9', bytes: new Uint8Array(7).buffer, state: 'pending' }],
      state: 'sending', attempts: 1, nextAttemptAt: 10, uncertain: false, createdAt: 1, updatedAt: 1,
    });
    await v5.table('userProfile').put({ id: 'me', name: 'Dr A', credentials: 'MD' });
    v5.close();

    const db = new TeleradDB(name, { sealer: testRowSealer() });
    await db.open();
    expect(db.verno).toBe(TELERAD_DB_VERSION);
    expect((await db.reportDrafts.get('d1'))?.content.sections).toEqual({ findings: 'No acute finding.' });
    const job = await db.outboxJobs.get('j1');
    expect(job).toMatchObject({ state: 'sending', attempts: 1 });
    expect(job?.instances[0]?.bytes.byteLength).toBe(7);
    expect((await db.userProfile.get('me'))?.credentials).toBe('MD');
    expect(await db.referralCases.count()).toBe(0);
    expect(await db.deidMappings.count()).toBe(0);
    expect(await db.caseNotes.count()).toBe(0);
    db.close();
  });

  it('v6 → v7 keeps a referral case, its notes and a report draft readable in clear until the sealing pass, and adds the sealing state', async () => {
    const name = `migrate-v6-v7-${Math.random()}`;
    names.push(name);
    const v6 = new Dexie(name);
    v6.version(6).stores(TELERAD_DB_SCHEMA_V6);
    const content = { templateId: 'xr', sections: { impression: 'Healing fracture.' }, priority: 'routine', measurementIds: [], keyImageSopInstanceUIDs: [] };
    await v6.table('reportDrafts').put({ id: 'd1', studyInstanceUID: '1.1', siteId: 'a', kind: 'report', content, createdAt: 1, updatedAt: 2 });
    await v6.table('referralCases').put({ id: 'c1', localStudyInstanceUID: '2.2', patient: { name: 'DOE^JOHN', id: 'P9' }, clinicalQuestion: 'Fracture?', state: 'draft', updatedAt: 3 });
    await v6.table('caseNotes').put({ sopInstanceUID: '3.3', studyInstanceUID: '2.2', siteId: 'a', kind: 'referral', outboxJobId: 'j', author: 'Dr B', createdAt: 4 });
    v6.close();

    const db = new TeleradDB(name, { sealer: testRowSealer() });
    await db.open();
    expect(db.verno).toBe(TELERAD_DB_VERSION);
    expect((await db.reportDrafts.get('d1'))?.content.sections).toEqual({ impression: 'Healing fracture.' });
    expect(await db.referralCases.get('c1')).toMatchObject({ clinicalQuestion: 'Fracture?', patient: { name: 'DOE^JOHN' } });
    expect((await db.caseNotes.get('3.3'))?.author).toBe('Dr B');
    expect(await db.sealing.get('rows')).toBeUndefined();
    db.close();
  });

  it('v7 → v8 keeps sealed drafts and the sealing state, and adds an empty table for the thread composer\'s unsent text', async () => {
    const name = `migrate-v7-v8-${Math.random()}`;
    names.push(name);
    // A v7 database written through the sealing layer, as the app wrote it.
    const sealer = testRowSealer();
    const v7 = new Dexie(name);
    v7.version(7).stores(TELERAD_DB_SCHEMA_V7);
    v7.use(createSealingMiddleware(SEALING_POLICY, sealer));
    const content = { templateId: 'mr', sections: { findings: 'Disc protrusion L4/5.' }, priority: 'routine', measurementIds: [], keyImageSopInstanceUIDs: [] };
    await v7.table('reportDrafts').put({ id: 'd7', studyInstanceUID: '7.7', siteId: 'a', kind: 'report', content, createdAt: 1, updatedAt: 2 });
    await v7.table('sealing').put({ id: 'rows', keyId: sealer.keyId, sealedAt: 3, rows: 1 });
    v7.close();

    const db = new TeleradDB(name, { sealer });
    await db.open();
    expect(db.verno).toBe(TELERAD_DB_VERSION);
    expect((await db.reportDrafts.get('d7'))?.content.sections).toEqual({ findings: 'Disc protrusion L4/5.' });
    expect((await db.sealing.get('rows'))?.keyId).toBe(sealer.keyId);
    expect(await db.composeDrafts.count()).toBe(0);
    db.close();
  });

  it('v8 → v9 keeps a partly cached study, its sealed instance and a draft, and adds empty instance-list and preview tables', async () => {
    const name = `migrate-v8-v9-${Math.random()}`;
    names.push(name);
    const sealer = testRowSealer();
    const v8 = new Dexie(name);
    v8.version(8).stores(TELERAD_DB_SCHEMA_V8);
    v8.use(createSealingMiddleware(SEALING_POLICY, sealer));
    await v8.table('studies').put({ studyInstanceUID: '9.9', siteId: 'a', patientName: 'ROE^RAY', patientId: 'P1', studyDate: '20260101', modalities: ['CT'], description: 'CT', numInstances: 2, complete: false, storedAt: 1, storedBytes: 3 });
    await v8.table('instances').put({ sopInstanceUID: '9.9.1', studyInstanceUID: '9.9', seriesInstanceUID: '9.9.0', size: 3, sha256: 'x', transferSyntaxUID: '1.2.840.10008.1.2.4.80', storedAt: 1 });
    await v8.table('instanceBytes').put({ sopInstanceUID: '9.9.1', bytes: new Uint8Array([1, 2, 3]).buffer });
    const content = { templateId: 'ct', sections: { findings: 'No change.' }, priority: 'routine', measurementIds: [], keyImageSopInstanceUIDs: [] };
    await v8.table('reportDrafts').put({ id: 'd8', studyInstanceUID: '9.9', siteId: 'a', kind: 'report', content, createdAt: 1, updatedAt: 2 });
    v8.close();

    const db = new TeleradDB(name, { sealer });
    await db.open();
    expect(db.verno).toBe(TELERAD_DB_VERSION);
    expect(await db.studies.get('9.9')).toMatchObject({ patientName: 'ROE^RAY', complete: false, numInstances: 2 });
    expect(new Uint8Array((await db.instanceBytes.get('9.9.1'))!.bytes)).toEqual(new Uint8Array([1, 2, 3]));
    expect((await db.reportDrafts.get('d8'))?.content.sections).toEqual({ findings: 'No change.' });
    expect(await db.studyListings.count()).toBe(0);
    expect(await db.instancePreviews.count()).toBe(0);
    db.close();
  });

  it('v9 → v10 adds the row version registry, drops the referral case UID indexes, keeps v2-sealed rows readable, and re-seals them with AAD at the next unlock', async () => {
    const name = `migrate-v9-v10-${Math.random()}`;
    names.push(name);
    const sealer = testRowSealer();
    const v9 = new Dexie(name);
    v9.version(9).stores(TELERAD_DB_SCHEMA_V9);
    v9.use(createSealingMiddleware(SEALING_POLICY, sealer));
    const content = { templateId: 'ct', sections: { findings: 'Stable.' }, priority: 'routine', measurementIds: [], keyImageSopInstanceUIDs: [] };
    await v9.table('reportDrafts').put({ id: 'd9', studyInstanceUID: '9.1', siteId: 'a', kind: 'report', content, createdAt: 1, updatedAt: 2 });
    await v9.table('deidMappings').put({ caseId: 'c9', sentStudyInstanceUID: '2.25.99', mapping: { '9.1': '2.25.99' }, createdAt: 3 });
    await v9.table('sealing').put({ id: 'rows', keyId: sealer.keyId, sealedAt: 3, rows: 2 });
    v9.close();

    const db = new TeleradDB(name, { sealer });
    await db.open();
    expect(db.verno).toBe(TELERAD_DB_VERSION);
    expect(db.tables.map((t) => t.name)).toContain('rowVersions');
    expect(db.referralCases.schema.indexes.map((i) => i.name).sort()).toEqual(['state', 'updatedAt']);
    expect(db.deidMappings.schema.indexes).toEqual([]);
    expect(db.sealingState?.strict).toBe(false);
    expect((await db.reportDrafts.get('d9'))?.content.sections).toEqual({ findings: 'Stable.' });
    expect(await sealExistingRows(db, { log: createLogger('test', () => undefined), now: () => 4 })).toBe(2);
    expect(db.sealingState?.strict).toBe(true);
    expect((await db.deidMappings.get('c9'))?.sentStudyInstanceUID).toBe('2.25.99');
    expect((await db.sealing.get('rows'))?.format).toBe(3);
    db.close();

    const raw = new Dexie(name);
    raw.version(10).stores({ ...TELERAD_DB_SCHEMA_V9, referralCases: 'id, state, updatedAt', deidMappings: 'caseId', rowVersions: 'id' });
    const mapping = (await raw.table('deidMappings').get('c9')) as Record<string, unknown>;
    raw.close();
    expect(mapping.sentStudyInstanceUID).toBeUndefined();
    expect(new Uint8Array((mapping[SEALED_FIELD] as { c: ArrayBuffer }).c)[0]).toBe(3);
  });
});
