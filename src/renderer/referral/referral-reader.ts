import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import { Tag, getString } from '../../shared/dicom/dicomweb-json';
import type { DicomJsonDataset } from '../../shared/dicom/dicomweb-json';
import type { DicomWebApiFactory } from '../dicomweb/dicomweb-api';
import { classifySiteError } from '../dicomweb/site-error';
import type { ReferralAttachment, ReferralRecord, TeleradDB } from '../cache/telerad-db';
import type { StudyCache } from '../cache/study-cache';
import { readPart10Header } from '../cache/part10-header';
import { extractEncapsulatedPdf } from '../lib/dicom/encapsulated-pdf';
import { PHOTO_SOP_CLASSES, SR_SOP_CLASSES, SopClass } from '../lib/dicom/referral-codes';
import { isReferralNote, parseSrDocument, readReferralNote } from '../lib/dicom/referral-sr';
import type { ReferralNoteFields } from '../lib/dicom/referral-sr';
import { REPORT_PDF_QIDO_FIELDS, isReportPdfDataset } from '../lib/dicom/report-pdf-identity';
import { isCaseNoteTitle, readCaseNote } from '../lib/dicom/case-note-reader';

/** Document Title (0042,0010): the name of an Encapsulated PDF, in the instance-level QIDO answer. */
const DocumentTitleTag = '00420010';

/** Instance-level QIDO fields the reader needs; one `includefield` key each (Orthanc's plugin ignores a comma list). */
export const REFERRAL_QIDO_FIELDS: readonly string[] = [Tag.SOPClassUID, Tag.SeriesDescription, Tag.Modality, DocumentTitleTag, ...REPORT_PDF_QIDO_FIELDS];

/**
 * (site, study) → what the study's referral packet says, or undefined when the
 * study holds no referral note, no attachment and no report. The worklist
 * calls exactly this for priority and status; the side panel for its fields.
 * It never rejects for a site failure: it answers from the Dexie cache then.
 */
export type ReferralLookup = (site: SiteSummary, studyInstanceUID: string) => Promise<ReferralRecord | undefined>;

export interface ReferralLookupDeps {
  db: TeleradDB;
  dicomweb: DicomWebApiFactory;
  log: Logger;
  now?: () => number;
  /**
   * A cached record younger than this is answered without any request (the
   * worklist asks for every row on each refresh). 0, the default, always asks
   * the site and falls back to the cache only when it cannot be reached.
   */
  maxAgeMs?: number;
}

interface SrSummary {
  sopInstanceUID: string;
  referral: boolean;
  /** A note of the case's conversation (referral, consult, progress): a message, not a report. */
  caseNote: boolean;
  /** A consult note asking the referrer for more information. */
  asksForMore: boolean;
  contentDateTime: string;
  fields?: ReferralNoteFields;
}

type Classified =
  | { kind: 'sr'; sopInstanceUID: string; seriesInstanceUID: string }
  | { kind: 'attachment'; attachment: ReferralAttachment }
  | { kind: 'other' };

function classify(ds: DicomJsonDataset): Classified {
  const sop = getString(ds, Tag.SOPInstanceUID);
  const series = getString(ds, Tag.SeriesInstanceUID);
  if (!sop || !series) return { kind: 'other' };
  const modality = getString(ds, Tag.Modality) ?? '';
  // SOP Class UID is a required QIDO return key; the modality is a fallback for servers that leave it out.
  const sopClass = getString(ds, Tag.SOPClassUID) ?? '';
  if (SR_SOP_CLASSES.has(sopClass) || (!sopClass && modality === 'SR')) return { kind: 'sr', sopInstanceUID: sop, seriesInstanceUID: series };
  if (sopClass === SopClass.EncapsulatedPdf) {
    // A report's own PDF (issue 6) is the answer, shown by the report panel, not an attachment of the referral.
    if (isReportPdfDataset(ds)) return { kind: 'other' };
    const title = getString(ds, DocumentTitleTag) ?? getString(ds, Tag.SeriesDescription) ?? 'PDF document';
    return { kind: 'attachment', attachment: { sopInstanceUID: sop, seriesInstanceUID: series, sopClassUID: sopClass, kind: 'pdf', title } };
  }
  if (PHOTO_SOP_CLASSES.has(sopClass)) {
    const title = getString(ds, Tag.SeriesDescription) ?? 'Photo';
    return { kind: 'attachment', attachment: { sopInstanceUID: sop, seriesInstanceUID: series, sopClassUID: sopClass, kind: 'photo', title } };
  }
  return { kind: 'other' };
}

