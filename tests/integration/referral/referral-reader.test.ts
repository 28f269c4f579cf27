import 'fake-indexeddb/auto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import { createLogger, memorySink } from '../../../src/shared/log';
import { startWebHost } from '../../../src/main/hosts/web/web-host';
import type { WebHost } from '../../../src/main/hosts/web/web-host';
import { StudyCache } from '../../../src/renderer/cache/study-cache';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import { createDicomWebApiFactory } from '../../../src/renderer/dicomweb/dicomweb-api';
import { SopClass } from '../../../src/renderer/lib/dicom/referral-codes';
import { createPdfAttachmentLoader, createReferralLookup } from '../../../src/renderer/referral/referral-reader';
import { generateChestXray } from '../../fixtures/chest-xray';
import { generateReferralPacket, generateReportSr } from '../../fixtures/referral-packet';
import type { GeneratedReferralPacket } from '../../fixtures/referral-packet';
import { loadCtStudy, startOrthanc } from '../../support/orthanc';
import type { OrthancHandle } from '../../support/orthanc';
import { stowInstances } from '../../support/stow';
import { testRowSealer } from '../../support/test-sealer';
import { unlockTestHost } from '../../support/web-host-api';

// The referral reader as the renderer runs it — DicomWebApi on fetch, through
// the browser host's gateway, into Dexie (fake-indexeddb under Node) — against
// a real Orthanc holding a packet stored with STOW-RS.
const QUESTION = 'Suspected right lower lobe pneumonia — consolidation or effusion?';
const PATIENT = { patientName: 'URGENT^UMA', patientId: 'REF-INT-1' };

let orthanc: OrthancHandle;
let host: WebHost;
let tmp: string;
let site: SiteSummary;
let xrayStudy: string;
let ctStudy: string;
let packet: GeneratedReferralPacket;
const log = createLogger('test', memorySink());
const db = new TeleradDB('referral-integration', { sealer: testRowSealer() });

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'telerad-int-referral-'));
  const rendererDir = join(tmp, 'renderer');
  mkdirSync(rendererDir);
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Telerad</title>');
  orthanc = await startOrthanc();
  ctStudy = (await loadCtStudy(orthanc, { patientName: 'ROUTINE^CARL', patientId: 'REF-INT-2', slices: 2 })).studyInstanceUID;
  const xray = generateChestXray({ ...PATIENT, rows: 256, columns: 208 });
  xrayStudy = xray.studyInstanceUID;
  for (const inst of xray.instances) await orthanc.upload(inst.bytes);
  packet = await generateReferralPacket({
    studyInstanceUID: xrayStudy,
    ...PATIENT,
    priority: 'STAT',
    clinicalQuestion: QUESTION,
    history: 'Fever and cough for 5 days, crackles right base.',
    referringClinician: 'MBEKI^THABO^^DR',
    requestedSpecialty: 'Radiology',
  });
  const stow = await stowInstances(orthanc.dicomWebUrl, orthanc.authorization, packet.files);
  expect(stow.stored).toHaveLength(3);

  const sitesFile = join(tmp, 'sites.json');
  writeFileSync(
    sitesFile,
    JSON.stringify([{ name: 'Clinic B', url: orthanc.dicomWebUrl, auth: { type: 'basic', username: orthanc.username, password: orthanc.password } }]),
  );
  host = await startWebHost({ dataDir: join(tmp, 'data'), rendererDir, sitesFile, version: 'test' });
  // Past the lock screen: the host answers no data channel while locked (issue 18).
  await unlockTestHost(host);
  const res = await fetch(`${host.origin}/api/sites.list`, {
    method: 'POST',
    headers: { 'x-telerad-token': host.token, 'content-type': 'application/json' },
    body: '{}',
  });
  site = ((await res.json()) as { value: SiteSummary[] }).value[0]!;
});

