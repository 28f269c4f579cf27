// @vitest-environment node
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { SiteSummary } from '../../../src/shared/ipc/contract';
import type { DicomJsonDataset } from '../../../src/shared/dicom/dicomweb-json';
import { createLogger, memorySink } from '../../../src/shared/log';
import { TeleradDB } from '../../../src/renderer/cache/telerad-db';
import type { DicomWebApi } from '../../../src/renderer/dicomweb/dicomweb-api';
import { HttpStatusError } from '../../../src/renderer/dicomweb/site-error';
import { SopClass } from '../../../src/renderer/lib/dicom/referral-codes';
import { createReferralLookup } from '../../../src/renderer/referral/referral-reader';
import { extractEncapsulatedPdf } from '../../../src/renderer/lib/dicom/encapsulated-pdf';
import { isReferralNote, parseSrDocument, readReferralNote } from '../../../src/renderer/lib/dicom/referral-sr';
import {
  generateEncapsulatedPdf,
  generateReferralNote,
  generateReportSr,
  labResultsPdf,
} from '../../fixtures/referral-packet';
import type { GeneratedObject } from '../../fixtures/referral-packet';
import { testRowSealer } from '../../support/test-sealer';

const STUDY = { studyInstanceUID: '1.2.826.0.1.3680043.2.1125.9', patientName: 'NDLOVU^SIPHO', patientId: 'REF-1' };
const SITE: SiteSummary = { id: 'clinic-b', name: 'Clinic B', url: 'http://pacs.invalid', authType: 'none', gatewayPath: '/sites/clinic-b/dicom-web' };

describe('reading a referral note (Basic Text SR, 57133-1)', () => {
  it('reads every field of a complete note, including non-ASCII text', () => {
    const note = generateReferralNote({
      ...STUDY,
      priority: 'STAT',
      clinicalQuestion: 'Suspected pneumonia — consolidation or effusion? Pleurésie?',
      history: 'Fever and cough for 5 days.',
      referringClinician: 'MBEKI^THABO^^DR',
      requestedSpecialty: 'Radiology',
    });
    const doc = parseSrDocument(note.bytes);
    expect(doc.sopInstanceUID).toBe(note.sopInstanceUID);
    expect(isReferralNote(doc)).toBe(true);
    expect(readReferralNote(doc)).toEqual({
      priority: 'STAT',
      clinicalQuestion: 'Suspected pneumonia — consolidation or effusion? Pleurésie?',
      history: 'Fever and cough for 5 days.',
      referringClinician: 'DR MBEKI, THABO',
      requestedSpecialty: 'Radiology',
    });
  });

  it('leaves out what a note leaves out: only a clinical question gives no priority, history or clinician', () => {
    const doc = parseSrDocument(generateReferralNote({ ...STUDY, clinicalQuestion: 'Fracture?' }).bytes);
    expect(readReferralNote(doc)).toEqual({ clinicalQuestion: 'Fracture?' });
  });

  it('reads an urgency written as text rather than a code', () => {
    const doc = parseSrDocument(generateReferralNote({ ...STUDY, priority: 'urgent', urgencyAsText: true }).bytes);
    expect(readReferralNote(doc)?.priority).toBe('urgent');
  });

  it('does not take a report SR for a referral note', () => {
    const doc = parseSrDocument(generateReportSr(STUDY).bytes);
    expect(doc.title).toMatchObject({ value: '18748-4', scheme: 'LN' });
    expect(isReferralNote(doc)).toBe(false);
    expect(readReferralNote(doc)).toBeUndefined();
  });

  it('extracts the PDF of an Encapsulated PDF byte for byte', async () => {
    const pdf = await labResultsPdf(STUDY.patientName, STUDY.patientId, 'Laboratory results');
    const obj = generateEncapsulatedPdf(STUDY, pdf, 'Laboratory results');
    expect(extractEncapsulatedPdf(obj.bytes)).toEqual(pdf);
  });
});