/** A record says something worth showing; an empty one is the same as none. */
function visible(record: ReferralRecord | undefined): ReferralRecord | undefined {
  return record && (record.noteSopInstanceUID || record.attachments.length > 0 || record.hasReport) ? record : undefined;
}

/**
 * The referral lookup: QIDO the study's instances (SOP class, series
 * description, modality, document title), WADO-RS each SR not seen before
 * (they are a few kB) and read its title and content tree, and keep the
 * result in Dexie `referrals`, so the worklist can sort by urgency and the
 * panel can show the note offline. SRs already read are remembered for the
 * life of the lookup (an SOP instance never changes), and a note whose UID is
 * in the cached record is not fetched again.
 */
export function createReferralLookup(deps: ReferralLookupDeps): ReferralLookup {
  const { db, dicomweb, log } = deps;
  const now = deps.now ?? Date.now;
  const maxAgeMs = deps.maxAgeMs ?? 0;
  const seen = new Map<string, SrSummary>();
  const inFlight = new Map<string, Promise<ReferralRecord | undefined>>();

  const readSr = async (site: SiteSummary, studyUID: string, sr: { sopInstanceUID: string; seriesInstanceUID: string }): Promise<SrSummary> => {
    const known = seen.get(sr.sopInstanceUID);
    if (known) return known;
    const bytes = await dicomweb(site).retrieveInstance({ studyInstanceUID: studyUID, ...sr });
    const doc = parseSrDocument(bytes);
    const fields = readReferralNote(doc);
    const caseNote = isCaseNoteTitle(doc.title);
    const summary: SrSummary = {
      sopInstanceUID: sr.sopInstanceUID,
      referral: isReferralNote(doc),
      caseNote,
      asksForMore: caseNote && readCaseNote(bytes)?.status === 'more-info-needed',
      contentDateTime: doc.contentDateTime,
      ...(fields ? { fields } : {}),
    };
    seen.set(sr.sopInstanceUID, summary);
    return summary;
  };

  const fromCache = async (site: SiteSummary, studyUID: string): Promise<ReferralRecord | undefined> => {
    const cached = await db.referrals.get(studyUID);
    return cached?.siteId === site.id ? visible(cached) : undefined;
  };

  const run = async (site: SiteSummary, studyUID: string): Promise<ReferralRecord | undefined> => {
    const cached = await db.referrals.get(studyUID);
    const mine = cached?.siteId === site.id ? cached : undefined;
    if (mine && maxAgeMs > 0 && now() - mine.fetchedAt < maxAgeMs) return visible(mine);

    let listed: DicomJsonDataset[];
    try {
      listed = await dicomweb(site).searchForInstances(studyUID, { includefield: REFERRAL_QIDO_FIELDS });
    } catch (err) {
      log.warn(`Referral lookup for ${studyUID} at ${site.id}: ${classifySiteError(err).message}; answering from the cache`);
      return visible(mine);
    }

    const attachments: ReferralAttachment[] = [];
    const srs: SrSummary[] = [];
    let unread = 0;
    for (const ds of listed) {
      const c = classify(ds);
      if (c.kind === 'attachment') attachments.push(c.attachment);
      if (c.kind !== 'sr') continue;
      if (!seen.has(c.sopInstanceUID) && mine?.noteSopInstanceUID === c.sopInstanceUID) {
        // Read before and cached: reuse its fields rather than fetching the note again.
        srs.push({ sopInstanceUID: c.sopInstanceUID, referral: true, caseNote: true, asksForMore: false, contentDateTime: '', fields: fieldsOf(mine) });
        continue;
      }
      try {
        srs.push(await readSr(site, studyUID, c));
      } catch (err) {
        unread++;
        log.warn(`Referral lookup: SR ${c.sopInstanceUID} of ${studyUID} at ${site.id} could not be read: ${classifySiteError(err).message}`);
      }
    }

    // Two notes (a referral re-sent with changes): the latest one counts.
    const note = srs
      .filter((s) => s.referral)
      .sort((a, b) => (a.contentDateTime < b.contentDateTime ? 1 : a.contentDateTime > b.contentDateTime ? -1 : 0))[0];
    if (unread > 0 && !note) return visible(mine); // the note may be the one that failed: keep what we knew

    const record: ReferralRecord = {
      studyInstanceUID: studyUID,
      siteId: site.id,
      ...(note ? { noteSopInstanceUID: note.sopInstanceUID, ...note.fields } : {}),
      attachments,
      // Consult and progress notes are the conversation, not a report.
      hasReport: srs.some((s) => !s.referral && !s.caseNote),
      fetchedAt: now(),
    };
    // The conversation's latest word is the specialist's question: the referrer has to answer.
    const latest = [...srs].sort((a, b) => (a.contentDateTime < b.contentDateTime ? -1 : a.contentDateTime > b.contentDateTime ? 1 : 0)).at(-1);
    if (latest?.asksForMore) record.moreInformationRequested = true;
    if (!visible(record)) {
      if (mine) await db.referrals.delete(studyUID);
      return undefined;
    }
    await db.referrals.put(record);
    return record;
  };

  return (site, studyUID) => {
    const key = `${site.id}\n${studyUID}`;
    let p = inFlight.get(key);
    if (!p) {
      p = run(site, studyUID)
        .catch(async (err: unknown) => {
          // A Dexie or parse failure must not break the worklist row: log it and say what the cache says.
          log.error(`Referral lookup for ${studyUID} failed`, err);
          return fromCache(site, studyUID).catch(() => undefined);
        })
        .finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return p;
  };
}

function fieldsOf(r: ReferralRecord): ReferralNoteFields {
  const out: ReferralNoteFields = {};
  if (r.priority) out.priority = r.priority;
  if (r.clinicalQuestion) out.clinicalQuestion = r.clinicalQuestion;
  if (r.history) out.history = r.history;
  if (r.referringClinician) out.referringClinician = r.referringClinician;
  if (r.requestedSpecialty) out.requestedSpecialty = r.requestedSpecialty;
  return out;
}

export type AttachmentLoader = (site: SiteSummary | undefined, studyInstanceUID: string, attachment: ReferralAttachment) => Promise<Uint8Array>;

/**
 * Bytes of an attached PDF: from the cache when the instance is there (the
 * viewer's retrieval usually put it there), otherwise WADO-RS through the
 * gateway into the cache first, like any instance, so it opens again offline.
 */
export function createPdfAttachmentLoader(deps: { cache: StudyCache; dicomweb: DicomWebApiFactory; log: Logger }): AttachmentLoader {
  return async (site, studyUID, att) => {
    let bytes = await deps.cache.readInstanceBytes(att.sopInstanceUID);
    if (!bytes) {
      if (!site) throw new Error('The document is not in the local cache and its site is no longer configured');
      try {
        bytes = await deps.dicomweb(site).retrieveInstance({ studyInstanceUID: studyUID, seriesInstanceUID: att.seriesInstanceUID, sopInstanceUID: att.sopInstanceUID });
      } catch (err) {
        throw new Error(`${site.name}: the document could not be retrieved (${classifySiteError(err).message})`);
      }
      const header = readPart10Header(bytes);
      await deps.cache.putInstance(
        {
          sopInstanceUID: att.sopInstanceUID,
          studyInstanceUID: studyUID,
          seriesInstanceUID: att.seriesInstanceUID,
          transferSyntaxUID: header.transferSyntaxUID,
          ...(header.instanceNumber !== undefined ? { instanceNumber: header.instanceNumber } : {}),
        },
        bytes,
      );
      deps.log.info(`Attachment ${att.sopInstanceUID} of ${studyUID} cached (${bytes.byteLength} bytes)`);
    }
    return extractEncapsulatedPdf(bytes);
  };
}