afterAll(async () => {
  await host?.close();
  await orthanc?.stop();
  db.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The renderer's fetch, as Node sees it: the launch token in a header instead of the cookie. */
const gatewayFetch: typeof fetch = (input, init) =>
  fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string> | undefined), 'x-telerad-token': host.token } });
const dicomweb = (): ReturnType<typeof createDicomWebApiFactory> => createDicomWebApiFactory(host.origin, gatewayFetch);

describe('referral packets at a real site, through the gateway', () => {
  it('reads the note stored with STOW-RS: question, history, urgency, clinician, specialty and attachments', async () => {
    const lookup = createReferralLookup({ db, dicomweb: dicomweb(), log });
    const rec = await lookup(site, xrayStudy);
    expect(rec).toMatchObject({
      studyInstanceUID: xrayStudy,
      siteId: site.id,
      noteSopInstanceUID: packet.note.sopInstanceUID,
      priority: 'STAT',
      clinicalQuestion: QUESTION,
      history: 'Fever and cough for 5 days, crackles right base.',
      referringClinician: 'DR MBEKI, THABO',
      requestedSpecialty: 'Radiology',
      hasReport: false,
    });
    expect(rec?.attachments.map((a) => [a.kind, a.sopInstanceUID, a.title]).sort()).toEqual(
      [
        ['pdf', packet.pdf!.sopInstanceUID, 'Laboratory results'],
        ['photo', packet.photo!.sopInstanceUID, packet.photo!.description],
      ].sort(),
    );
    expect(rec?.attachments.find((a) => a.kind === 'photo')?.sopClassUID).toBe(SopClass.VlPhotographicImage);
    // Kept for the worklist's offline sort.
    expect(await db.referrals.get(xrayStudy)).toMatchObject({ priority: 'STAT', clinicalQuestion: QUESTION });
  });

  it('answers undefined for a study without a referral', async () => {
    const lookup = createReferralLookup({ db, dicomweb: dicomweb(), log });
    expect(await lookup(site, ctStudy)).toBeUndefined();
  });

  it('retrieves the attached PDF through the gateway into the cache and gives back the PDF itself', async () => {
    const cache = new StudyCache(db);
    const load = createPdfAttachmentLoader({ cache, dicomweb: dicomweb(), log });
    const rec = await createReferralLookup({ db, dicomweb: dicomweb(), log })(site, xrayStudy);
    const pdfAtt = rec!.attachments.find((a) => a.kind === 'pdf')!;
    expect(await load(site, xrayStudy, pdfAtt)).toEqual(packet.pdf!.pdfBytes);
    expect(await cache.hasInstance(pdfAtt.sopInstanceUID)).toBe(true);
  });

  it('sees a report SR added to the study as "reported", and keeps the note', async () => {
    await stowInstances(orthanc.dicomWebUrl, orthanc.authorization, [generateReportSr({ studyInstanceUID: xrayStudy, ...PATIENT }).bytes]);
    const rec = await createReferralLookup({ db, dicomweb: dicomweb(), log })(site, xrayStudy);
    expect(rec).toMatchObject({ noteSopInstanceUID: packet.note.sopInstanceUID, priority: 'STAT', hasReport: true });
  });

  it('with the site stopped, a fresh lookup still answers from the cache, and the PDF opens from the cache', async () => {
    await orthanc.stop({ keepData: true });
    const lookup = createReferralLookup({ db, dicomweb: dicomweb(), log });
    const started = Date.now();
    const rec = await lookup(site, xrayStudy);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(rec).toMatchObject({ priority: 'STAT', clinicalQuestion: QUESTION, referringClinician: 'DR MBEKI, THABO', hasReport: true });
    const load = createPdfAttachmentLoader({ cache: new StudyCache(db), dicomweb: dicomweb(), log });
    expect(await load(site, xrayStudy, rec!.attachments.find((a) => a.kind === 'pdf')!)).toEqual(packet.pdf!.pdfBytes);
  });
});
