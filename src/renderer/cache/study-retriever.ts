import type { SiteSummary } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import { Tag, getNumber, getString } from '../../shared/dicom/dicomweb-json';
import type { DicomJsonDataset } from '../../shared/dicom/dicomweb-json';
import type { DicomWebApiFactory } from '../dicomweb/dicomweb-api';
import { classifySiteError, isOfflineFailure } from '../dicomweb/site-error';
import type { SiteFailure } from '../dicomweb/site-error';
import type { SeriesRecord } from './telerad-db';
import type { StudyCache, StudyUpsert } from './study-cache';
import { readPart10Header } from './part10-header';

export interface RetrieveProgress {
  /** Instances stored so far, those that were cached before included. */
  done: number;
  total: number;
}

export interface EnsureStudyRequest {
  /** The study's site; undefined when the site is no longer configured (only the cache can help then). */
  site: SiteSummary | undefined;
  /** What the worklist knows of the study; written to the cache so it lists offline. */
  study: StudyUpsert;
  onProgress?: (p: RetrieveProgress) => void;
  /** Stops scheduling further downloads (the viewer was closed). */
  signal?: AbortSignal;
}

export interface EnsureStudyResult {
  /** 'cache': no network was used. */
  source: 'cache' | 'network';
  /** Every instance of the study is in the cache. */
  complete: boolean;
  /** Why the study is incomplete, when the network let us down part way. */
  failure?: SiteFailure;
}

/** Neither in the cache nor retrievable now: the viewer shows this message instead of waiting. */
export class StudyUnavailableError extends Error {
  constructor(
    message: string,
    readonly failure?: SiteFailure,
  ) {
    super(message);
    this.name = 'StudyUnavailableError';
  }
}

export const NOT_OFFLINE_MESSAGE = 'This study is not available offline and its site cannot be reached';

/** Instance-level QIDO fields: enough to build series records before any pixel arrives. */
const INSTANCE_FIELDS = [Tag.SeriesDescription, Tag.Modality, Tag.SeriesNumber, Tag.InstanceNumber];

export interface StudyRetrieverDeps {
  cache: StudyCache;
  dicomweb: DicomWebApiFactory;
  log: Logger;
  /** Parallel WADO-RS requests; a few keep the link busy without starving the worklist. */
  concurrency?: number;
}

interface PlannedInstance {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  instanceNumber?: number;
}

/**
 * Brings a study into the cache: QIDO-RS lists its instances, WADO-RS fetches
 * each one not stored yet, the cache stores it (hash included), and the study
 * is marked complete when all are in. The viewer never reads the network: it
 * waits for this, then reads the cache.
 */
export class StudyRetriever {
  private readonly concurrency: number;

  constructor(private readonly deps: StudyRetrieverDeps) {
    this.concurrency = Math.max(1, deps.concurrency ?? 4);
  }

