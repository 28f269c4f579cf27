import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { createLogger, memorySink } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { ReportContent } from '../../../src/renderer/cache/telerad-db';
import { createReportPanelStore } from '../../../src/renderer/reports/report-panel-store';
import type { ReportPanelStore } from '../../../src/renderer/reports/report-panel-store';
import { createReportRepo } from '../../../src/renderer/reports/report-repo';
import type { ReportRepo } from '../../../src/renderer/reports/report-repo';
import { createStudyReportObserver } from '../../../src/renderer/reports/report-status';
import { testRowSealer } from '../../support/test-sealer';
import { createOutboxEnqueue } from '../../../src/renderer/outbox/outbox-enqueue';
import { deleteDbsAfterEach } from '../../support/test-dbs';

const dbs = deleteDbsAfterEach();

const STUDY = '1.2.3.4';
const noBuild = (): never => {
  throw new Error('not signing in this test');
};

/** The panel over a real (fake-indexeddb) repo, with every saveDraft call recorded and optionally held back. */
function setup(opts: { autosaveMs: number }): { db: TeleradDB; repo: ReportRepo; store: ReportPanelStore; saves: string[]; hold: { next?: Promise<void> } } {
  const db = new TeleradDB(`report-autosave-${Math.random()}`, { sealer: testRowSealer() });
  dbs.push(db);
  const real = createReportRepo({
    db,
    readInstanceBytes: async () => undefined,
    buildReportInstances: noBuild,
    studyContextFromPart10: noBuild,
    enqueueOutboxJob: createOutboxEnqueue(() => undefined),
    now: Date.now,
    randomUUID: () => crypto.randomUUID(),
    log: createLogger('t', memorySink()),
  });
  const saves: string[] = [];
  const hold: { next?: Promise<void> } = {};
  const repo: ReportRepo = {
    ...real,
    async saveDraft(id, content: ReportContent, updatedAt) {
      saves.push(content.sections['findings'] ?? '');
      const wait = hold.next;
      hold.next = undefined;
      if (wait) await wait;
      return real.saveDraft(id, content, updatedAt);
    },
  };
  const store = createReportPanelStore({
    repo,
    observe: createStudyReportObserver(db),
    clinicalQuestion: async () => undefined,
    measurementLines: async (a) => a.map((x) => x.tool),
    loadLocalPdf: noBuild,
    loadSitePdf: noBuild,
    autosaveMs: opts.autosaveMs,
    now: Date.now,
    log: createLogger('t', memorySink()),
  });
  return { db, repo, store, saves, hold };
}

async function openWithDraft(store: ReportPanelStore): Promise<void> {
  store.open({ site: undefined, siteId: 'a', studyInstanceUID: STUDY, modalities: ['CT'], description: 'CT CHEST' });
  await expect.poll(() => store.getState().phase).toBe('ready');
  await store.startReport();
  expect(store.getState().draft?.content.templateId).toBe('ct');
}

describe('draft autosave', () => {
  it('typing a burst of keystrokes writes once, after the pause, with the last text', async () => {
    const { db, store, saves } = setup({ autosaveMs: 80 });
    await openWithDraft(store);
    for (const text of ['N', 'No', 'No a', 'No acute', 'No acute finding.']) store.editSection('findings', text);
    expect(store.getState().save.phase).toBe('dirty');
    expect(saves).toEqual([]);
    await expect.poll(() => store.getState().save.phase).toBe('saved');
    expect(saves).toEqual(['No acute finding.']);
    const [stored] = await db.reportDrafts.where('studyInstanceUID').equals(STUDY).toArray();
    expect(stored!.content.sections['findings']).toBe('No acute finding.');
  });

  it('a slow save finishing after newer typing neither claims "Saved" nor leaves the older text stored', async () => {
    const { db, store, saves, hold } = setup({ autosaveMs: 10_000 });
    await openWithDraft(store);
    let release!: () => void;
    hold.next = new Promise<void>((r) => (release = r));
    // Every time the panel says "Saved", the text on screen must be what is stored.
    const claimedSaved: string[] = [];
    store.subscribe(() => {
      const s = store.getState();
      if (s.save.phase === 'saved') claimedSaved.push(s.draft?.content.sections['findings'] ?? '');
    });
    store.editSection('findings', 'first');
    const flushed = store.flush();
    await expect.poll(() => store.getState().save.phase).toBe('saving');
    store.editSection('findings', 'first and second');
    let releaseSecond!: () => void;
    hold.next = new Promise<void>((r) => (releaseSecond = r));
    release();
    // The first save has landed and the second is held: "first" is stored, "first and second" on screen.
    await expect.poll(() => saves.length).toBe(2);
    expect(store.getState().save.phase).not.toBe('saved');
    expect(claimedSaved).toEqual([]);
    releaseSecond();
    await flushed;
    expect(store.getState().save.phase).toBe('saved');
    expect(claimedSaved.length).toBeGreaterThan(0);
    expect(claimedSaved.every((t) => t === 'first and second')).toBe(true);
    expect(saves).toEqual(['first', 'first and second']);
    const [stored] = await db.reportDrafts.where('studyInstanceUID').equals(STUDY).toArray();
    expect(stored!.content.sections['findings']).toBe('first and second');
  });

  it('the repository refuses a save older than the stored draft', async () => {
    const { repo, store } = setup({ autosaveMs: 10_000 });
    await openWithDraft(store);
    const draft = store.getState().draft!;
    expect(await repo.saveDraft(draft.id, { ...draft.content, sections: { findings: 'new' } }, draft.updatedAt + 100)).toBe('saved');
    expect(await repo.saveDraft(draft.id, { ...draft.content, sections: { findings: 'old' } }, draft.updatedAt + 50)).toBe('stale');
    expect(await repo.saveDraft('no-such-draft', draft.content, draft.updatedAt + 200)).toBe('gone');
  });

  it('a draft survives a reload: a new store on the same database continues it', async () => {
    const { db, store } = setup({ autosaveMs: 10_000 });
    await openWithDraft(store);
    store.editSection('findings', 'Typed before the crash.');
    await store.flush();
    const again = createReportPanelStore({
      repo: createReportRepo({
        db,
        readInstanceBytes: async () => undefined,
        buildReportInstances: noBuild,
        studyContextFromPart10: noBuild,
        enqueueOutboxJob: createOutboxEnqueue(() => undefined),
        now: Date.now,
        randomUUID: () => crypto.randomUUID(),
        log: createLogger('t', memorySink()),
      }),
      observe: createStudyReportObserver(db),
      clinicalQuestion: async () => undefined,
      measurementLines: async () => [],
      loadLocalPdf: noBuild,
      loadSitePdf: noBuild,
      now: Date.now,
      log: createLogger('t', memorySink()),
    });
    again.open({ site: undefined, siteId: 'a', studyInstanceUID: STUDY, modalities: ['CT'], description: 'CT CHEST' });
    await expect.poll(() => again.getState().draft?.content.sections['findings']).toBe('Typed before the crash.');
  });
});
