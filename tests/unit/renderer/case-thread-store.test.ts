// @vitest-environment node
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import { createLogger, memorySink } from '../../../src/shared/log';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { buildCaseNote } from '../../../src/renderer/lib/dicom/case-note-dicom';
import type { CaseNoteInput } from '../../../src/renderer/lib/dicom/case-note-types';
import { pdfToDicom, photoToDicom } from '../../../src/renderer/case-import/attachments-to-dicom';
import { loadDcmjs } from '../../../src/renderer/lib/dicom/dcmjs-runtime';
import { isReportSr, readReportSr } from '../../../src/renderer/lib/dicom/report-sr-reader';
import { studyContextFromPart10 } from '../../../src/renderer/lib/dicom/study-context';
import { uuidToDicomUid } from '../../../src/renderer/lib/dicom/uid';
import { ThreadActionRefused, createThreadActions } from '../../../src/renderer/case-thread/thread-actions';
import type { ThreadActions } from '../../../src/renderer/case-thread/thread-actions';
import { createCaseThreadStore } from '../../../src/renderer/case-thread/thread-store';
import type { CaseThreadState, CaseThreadStore } from '../../../src/renderer/case-thread/thread-store';
import { generateReferralNote } from '../../fixtures/referral-packet';
import { cameraJpeg } from '../../fixtures/case-import-attachments';
import { fakeSite } from '../../support/fake-sr-site';
import type { SiteObject } from '../../support/fake-sr-site';
import { testRowSealer } from '../../support/test-sealer';
import { createOutboxEnqueue } from '../../../src/renderer/outbox/outbox-enqueue';
import { deleteDbsAfterEach } from '../../support/test-dbs';

const STUDY = { studyInstanceUID: '1.2.826.0.1.3680043.8.498.4711', patientName: 'DLAMINI^NOMSA', patientId: 'CASE-8', studyDescription: 'HAND XR' };
const SITE: SiteSummary = { id: 'clinic', name: 'Clinic', url: 'http://pacs.invalid', authType: 'none', gatewayPath: '/sites/clinic/dicom-web' };
const SPECIALIST = { name: 'Amara Nwosu', credentials: 'FCRad' };
const log = createLogger('test', memorySink());
const HOUR = 3_600_000;

const dbs = deleteDbsAfterEach();

interface Setup {
  db: TeleradDB;
  cache: StudyCache;
  site: SiteObject[];
  down: { value: boolean };
  actions: ThreadActions;
  wakes: { count: number; atWake: { jobs: number; notes: number }[] };
  clock: { t: number };
  store: () => CaseThreadStore;
}

/** A referrer's workstation with the referral packet cached (as the viewer leaves it) and a site holding the referral note. */
async function setup(t0: number): Promise<Setup> {
  const db = new TeleradDB(`thread-${Math.random()}`, { sealer: testRowSealer() });
  dbs.push(db);
  const cache = new StudyCache(db, Date.now);
  const referral = generateReferralNote({ ...STUDY, priority: 'urgent', clinicalQuestion: 'Scaphoid fracture?' });
  // As the viewer's retrieval leaves a study: series records (modality) and instances.
  await cache.putSeries([{ seriesInstanceUID: referral.seriesInstanceUID, studyInstanceUID: STUDY.studyInstanceUID, modality: 'SR', description: 'Referral note' }]);
  await cache.putInstance({ sopInstanceUID: referral.sopInstanceUID, studyInstanceUID: STUDY.studyInstanceUID, seriesInstanceUID: referral.seriesInstanceUID, transferSyntaxUID: '1.2.840.10008.1.2.1' }, referral.bytes.slice().buffer);
  await db.userProfile.put({ id: 'me', name: 'Thabo Mbeki', credentials: 'MBChB' });
  const site: SiteObject[] = [referral];
  const down = { value: false };
  const clock = { t: t0 };
  const wakes = { count: 0, atWake: [] as { jobs: number; notes: number }[] };
  const actions = createThreadActions({
    db,
    readInstanceBytes: (uid) => cache.readInstanceBytes(uid),
    studyContextFromPart10,
    buildCaseNote,
    async attachments() {
      const dcmjs = await loadDcmjs();
      return { photo: (b, m, ctx) => photoToDicom(b, m, ctx, { dcmjs }), pdf: (b, ctx) => pdfToDicom(b, ctx, { dcmjs }) };
    },
    cache,
    enqueueOutboxJob: createOutboxEnqueue(() => {
      wakes.count++;
      // What the outbox would find at the moment it is woken.
      void Promise.all([db.outboxJobs.count(), db.caseNotes.count()]).then(([jobs, notes]) => wakes.atWake.push({ jobs, notes }));
    }),
    now: () => clock.t,
    randomUUID: () => crypto.randomUUID(),
    log,
  });
  const store = (): CaseThreadStore => createCaseThreadStore({ db, dicomweb: () => fakeSite(site, down), cache, isReportSr, readReportSr, log });
  return { db, cache, site, down, actions, wakes, clock, store };
}