  /**
   * Makes sure the study is in the cache, as completely as the network allows.
   * A study already complete in the cache returns at once without any request,
   * so it opens the same with the site down. A study partly cached whose site
   * fails resolves incomplete with the failure (the viewer shows what it has);
   * one with nothing cached throws StudyUnavailableError.
   */
  async ensureStudy(req: EnsureStudyRequest): Promise<EnsureStudyResult> {
    const { cache, log } = this.deps;
    const uid = req.study.studyInstanceUID;
    const cached = await cache.getStudy(uid);
    if (cached?.complete) {
      const stored = await cache.getStudyInstances(uid);
      req.onProgress?.({ done: stored.length, total: stored.length });
      return { source: 'cache', complete: true };
    }

    const { site } = req;
    if (!site) return this.fromCacheOnly(uid, { kind: 'other', message: 'its site is no longer configured' });

    const api = this.deps.dicomweb(site);
    let planned: PlannedInstance[];
    let listed: DicomJsonDataset[];
    try {
      listed = await api.searchForInstances(uid, { includefield: INSTANCE_FIELDS });
      planned = listed.flatMap((ds) => {
        const sop = getString(ds, Tag.SOPInstanceUID);
        const series = getString(ds, Tag.SeriesInstanceUID);
        if (!sop || !series) return [];
        const n = getNumber(ds, Tag.InstanceNumber);
        return [{ studyInstanceUID: uid, seriesInstanceUID: series, sopInstanceUID: sop, ...(n !== undefined ? { instanceNumber: n } : {}) }];
      });
    } catch (err) {
      const failure = classifySiteError(err);
      log.warn(`Instance list of ${uid} at ${site.id} failed: ${failure.message}`);
      return this.fromCacheOnly(uid, failure);
    }
    if (planned.length === 0) throw new StudyUnavailableError(`${site.name} lists no instances for this study`);

    await cache.upsertStudy({ ...req.study, siteId: site.id, numInstances: planned.length });
    await cache.putSeries(seriesFromQido(uid, listed));

    const missing: PlannedInstance[] = [];
    for (const p of planned) if (!(await cache.hasInstance(p.sopInstanceUID))) missing.push(p);
    const total = planned.length;
    let done = total - missing.length;
    req.onProgress?.({ done, total });

    let firstFailure: SiteFailure | undefined;
    const headerSeries = new Map<string, Partial<SeriesRecord>>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < missing.length) {
        // One site failure that means "no network" stops every worker: the
        // remaining requests would each wait for the same timeout.
        if (req.signal?.aborted || (firstFailure && isOfflineFailure(firstFailure))) return;
        const item = missing[next++]!;
        try {
          const bytes = await api.retrieveInstance(item, req.signal);
          const header = readPart10Header(bytes);
          if (header.sopInstanceUID && header.sopInstanceUID !== item.sopInstanceUID) {
            throw new Error(`asked for ${item.sopInstanceUID}, got ${header.sopInstanceUID}`);
          }
          await cache.putInstance(
            {
              sopInstanceUID: item.sopInstanceUID,
              studyInstanceUID: uid,
              seriesInstanceUID: item.seriesInstanceUID,
              transferSyntaxUID: header.transferSyntaxUID,
              ...((header.instanceNumber ?? item.instanceNumber) !== undefined
                ? { instanceNumber: header.instanceNumber ?? item.instanceNumber }
                : {}),
              ...(header.imagePositionPatient ? { imagePositionPatient: header.imagePositionPatient } : {}),
              ...(header.imageOrientationPatient ? { imageOrientationPatient: header.imageOrientationPatient } : {}),
            },
            bytes,
          );
          if (!headerSeries.has(item.seriesInstanceUID)) {
            headerSeries.set(item.seriesInstanceUID, {
              modality: header.modality,
              description: header.seriesDescription,
              seriesNumber: header.seriesNumber,
            });
          }
          done++;
          req.onProgress?.({ done, total });
        } catch (err) {
          if (req.signal?.aborted) return; // closed by the reader, not a failure
          const failure = classifySiteError(err);
          firstFailure ??= failure;
          log.warn(`WADO-RS of ${item.sopInstanceUID} (${site.id}) failed: ${failure.message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, missing.length) }, worker));

    await this.fillSeriesFromHeaders(uid, headerSeries);
    const complete = await cache.markComplete(uid);
    if (!complete && done === 0) {
      throw new StudyUnavailableError(
        firstFailure && isOfflineFailure(firstFailure) ? NOT_OFFLINE_MESSAGE : `${site.name}: ${firstFailure?.message ?? 'retrieval failed'}`,
        firstFailure,
      );
    }
    log.info(`Study ${uid}: ${done}/${total} instances cached${complete ? ', complete' : ''}`);
    return { source: 'network', complete, ...(complete || !firstFailure ? {} : { failure: firstFailure }) };
  }

  /** The site could not list the study: show what the cache has, or say plainly that there is nothing. */
  private async fromCacheOnly(uid: string, failure: SiteFailure): Promise<EnsureStudyResult> {
    const stored = await this.deps.cache.getStudyInstances(uid);
    if (stored.length === 0) {
      throw new StudyUnavailableError(isOfflineFailure(failure) ? NOT_OFFLINE_MESSAGE : `Cannot retrieve the study: ${failure.message}`, failure);
    }
    return { source: 'cache', complete: false, failure };
  }

  /** QIDO may leave series fields empty (not every PACS returns them at instance level); the files have them. */
  private async fillSeriesFromHeaders(uid: string, fromHeaders: Map<string, Partial<SeriesRecord>>): Promise<void> {
    if (fromHeaders.size === 0) return;
    await this.deps.cache.putSeries(
      [...fromHeaders].map(([seriesUid, h]) => ({
        seriesInstanceUID: seriesUid,
        studyInstanceUID: uid,
        modality: h.modality ?? '',
        description: h.description ?? '',
        ...(h.seriesNumber !== undefined ? { seriesNumber: h.seriesNumber } : {}),
      })),
    );
  }
}

function seriesFromQido(uid: string, listed: DicomJsonDataset[]): SeriesRecord[] {
  const bySeries = new Map<string, SeriesRecord>();
  for (const ds of listed) {
    const seriesUid = getString(ds, Tag.SeriesInstanceUID);
    if (!seriesUid || bySeries.has(seriesUid)) continue;
    const seriesNumber = getNumber(ds, Tag.SeriesNumber);
    bySeries.set(seriesUid, {
      seriesInstanceUID: seriesUid,
      studyInstanceUID: uid,
      modality: getString(ds, Tag.Modality) ?? '',
      description: getString(ds, Tag.SeriesDescription) ?? '',
      ...(seriesNumber !== undefined ? { seriesNumber } : {}),
    });
  }
  return [...bySeries.values()];
}
