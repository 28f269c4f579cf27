import { TS_JPEG_LS_LOSSLESS } from '../dicomweb/dicomweb-api';
import { BadAnswerError, HttpStatusError } from '../dicomweb/site-error';
import { dicomParser } from '../lib/dicom/dicom-parser';
import { errorMessage } from '../../shared/error-message';
import type { InstanceMeta, StudyCache } from './study-cache';
import { readPart10Header } from './part10-header';
import type { Part10Header } from './part10-header';
import { negotiatesTransferSyntax, previewViewport } from './retrieval-plan';
import type { PlannedInstance } from './retrieval-plan';
import { untilAborted, withDeadline, withRetry } from './site-requests';
import type { RequestPolicy, StudyRun } from './site-requests';

type Mode = { kind: 'original' } | { kind: 'jpegls' } | { kind: 'probe'; settle: (jpegLs: boolean | undefined) => void };

export interface Fetched {
  bytes: ArrayBuffer;
  header: Part10Header;
}

/** A download waiting to be written; `release` ends its claim on the SOP instance (after the write, whatever its outcome). */
export interface Downloaded {
  fetched: Fetched;
  meta: InstanceMeta;
  release: () => void;
}

/** A site answered 400/406/415 to a transfer syntax it does not offer. */
function refusedTransferSyntax(err: unknown): boolean {
  return err instanceof HttpStatusError && (err.status === 400 || err.status === 406 || err.status === 415);
}

/**
 * A Part 10 file parsed to its last byte: a part that was cut short (a link
 * dropped mid-instance, a site that truncated it) throws here, so it is never
 * stored as if whole. Only offsets are read; nothing is decoded.
 */
function checkComplete(bytes: ArrayBuffer): void {
  try {
    dicomParser.parseDicom(new Uint8Array(bytes));
  } catch {
    throw new BadAnswerError('the DICOM file in the answer is cut short', true);
  }
}

export interface InstanceFetcherDeps {
  cache: Pick<StudyCache, 'hasInstance' | 'getSiteCapability' | 'putSiteCapability'>;
  policy: RequestPolicy;
  /** Ask sites for JPEG-LS lossless when they offer it. */
  negotiateJpegLs: boolean;
  /** Previews' longer side in pixels and JPEG quality. */
  previews: { size: number; quality: number };
}

/**
 * The per-instance fetch, shared by every retrieval: one download of a SOP instance at a
 * time across retrievals (a second one waits for the first), the transfer syntax negotiated
 * once per site, and every answer checked to be the whole file asked for before it counts.
 */
export class InstanceFetcher {
  /** Downloads under way, by SOP Instance UID: a second retrieval of the same study waits for them instead of fetching again. */
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** What each site supports, as remembered in the cache (undefined: not probed yet). */
  private readonly capabilities = new Map<string, boolean | undefined>();
  /** The one probe per site under way; the site's other downloads wait for its outcome. */
  private readonly probes = new Map<string, Promise<void>>();

  constructor(private readonly deps: InstanceFetcherDeps) {}

  /** One preview, at most `previews.size` pixels on its longer side and never larger than the image. */
  async fetchPreview(run: StudyRun, item: PlannedInstance): Promise<{ bytes: ArrayBuffer; width: number; height: number }> {
    const { size, quality } = this.deps.previews;
    const viewport = previewViewport(item.columns, item.rows, size);
    if (run.beforeRequest) await run.beforeRequest(run.signal);
    const bytes = await withDeadline(run, this.deps.policy.requestTimeoutMs, (signal) => run.api.retrieveRendered(item, { viewport, quality, onBytes: run.addBytes }, signal));
    return { bytes, ...viewport };
  }

  /**
   * Fetches one instance unless it is stored already or being fetched by
   * another retrieval (then waits for that one). Returns what was fetched,
   * still claimed until `release` (called once its write has settled), or
   * undefined when someone else stored it.
   */
  async fetchOne(run: StudyRun, item: PlannedInstance): Promise<Downloaded | undefined> {
    const { cache } = this.deps;
    const sop = item.sopInstanceUID;
    for (;;) {
      if (await cache.hasInstance(sop)) return undefined;
      const other = this.inflight.get(sop);
      if (!other) break;
      await untilAborted(
        other.catch(() => undefined),
        run.signal,
      );
    }
    // Claimed until written, not only until downloaded: another retrieval that finds it
    // neither in flight nor stored while it waits in the write buffer would fetch it twice.
    let settle!: () => void;
    const claim = new Promise<void>((r) => (settle = r));
    this.inflight.set(sop, claim);
    const release = (): void => {
      if (this.inflight.get(sop) === claim) this.inflight.delete(sop);
      settle();
    };
    let fetched: Fetched;
    try {
      fetched = await withRetry(run, this.deps.policy, `retrieving instance ${sop} by WADO-RS`, () => this.downloadOnce(run, item));
    } catch (err) {
      release();
      throw err;
    }
    const instanceNumber = fetched.header.instanceNumber ?? item.instanceNumber;
    const meta: InstanceMeta = {
      sopInstanceUID: sop,
      studyInstanceUID: item.studyInstanceUID,
      seriesInstanceUID: item.seriesInstanceUID,
      transferSyntaxUID: fetched.header.transferSyntaxUID,
      ...(instanceNumber !== undefined ? { instanceNumber } : {}),
      ...(fetched.header.imagePositionPatient ? { imagePositionPatient: fetched.header.imagePositionPatient } : {}),
      ...(fetched.header.imageOrientationPatient ? { imageOrientationPatient: fetched.header.imageOrientationPatient } : {}),
    };
    return { fetched, meta, release };
  }