/** The specialist's question, as it reaches the site from the other workstation. */
async function questionAtSite(s: Setup, at: number): Promise<SiteObject> {
  const input: CaseNoteInput = {
    kind: 'consult',
    status: 'more-info-needed',
    question: 'Is there snuffbox tenderness?',
    study: { ...STUDY },
    sopInstanceUID: uuidToDicomUid(crypto.randomUUID()),
    seriesInstanceUID: uuidToDicomUid(crypto.randomUUID()),
    author: SPECIALIST,
    writtenAt: at,
  };
  const built = await buildCaseNote(input);
  s.site.push(built);
  return built;
}

function until(store: CaseThreadStore, ok: (s: CaseThreadState) => boolean): Promise<CaseThreadState> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out; last state: ${JSON.stringify(store.getState().entries.map((e) => [e.kind, e.delivery]))} ${store.getState().status}`)), 5000);
    const check = (): void => {
      const st = store.getState();
      if (ok(st)) {
        clearTimeout(timer);
        unsub();
        resolve(st);
      }
    };
    const unsub = store.subscribe(check);
    check();
  });
}

describe('the case thread store', () => {
  it('shows the question from the site flagged, then the answer written here as waiting to send, in time order', async () => {
    // The referral fixture is written "now": the conversation follows it.
    const t0 = Date.now() + 60_000;
    const s = await setup(t0 + 2 * HOUR);
    await questionAtSite(s, t0 + HOUR);
    const store = s.store();
    const close = store.open(SITE, SITE.id, STUDY.studyInstanceUID);
    const asked = await until(store, (st) => st.phase === 'ready' && st.source === 'site' && st.entries.length === 2);
    expect(asked.entries.map((e) => e.kind)).toEqual(['referral', 'consult']);
    expect(asked.status).toBe('more information requested');
    expect(asked.entries[1]).toMatchObject({ side: 'specialist', summary: 'Is there snuffbox tenderness?', author: 'Amara Nwosu, FCRad' });

    await s.actions.answer({ siteId: SITE.id, studyInstanceUID: STUDY.studyInstanceUID }, 'Yes, marked tenderness.', [{ name: 'wrist.jpg', type: 'image/jpeg', bytes: cameraJpeg().jpeg }], asked.entries[1]!.reference);
    const answered = await until(store, (st) => st.entries.length === 3);
    expect(answered.entries.map((e) => [e.kind, e.delivery])).toEqual([
      ['referral', undefined],
      ['consult', undefined],
      ['answer', 'queued'],
    ]);
    expect(answered.entries[2]).toMatchObject({ side: 'referrer', summary: 'Yes, marked tenderness.', answersId: asked.entries[1]!.id });
    expect(answered.entries[2]!.attachments).toHaveLength(1);
    expect(answered.entries[2]!.attachments[0]!.kind).toBe('photo');
    expect(answered.status).toBe('awaiting specialist');
    close();
  });

  it('places a note written here earlier before a later note from the site, whatever order they were read in', async () => {
    // The referral fixture is written "now": the conversation follows it.
    const t0 = Date.now() + 60_000;
    const s = await setup(t0 + HOUR);
    await s.actions.postOutcome({ siteId: SITE.id, studyInstanceUID: STUDY.studyInstanceUID }, 'Cast for 6 weeks, healed.');
    await questionAtSite(s, t0 + 3 * HOUR);
    const store = s.store();
    const close = store.open(SITE, SITE.id, STUDY.studyInstanceUID);
    const st = await until(store, (x) => x.source === 'site' && x.entries.length === 3);
    expect(st.entries.map((e) => e.kind)).toEqual(['referral', 'outcome', 'consult']);
    expect(st.status).toBe('more information requested');
    close();
  });

  it('shows the thread from the cache when the site is unreachable, with the reason', async () => {
    // The referral fixture is written "now": the conversation follows it.
    const t0 = Date.now() + 60_000;
    const s = await setup(t0 + 2 * HOUR);
    await questionAtSite(s, t0 + HOUR);
    const first = s.store();
    const close1 = first.open(SITE, SITE.id, STUDY.studyInstanceUID);
    await until(first, (x) => x.source === 'site' && x.entries.length === 2);
    close1();
    // A restarted app, the link down: only IndexedDB to go on.
    s.down.value = true;
    const offline = s.store();
    const close2 = offline.open(SITE, SITE.id, STUDY.studyInstanceUID);
    const st = await until(offline, (x) => x.phase === 'ready' && x.siteError !== undefined);
    expect(st.source).toBe('cache');
    expect(st.entries.map((e) => e.kind)).toEqual(['referral', 'consult']);
    expect(st.status).toBe('more information requested');
    close2();
  });
});

describe('thread actions', () => {
  it('writes the outbox job and the caseNotes row in one go before waking the outbox, carrying the photo', async () => {
    const s = await setup(Date.UTC(2026, 11, 1, 9, 0, 0));
    const row = await s.actions.answer({ siteId: SITE.id, studyInstanceUID: STUDY.studyInstanceUID }, 'See photo.', [{ name: 'wrist.jpg', type: 'image/jpeg', bytes: cameraJpeg().jpeg }]);
    expect(s.wakes.count).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(s.wakes.atWake).toEqual([{ jobs: 1, notes: 1 }]);
    const job = await s.db.outboxJobs.get(row.outboxJobId);
    expect(job).toMatchObject({ kind: 'referral', state: 'queued', siteId: SITE.id, studyInstanceUID: STUDY.studyInstanceUID, label: 'Answer — HAND XR · DLAMINI^NOMSA' });
    // The photo first, then the note that points at it; both in the case's study.
    expect(job!.instances.map((i) => i.sopClassUID)).toEqual(['1.2.840.10008.5.1.4.1.1.77.1.4', '1.2.840.10008.5.1.4.1.1.88.11']);
    expect(job!.instances[1]!.sopInstanceUID).toBe(row.sopInstanceUID);
    expect(studyContextFromPart10(job!.instances[0]!.bytes)).toMatchObject({ studyInstanceUID: STUDY.studyInstanceUID, patientId: 'CASE-8' });
    expect(await s.db.caseNotes.get(row.sopInstanceUID)).toMatchObject({ kind: 'answer', author: 'Thabo Mbeki', outboxJobId: job!.id });
  });

  it('labels a question and refuses an empty one without writing anything', async () => {
    const s = await setup(Date.UTC(2026, 11, 1, 9, 0, 0));
    await expect(s.actions.askForMoreInformation({ siteId: SITE.id, studyInstanceUID: STUDY.studyInstanceUID }, '   ')).rejects.toBeInstanceOf(ThreadActionRefused);
    expect(await s.db.outboxJobs.count()).toBe(0);
    const row = await s.actions.askForMoreInformation({ siteId: SITE.id, studyInstanceUID: STUDY.studyInstanceUID }, 'Lateral view?');
    expect((await s.db.outboxJobs.get(row.outboxJobId))?.label).toBe('Question — HAND XR · DLAMINI^NOMSA');
  });

  it('refuses a bad attachment with its name and writes nothing', async () => {
    const s = await setup(Date.UTC(2026, 11, 1, 9, 0, 0));
    const bad = { name: 'notes.txt', type: 'text/plain', bytes: new TextEncoder().encode('hello') };
    await expect(s.actions.answer({ siteId: SITE.id, studyInstanceUID: STUDY.studyInstanceUID }, 'x', [bad])).rejects.toThrow(/notes\.txt/);
    expect(await s.db.outboxJobs.count()).toBe(0);
    expect(await s.db.caseNotes.count()).toBe(0);
    expect(s.wakes.count).toBe(0);
  });

  it('refuses to write a note without a name in the profile', async () => {
    const s = await setup(Date.UTC(2026, 11, 1, 9, 0, 0));
    await s.db.userProfile.delete('me');
    await expect(s.actions.postOutcome({ siteId: SITE.id, studyInstanceUID: STUDY.studyInstanceUID }, 'Healed.')).rejects.toThrow(/profile/);
    expect(await s.db.outboxJobs.count()).toBe(0);
  });
});
