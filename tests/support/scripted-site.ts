import type { DicomJsonDataset } from '../../src/shared/dicom/dicomweb-json';
import type { DicomWebApi, RenderedBatchAnswer, RenderedOptions, RetrieveInstanceOptions } from '../../src/renderer/dicomweb/dicomweb-api';
import { HttpStatusError } from '../../src/renderer/dicomweb/site-error';
import { tinyPart10 } from './tiny-dicom';

/**
 * A DICOMweb site whose every WADO-RS request (an instance, or a /rendered
 * preview) is recorded and answered as the test's script says: at once, with
 * an error, or held until the test answers it. The numbers the progressive
 * tests need — requests in flight, previews in flight while lossless files
 * are still to be asked — are counted as the requests come.
 */

export type RequestKind = 'lossless' | 'preview';
export type RequestState = 'open' | 'answered' | 'failed' | 'aborted';

export interface SiteRequest {
  kind: RequestKind;
  studyInstanceUID: string;
  sopInstanceUID: string;
  /** /rendered only. */
  viewport?: { width: number; height: number };
  quality?: number;
  transferSyntax?: string;
  signal: AbortSignal | undefined;
  state: RequestState;
  /** Answers a held request (a Part 10 file, or a JPEG). */
  answer(): void;
  fail(err: unknown): void;
}

/** What the site does with a request: 'answer' it (after a tick), 'hold' it for the test, or throw this error. */
export type Reply = 'answer' | 'hold' | Error;

export interface ListedSlice {
  sop: string;
  series: string;
  instanceNumber: number;
  z?: number;
  rows?: number;
  columns?: number;
  sopClassUID?: string;
  frames?: number;
}

/** A QIDO-RS instance-level answer for these slices (Orthanc style: geometry, rows and columns included when given). */
export function qidoOf(slices: readonly ListedSlice[]): DicomJsonDataset[] {
  return slices.map((s) => ({
    '0020000E': { vr: 'UI', Value: [s.series] },
    '00080018': { vr: 'UI', Value: [s.sop] },
    '00200013': { vr: 'IS', Value: [s.instanceNumber] },
    ...(s.z !== undefined ? { '00200032': { vr: 'DS', Value: [0, 0, s.z] }, '00200037': { vr: 'DS', Value: [1, 0, 0, 0, 1, 0] } } : {}),
    ...(s.rows !== undefined ? { '00280010': { vr: 'US', Value: [s.rows] } } : {}),
    ...(s.columns !== undefined ? { '00280011': { vr: 'US', Value: [s.columns] } } : {}),
    ...(s.sopClassUID ? { '00080016': { vr: 'UI', Value: [s.sopClassUID] } } : {}),
    ...(s.frames !== undefined ? { '00280008': { vr: 'IS', Value: [s.frames] } } : {}),
  }));
}

/** `n` slices of one series, numbered 1…n, sop `${series}.${k + 1}`. */
export function seriesSlices(series: string, n: number, extra: Partial<ListedSlice> | ((k: number) => Partial<ListedSlice>) = {}): ListedSlice[] {
  return Array.from({ length: n }, (_, k) => ({
    sop: `${series}.${k + 1}`,
    series,
    instanceNumber: k + 1,
    ...(typeof extra === 'function' ? extra(k) : extra),
  }));
}

/** A whole (tiny) JPEG: SOI … EOI. */
export function tinyJpeg(seed = 0): ArrayBuffer {
  return new Uint8Array([0xff, 0xd8, 0xff, 0xe0, seed & 0xff, 1, 2, 3, 0xff, 0xd9]).buffer;
}

export interface ScriptedSite extends DicomWebApi {
  requests: SiteRequest[];
  /** QIDO-RS instance searches made. */
  listings: string[];
  /** Requests not settled yet. */
  open(kind?: RequestKind): SiteRequest[];
  /** Requests made of `kind`, in order, as SOP Instance UIDs. */
  asked(kind: RequestKind): string[];
  maxInFlight: number;
  /** Largest number of previews in flight at once seen while some lossless file was not asked for yet. */
  maxPreviewsWhileLosslessLeft: number;
  /** Changes the script (e.g. from 'hold' to 'answer' for the rest of a test). */
  script: (r: SiteRequest) => Reply;
  /** Holds the QIDO-RS instance search until the promise settles. */
  listingGate?: Promise<void>;
  /** Answers to the instance search by study; a study not in it has no instances. */
  studies: Map<string, ListedSlice[]>;
}