  /** One try at one instance, in the transfer syntax negotiated for its site. */
  private async downloadOnce(run: StudyRun, item: PlannedInstance): Promise<Fetched> {
    const mode: Mode = negotiatesTransferSyntax(item.sopClassUID) ? await this.modeFor(run.site.id, run.signal) : { kind: 'original' };
    if (mode.kind === 'original') return this.fetchAs(run, item, '*');

    let answer: Fetched | undefined;
    try {
      answer = await this.fetchAs(run, item, TS_JPEG_LS_LOSSLESS);
    } catch (err) {
      const refused = refusedTransferSyntax(err);
      if (mode.kind === 'probe') mode.settle(refused ? false : undefined);
      // A site that offers JPEG-LS may still fail to transcode one object (500): that one comes as stored.
      if (!refused && !(mode.kind === 'jpegls' && err instanceof HttpStatusError && err.status === 500)) throw err;
      this.deps.policy.log.info(`${run.site.id} refused JPEG-LS for ${item.sopInstanceUID} (${errorMessage(err)}); fetching it as stored`);
      return this.fetchAs(run, item, '*');
    }
    const isJpegLs = answer.header.transferSyntaxUID === TS_JPEG_LS_LOSSLESS;
    if (mode.kind === 'probe') {
      mode.settle(isJpegLs);
      this.deps.policy.log.info(`${run.site.id} ${isJpegLs ? 'transcodes' : 'does not transcode'} to JPEG-LS lossless (answered ${answer.header.transferSyntaxUID})`);
    }
    if (isJpegLs) return answer;
    // Asked for lossless JPEG-LS, got something else (possibly lossy): never stored as if it were what we asked for.
    return this.fetchAs(run, item, '*');
  }

  /** Fetches one instance in `transferSyntax` and checks it is a whole DICOM file of the instance asked for. */
  private async fetchAs(run: StudyRun, item: PlannedInstance, transferSyntax: string): Promise<Fetched> {
    // Paced before the deadline starts: waiting for bandwidth is not the site being slow.
    if (run.beforeRequest) await run.beforeRequest(run.signal);
    const bytes = await withDeadline(run, this.deps.policy.requestTimeoutMs, (signal) => run.api.retrieveInstance(item, signal, { transferSyntax, onBytes: run.addBytes }));
    let header: Part10Header;
    try {
      header = readPart10Header(bytes);
    } catch {
      throw new BadAnswerError(`the answer for ${item.sopInstanceUID} is not a DICOM file`);
    }
    if (header.sopInstanceUID && header.sopInstanceUID !== item.sopInstanceUID) {
      throw new BadAnswerError(`asked for instance ${item.sopInstanceUID}, got ${header.sopInstanceUID}`);
    }
    checkComplete(bytes);
    return { bytes, header };
  }

  /**
   * The transfer syntax to ask a site for. Unknown sites are probed once,
   * with the first instance fetched there; the others wait for the outcome,
   * which is remembered in the cache (siteCapabilities) across sessions.
   */
  private async modeFor(siteId: string, signal: AbortSignal): Promise<Mode> {
    if (!this.deps.negotiateJpegLs) return { kind: 'original' };
    for (;;) {
      if (!this.capabilities.has(siteId)) {
        const rec = await this.deps.cache.getSiteCapability(siteId);
        if (!this.capabilities.has(siteId)) this.capabilities.set(siteId, rec?.jpegLsLossless);
      }
      const known = this.capabilities.get(siteId);
      if (known !== undefined) return { kind: known ? 'jpegls' : 'original' };
      const pending = this.probes.get(siteId);
      if (pending) {
        await untilAborted(pending, signal);
        continue;
      }
      let release!: () => void;
      const probe = new Promise<void>((r) => (release = r));
      this.probes.set(siteId, probe);
      let settled = false;
      return {
        kind: 'probe',
        settle: (jpegLs) => {
          if (settled) return;
          settled = true;
          this.probes.delete(siteId);
          if (jpegLs !== undefined) {
            this.capabilities.set(siteId, jpegLs);
            void this.deps.cache
              .putSiteCapability({ siteId, jpegLsLossless: jpegLs, probedAt: Date.now() })
              .catch((err: unknown) => this.deps.policy.log.warn(`Could not remember ${siteId}'s capabilities`, err));
          }
          release();
        },
      };
    }
  }
}
