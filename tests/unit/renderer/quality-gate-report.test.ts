// Signing a report acknowledges the study's quality findings (issue 8): with
// warnings or blockers, no tick, no signature; the tick is kept on the report.
import 'fake-indexeddb/auto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { dicomParser } from '../../../src/renderer/lib/dicom/dicom-parser';
import { createQualityService } from '../../../src/renderer/quality/study-quality';
import { buildReportInstances } from '../../../src/renderer/lib/dicom/report-dicom';
import { createReportPanelStore } from '../../../src/renderer/reports/report-panel-store';
import type { ReportPanelStore } from '../../../src/renderer/reports/report-panel-store';
import { QualityAcknowledgementRequiredError, createReportRepo, qualityFindingLabel } from '../../../src/renderer/reports/report-repo';
import type { ReportRepo } from '../../../src/renderer/reports/report-repo';
import { createStudyReportObserver } from '../../../src/renderer/reports/report-status';
import { studyContextFromPart10 } from '../../../src/renderer/lib/dicom/study-context';
import { writeSeriesFiles } from '../../fixtures/quality-dicom';
import type { SeriesFileOptions } from '../../fixtures/quality-dicom';
import { testRowSealer } from '../../support/test-sealer';
import { createOutboxEnqueue } from '../../../src/renderer/outbox/outbox-enqueue';
import { deleteDbsAfterEach } from '../../support/test-dbs';

const dirs: string[] = [];
const dbs = deleteDbsAfterEach();
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Setup {
  db: TeleradDB;
  repo: ReportRepo;
  store: ReportPanelStore;
  studyUID: string;
  draftId: string;
}

/** A cached series written with `o`, a profile, a repo and panel with the quality service, and a draft with an impression. */
async function setup(o: SeriesFileOptions): Promise<Setup> {
  const db = new TeleradDB(`quality-gate-report-${Math.random()}`, { sealer: testRowSealer() });
  dbs.push(db);
  const cache = new StudyCache(db, Date.now);
  const dir = mkdtempSync(path.join(tmpdir(), 'telerad-gate-report-'));
  dirs.push(dir);
  const { seriesInstanceUID, files } = writeSeriesFiles(dir, o);
  let studyUID = '';
  for (const file of files) {
    const b = readFileSync(file);
    const bytes = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    const ds = dicomParser.parseDicom(new Uint8Array(bytes));
    studyUID = ds.string('x0020000d')!;
    await cache.putInstance(
      { sopInstanceUID: ds.string('x00080018')!, studyInstanceUID: studyUID, seriesInstanceUID, instanceNumber: Number(ds.string('x00200013')), transferSyntaxUID: ds.string('x00020010')! },
      bytes,
    );
  }
  const log = createLogger('test', memorySink());
  const quality = createQualityService({ readInstanceBytes: (sop) => cache.readInstanceBytes(sop), listStudyInstances: (uid) => cache.getStudyInstances(uid), log });
  const repo = createReportRepo({
    db,
    readInstanceBytes: (uid) => cache.readInstanceBytes(uid),
    buildReportInstances,
    studyContextFromPart10,
    enqueueOutboxJob: createOutboxEnqueue(() => undefined),
    now: Date.now,
    randomUUID: () => crypto.randomUUID(),
    log,
    checkStudyQuality: (uid) => quality.checkStudy(uid),
  });
  await repo.saveProfile({ name: 'Ada Lovelace', credentials: 'MD, FRCR' });
  const draft = await repo.createDraft({ studyInstanceUID: studyUID, siteId: 'a', templateId: 'mr' });
  await repo.saveDraft(draft.id, { ...draft.content, sections: { ...draft.content.sections, impression: 'No acute finding.' } }, Date.now() + 10_000);
  const store = createReportPanelStore({
    repo,
    observe: createStudyReportObserver(db),
    clinicalQuestion: async () => undefined,
    measurementLines: async (a) => a.map((x) => x.tool),
    loadLocalPdf: async () => new Uint8Array(),
    loadSitePdf: async () => new Uint8Array(),
    now: Date.now,
    log,
  });
  return { db, repo, store, studyUID, draftId: draft.id };
}

const WARNINGS: SeriesFileOptions = { modality: 'MR', slices: 4, size: 64, uncalibrated: true, encode: 'jpeg-extended' };

describe('quality acknowledgement before signing', () => {
  it('refuses to sign a study with warnings until they are acknowledged, then records who acknowledged which', async () => {
    const s = await setup(WARNINGS);
    const refusal = await s.repo.sign(s.draftId).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(QualityAcknowledgementRequiredError);
    const shown = (refusal as QualityAcknowledgementRequiredError).findings;
    expect(shown.map((f) => f.checkId)).toEqual(expect.arrayContaining(['suitability.lossy', 'suitability.calibration']));
    expect((refusal as Error).message).toMatch(/I have seen these quality findings/);
    expect(await s.db.reports.count()).toBe(0);
    expect(await s.db.reportDrafts.get(s.draftId)).toBeDefined();

    // A partial acknowledgement is no acknowledgement.
    const labels = [...new Set(shown.map(qualityFindingLabel))];
    await expect(s.repo.sign(s.draftId, { acknowledgedQuality: labels.slice(1) })).rejects.toBeInstanceOf(QualityAcknowledgementRequiredError);

    const before = Date.now();
    const report = await s.repo.sign(s.draftId, { acknowledgedQuality: labels });
    const stored = await s.db.reports.get(report.id);
    expect(stored?.qualityAcknowledged?.findings.sort()).toEqual([...labels].sort());
    expect(stored?.qualityAcknowledged?.findings).toContain(`warning: ${shown.find((f) => f.checkId === 'suitability.lossy')!.title}`);
    expect(stored?.qualityAcknowledged?.by).toBe('Ada Lovelace');
    expect(stored!.qualityAcknowledged!.at).toBeGreaterThanOrEqual(before);
  });

  it('the panel lists the findings after a refused sign and signs once "I have seen these quality findings" is ticked', async () => {
    const s = await setup(WARNINGS);
    s.store.open({ site: undefined, siteId: 'a', studyInstanceUID: s.studyUID, modalities: ['MR'], description: 'MR' });
    await expect.poll(() => s.store.getState().draft?.id).toBe(s.draftId);

    await s.store.sign();
    expect(s.store.getState().error).toMatch(/Not signed: .*I have seen these quality findings/);
    expect(s.store.getState().quality?.findings.map((f) => f.checkId)).toEqual(expect.arrayContaining(['suitability.lossy', 'suitability.calibration']));
    expect(s.store.getState().quality?.acknowledged).toBe(false);
    expect(await s.db.reports.count()).toBe(0);

    s.store.acknowledgeQuality(true);
    await s.store.sign();
    expect(s.store.getState().error).toBeUndefined();
    const [report] = await s.db.reports.toArray();
    expect(report?.qualityAcknowledged?.findings.length).toBeGreaterThanOrEqual(2);
    expect(s.store.getState().quality).toBeUndefined();
  });

  it('signs a study without findings at once, with no acknowledgement recorded', async () => {
    const s = await setup({ modality: 'MR', slices: 4, size: 64 });
    const report = await s.repo.sign(s.draftId);
    expect((await s.db.reports.get(report.id))?.qualityAcknowledged).toBeUndefined();
  });
});