export function scriptedSite(studies: Record<string, ListedSlice[]>, script: (r: SiteRequest) => Reply = () => 'answer'): ScriptedSite {
  let inFlight = 0;
  let previewsInFlight = 0;
  const site: ScriptedSite = {
    requests: [],
    listings: [],
    maxInFlight: 0,
    maxPreviewsWhileLosslessLeft: 0,
    script,
    studies: new Map(Object.entries(studies)),
    open: (kind) => site.requests.filter((r) => r.state === 'open' && (kind === undefined || r.kind === kind)),
    asked: (kind) => site.requests.filter((r) => r.kind === kind).map((r) => r.sopInstanceUID),
    searchForStudies: async () => [],
    async searchForInstances(studyInstanceUID) {
      site.listings.push(studyInstanceUID);
      if (site.listingGate) await site.listingGate;
      return qidoOf(site.studies.get(studyInstanceUID) ?? []);
    },
    retrieveInstance(uids, signal, options?: RetrieveInstanceOptions) {
      return request('lossless', uids, signal, { ...(options?.transferSyntax ? { transferSyntax: options.transferSyntax } : {}) }, options?.onBytes);
    },
    retrieveRendered(uids, options: RenderedOptions, signal) {
      return request('preview', uids, signal, { viewport: { ...options.viewport }, quality: options.quality }, options.onBytes);
    },
  };

  const sliceOf = (sop: string): ListedSlice | undefined => {
    for (const slices of site.studies.values()) {
      const s = slices.find((x) => x.sop === sop);
      if (s) return s;
    }
    return undefined;
  };

  function request(
    kind: RequestKind,
    uids: { studyInstanceUID: string; sopInstanceUID: string },
    signal: AbortSignal | undefined,
    extra: Partial<SiteRequest>,
    onBytes: ((n: number) => void) | undefined,
  ): Promise<ArrayBuffer> {
    return new Promise<ArrayBuffer>((resolve, reject) => {
      const slice = sliceOf(uids.sopInstanceUID);
      const body = (): ArrayBuffer => {
        if (kind === 'preview') return tinyJpeg(slice?.instanceNumber ?? 0);
        return tinyPart10({ sop: uids.sopInstanceUID, series: slice?.series ?? 'unknown', instanceNumber: slice?.instanceNumber ?? 0, ...(slice?.z !== undefined ? { z: slice.z } : {}) });
      };
      const settle = (state: RequestState): boolean => {
        if (req.state !== 'open') return false;
        req.state = state;
        inFlight--;
        if (kind === 'preview') previewsInFlight--;
        return true;
      };
      const req: SiteRequest = {
        kind,
        studyInstanceUID: uids.studyInstanceUID,
        sopInstanceUID: uids.sopInstanceUID,
        signal,
        state: 'open',
        ...extra,
        answer: () => {
          if (!settle('answered')) return;
          const bytes = body();
          onBytes?.(bytes.byteLength);
          resolve(bytes);
        },
        fail: (err) => {
          if (settle('failed')) reject(err);
        },
      };
      site.requests.push(req);
      inFlight++;
      site.maxInFlight = Math.max(site.maxInFlight, inFlight);
      if (kind === 'preview') {
        previewsInFlight++;
        const all = [...site.studies.get(uids.studyInstanceUID) ?? []].map((s) => s.sop);
        const askedLossless = new Set(site.asked('lossless'));
        if (all.some((s) => !askedLossless.has(s))) site.maxPreviewsWhileLosslessLeft = Math.max(site.maxPreviewsWhileLosslessLeft, previewsInFlight);
      }
      signal?.addEventListener(
        'abort',
        () => {
          // As fetch does: an aborted request never delivers its body.
          if (settle('aborted')) reject(signal.reason);
        },
        { once: true },
      );
      if (signal?.aborted) {
        if (settle('aborted')) reject(signal.reason);
        return;
      }
      const reply = site.script(req);
      if (reply === 'hold') return;
      // A tick later, so requests overlap as they do on a real link.
      setTimeout(() => (reply === 'answer' ? req.answer() : req.fail(reply)), 1);
    });
  }

  return site;
}

/**
 * The same site behind a gateway that takes preview batches (shared/gateway.ts):
 * each batch is recorded, and each of its items asked of the site as a
 * preview request the script answers (so the per-request counts still hold).
 * `refuseBatches` plays a host without the batch endpoint (404).
 */
export function withPreviewBatches(site: ScriptedSite, opts: { refuseBatches?: boolean } = {}): ScriptedSite & { batches: string[][] } {
  const batched = Object.assign(site, { batches: [] as string[][] });
  batched.retrieveRenderedBatch = async (studyInstanceUID, items, options, signal) => {
    batched.batches.push(items.map((i) => i.sopInstanceUID));
    if (opts.refuseBatches) throw new HttpStatusError(404, 'preview batch 404', new Headers({ 'x-telerad-error': 'NOT_FOUND' }));
    return Promise.all(
      items.map(async (i): Promise<RenderedBatchAnswer> => {
        try {
          const bytes = await site.retrieveRendered({ studyInstanceUID, seriesInstanceUID: i.seriesInstanceUID, sopInstanceUID: i.sopInstanceUID }, options, signal);
          return { sopInstanceUID: i.sopInstanceUID, ok: true, bytes };
        } catch (err) {
          if (signal?.aborted) throw err;
          return { sopInstanceUID: i.sopInstanceUID, ok: false, error: err as HttpStatusError };
        }
      }),
    );
  };
  return batched;
}

/** Polls until `cond` holds (3 s at most), so the test reads the state after the retriever's IndexedDB writes. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Lets timers and IndexedDB work that is already due run (for "nothing more happens" checks). */
export function pause(ms = 60): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
