import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import { Tag, getString } from '../../shared/dicom/dicomweb-json';
import { readPart10Header } from '../cache/part10-header';
import type { StudyCache } from '../cache/study-cache';
import type { OutboxJobState, TeleradDB } from '../cache/telerad-db';
import type { DicomWebApiFactory } from '../dicomweb/dicomweb-api';
import { classifySiteError } from '../dicomweb/site-error';
import { findOutboxJob } from '../outbox';
import { SR_SOP_CLASSES, SopClass } from '../lib/dicom/referral-codes';
import type { ReadReport } from '../lib/dicom/report-dicom-types';
import { readCaseNote } from '../lib/dicom/case-note-reader';
import type { CaseNote } from '../lib/dicom/case-note-types';
import { errorMessage } from '../../shared/error-message';

/**
 * Where the thread's entries come from: the SRs of the study in the local
 * cache, the SRs the site lists (each one fetched is kept in the cache, so
 * the thread shows offline), and the notes written here (table `caseNotes`
 * with their outbox jobs). Reads only: the store decides which answer is
 * still wanted.
 */

/** One SR of the study as the thread reads it: a case note, or a report SR with where it lives. */
export type ParsedSr = { note: CaseNote } | { report: ReadReport; seriesInstanceUID: string; sopClassUID: string };

/** A note written here: its content (from the outbox job's bytes, or the cache once delivered) and how far it got. */
export interface LocalNote {
  note: CaseNote;
  delivery: OutboxJobState;
}

/** The instance-level fields the thread needs (one includefield each: Orthanc ignores a comma list). */
const QIDO_FIELDS: readonly string[] = [Tag.SOPClassUID, Tag.Modality];

export interface ThreadSourcesDeps {
  db: TeleradDB;
  dicomweb: DicomWebApiFactory;
  cache: Pick<StudyCache, 'putInstance' | 'putSeries' | 'readInstanceBytes' | 'getStudySeries' | 'getStudyInstances'>;
  isReportSr: (bytes: ArrayBuffer) => boolean;
  readReportSr: (bytes: ArrayBuffer) => ReadReport;
  log: Logger;
}

export interface ThreadSources {
  /** The SRs of the study already in the cache (read earlier from the site, or by the viewer's retrieval). */
  fromCache(studyUID: string): Promise<ParsedSr[]>;
  /** The SRs the site lists for the study; rejects when the site cannot list them. */
  fromSite(site: SiteSummary, studyUID: string): Promise<ParsedSr[]>;
  /** Notes written here for the study: their bytes from the outbox job (or the cache once the job is gone). */
  readLocal(studyUID: string): Promise<LocalNote[]>;
}

export function createThreadSources(deps: ThreadSourcesDeps): ThreadSources {
  const { db, log } = deps;
  // An SOP instance never changes: parsed once for the life of the store.
  const parsed = new Map<string, ParsedSr | null>();

  const parse = (bytes: ArrayBuffer, sop: string, series: string, sopClassUID: string): ParsedSr | null => {
    const known = parsed.get(sop);
    if (known !== undefined) return known;
    const note = readCaseNote(bytes);
    let out: ParsedSr | null = null;
    if (note) out = { note };
    else if (deps.isReportSr(bytes)) {
      try {
        out = { report: deps.readReportSr(bytes), seriesInstanceUID: series, sopClassUID };
      } catch (err) {
        log.warn(`Thread: report SR ${sop} could not be read: ${errorMessage(err)}`);
      }
    }
    parsed.set(sop, out);
    return out;
  };

  const fromCache = async (studyUID: string): Promise<ParsedSr[]> => {
    const srSeries = new Set((await deps.cache.getStudySeries(studyUID)).filter((s) => s.modality === 'SR').map((s) => s.seriesInstanceUID));
    const out: ParsedSr[] = [];
    for (const inst of await deps.cache.getStudyInstances(studyUID)) {
      if (!srSeries.has(inst.seriesInstanceUID)) continue;
      try {
        const bytes = await deps.cache.readInstanceBytes(inst.sopInstanceUID);
        if (!bytes) continue;
        const p = parse(bytes, inst.sopInstanceUID, inst.seriesInstanceUID, SopClass.ComprehensiveSR);
        if (p) out.push(p);
      } catch (err) {
        log.warn(`Thread: cached SR ${inst.sopInstanceUID} could not be read: ${errorMessage(err)}`);
      }
    }
    return out;
  };

  const fromSite = async (s: SiteSummary, studyUID: string): Promise<ParsedSr[]> => {
    const api = deps.dicomweb(s);
    const listed = await api.searchForInstances(studyUID, { includefield: QIDO_FIELDS });
    const out: ParsedSr[] = [];
    for (const ds of listed) {
      const sop = getString(ds, Tag.SOPInstanceUID);
      const series = getString(ds, Tag.SeriesInstanceUID);
      const cls = getString(ds, Tag.SOPClassUID) ?? '';
      if (!sop || !series || !(SR_SOP_CLASSES.has(cls) || (!cls && getString(ds, Tag.Modality) === 'SR'))) continue;
      let p = parsed.get(sop);
      if (p === undefined) {
        let bytes = await deps.cache.readInstanceBytes(sop).catch(() => undefined);
        if (!bytes) {
          try {
            bytes = await api.retrieveInstance({ studyInstanceUID: studyUID, seriesInstanceUID: series, sopInstanceUID: sop });
          } catch (err) {
            log.warn(`Thread: SR ${sop} of ${studyUID} at ${s.id} could not be read: ${classifySiteError(err).message}`);
            continue;
          }
          // Kept in the instance cache with an SR series record: the thread reads it back offline.
          try {
            const header = readPart10Header(bytes);
            await deps.cache.putSeries([{ seriesInstanceUID: series, studyInstanceUID: studyUID, modality: 'SR', description: '' }]);
            await deps.cache.putInstance({ sopInstanceUID: sop, studyInstanceUID: studyUID, seriesInstanceUID: series, transferSyntaxUID: header.transferSyntaxUID }, bytes);
          } catch (err) {
            log.warn(`Thread: SR ${sop} not cached: ${errorMessage(err)}`);
          }
        }
        p = parse(bytes, sop, series, cls || SopClass.ComprehensiveSR);
      }
      if (p) out.push(p);
    }
    return out;
  };

  const readLocal = async (studyUID: string): Promise<LocalNote[]> => {
    const rows = await db.caseNotes.where('studyInstanceUID').equals(studyUID).toArray();
    const out: LocalNote[] = [];
    for (const row of rows) {
      const job = await findOutboxJob(db, row.outboxJobId);
      const bytes = job?.instances.find((i) => i.sopInstanceUID === row.sopInstanceUID)?.bytes ?? (await deps.cache.readInstanceBytes(row.sopInstanceUID).catch(() => undefined));
      const note = bytes ? readCaseNote(bytes) : undefined;
      if (!note) {
        log.warn(`Thread: the note ${row.sopInstanceUID} written here is in neither its outbox job nor the cache`);
        continue;
      }
      out.push({ note, delivery: job?.state ?? 'sent' });
    }
    return out;
  };

  return { fromCache, fromSite, readLocal };
}