/** A site holding the given objects: QIDO lists them, WADO-RS returns their bytes. */
function fakeSite(objects: Array<GeneratedObject & { modality: string; title?: string }>, calls: string[], down = { value: false }): DicomWebApi {
  return {
    searchForStudies: () => Promise.resolve([]),
    retrieveRendered: () => Promise.reject(new HttpStatusError(404, 'WADO-RS rendered 404')),
    searchForInstances: (study) => {
      calls.push(`qido ${study}`);
      if (down.value) return Promise.reject(new HttpStatusError(502, 'SITE_UNREACHABLE'));
      return Promise.resolve(
        objects.map(
          (o): DicomJsonDataset => ({
            '0020000D': { vr: 'UI', Value: [study] },
            '0020000E': { vr: 'UI', Value: [o.seriesInstanceUID] },
            '00080018': { vr: 'UI', Value: [o.sopInstanceUID] },
            '00080016': { vr: 'UI', Value: [o.sopClassUID] },
            '00080060': { vr: 'CS', Value: [o.modality] },
            ...(o.title ? { '00420010': { vr: 'ST', Value: [o.title] } } : {}),
          }),
        ),
      );
    },
    retrieveInstance: (uids) => {
      calls.push(`wado ${uids.sopInstanceUID}`);
      if (down.value) return Promise.reject(new HttpStatusError(502, 'SITE_UNREACHABLE'));
      const o = objects.find((x) => x.sopInstanceUID === uids.sopInstanceUID);
      if (!o) return Promise.reject(new HttpStatusError(404, 'not found'));
      return Promise.resolve(o.bytes.slice().buffer);
    },
  };
}

describe('the referral lookup', () => {
  const log = createLogger('test', memorySink());

  it('reports a study with only a report SR as reported, without a referral note', async () => {
    const calls: string[] = [];
    const report = { ...generateReportSr(STUDY), modality: 'SR' };
    const lookup = createReferralLookup({ db: new TeleradDB(`ref-${Math.random()}`, { sealer: testRowSealer() }), dicomweb: () => fakeSite([report], calls), log });
    const rec = await lookup(SITE, STUDY.studyInstanceUID);
    expect(rec).toMatchObject({ hasReport: true, attachments: [] });
    expect(rec?.noteSopInstanceUID).toBeUndefined();
    expect(rec?.priority).toBeUndefined();
  });

  it('finds the note among a report and a PDF, and does not fetch an SR it has read before', async () => {
    const calls: string[] = [];
    const note = { ...generateReferralNote({ ...STUDY, priority: 'routine', clinicalQuestion: 'Lesion?' }), modality: 'SR' };
    const report = { ...generateReportSr(STUDY), modality: 'SR' };
    const pdf = { ...generateEncapsulatedPdf(STUDY, await labResultsPdf('A', 'B', 'Labs'), 'Labs'), modality: 'DOC', title: 'Labs' };
    const lookup = createReferralLookup({ db: new TeleradDB(`ref-${Math.random()}`, { sealer: testRowSealer() }), dicomweb: () => fakeSite([report, note, pdf], calls), log });
    const rec = await lookup(SITE, STUDY.studyInstanceUID);
    expect(rec).toMatchObject({ noteSopInstanceUID: note.sopInstanceUID, priority: 'routine', clinicalQuestion: 'Lesion?', hasReport: true });
    expect(rec?.attachments).toEqual([
      { sopInstanceUID: pdf.sopInstanceUID, seriesInstanceUID: pdf.seriesInstanceUID, sopClassUID: SopClass.EncapsulatedPdf, kind: 'pdf', title: 'Labs' },
    ]);
    calls.length = 0;
    await lookup(SITE, STUDY.studyInstanceUID);
    expect(calls).toEqual([`qido ${STUDY.studyInstanceUID}`]);
  });

  it('answers from the cache when the site is down, and undefined for a study it never saw', async () => {
    const calls: string[] = [];
    const down = { value: false };
    const note = { ...generateReferralNote({ ...STUDY, priority: 'STAT', clinicalQuestion: 'Bleed?' }), modality: 'SR' };
    const db = new TeleradDB(`ref-${Math.random()}`, { sealer: testRowSealer() });
    await createReferralLookup({ db, dicomweb: () => fakeSite([note], calls, down), log })(SITE, STUDY.studyInstanceUID);
    down.value = true;
    // A new lookup (a restarted app) has only Dexie to go on.
    const offline = createReferralLookup({ db, dicomweb: () => fakeSite([note], calls, down), log });
    expect(await offline(SITE, STUDY.studyInstanceUID)).toMatchObject({ priority: 'STAT', clinicalQuestion: 'Bleed?' });
    expect(await offline(SITE, '1.2.3.999')).toBeUndefined();
  });
});
