// Referral cases (issue 7) put together for main.tsx: the repo, the "My
// referrals" store following the outbox, and what the UI asks of them.
import type { EnqueueOutboxJob } from '../outbox';
import { findOutboxJobs } from '../outbox';
import type { Logger } from '../../shared/log';
import type { SiteSummary } from '../../shared/ipc/contract';
import type { ReferralCaseRecord, TeleradDB } from '../cache/telerad-db';
import type { DcmjsRuntime } from '../lib/dicom/dcmjs-runtime';
import { estimateCompressed, estimateSend } from '../case-send';
import { trackPendingSaves } from './pending-saves';
import { prepareCaseForSending } from '../case-send';
import type { TranscodeDeps } from '../case-send';
import type { OpenRequest } from '../viewer';
import { LOCAL_SITE_ID, createReferralCases } from './referral-case-repo';
import type { CaseCache, CaseQualityChecker, ReferralCaseDeps, ReferralCases, SendFile } from './referral-case-repo';
import { createMyReferralsStore } from './referral-case-status';
import type { JobProgressView, MyReferralsStore } from './referral-case-status';

export interface SendEstimate {
  /** Bytes that go on the wire. */
  bytes: number;
  seconds: number;
  /** What the estimate assumes, for the user: "1.8 Mbit/s (measured)". */
  basis: string;
}

/** A rural link as planned for when nothing has been measured yet: 2 Mbit/s. */
export const ASSUMED_LINK_BITS_PER_SECOND = 2_000_000;

/**
 * Size and time before sending (case-send's estimateSend): at the link speed
 * the app measured (the outbox's last upload, else the last download), else
 * at an assumed rural link, and the UI says which.
 */
export function sendEstimate(bytes: number, measuredBitsPerSecond: number | undefined): SendEstimate {
  const measured = measuredBitsPerSecond !== undefined && measuredBitsPerSecond > 0;
  const bps = measured ? measuredBitsPerSecond : ASSUMED_LINK_BITS_PER_SECOND;
  const e = estimateSend([bytes], { bitsPerSecond: bps });
  return { bytes: e.bytes, seconds: e.seconds ?? (bytes * 8) / bps, basis: `${(bps / 1e6).toFixed(1)} Mbit/s (${measured ? 'measured' : 'assumed'})` };
}

export interface ReferralCaseWiringDeps {
  db: TeleradDB;
  cache: CaseCache;
  loadDcmjs: () => Promise<DcmjsRuntime>;
  outbox: { wake(): void; enqueue: EnqueueOutboxJob; getState(): { jobs: readonly JobProgressView[] }; subscribe(listener: () => void): () => void };
  /** The site of an id, when configured. */
  site: (siteId: string) => SiteSummary | undefined;
  /** Whether the site holds a report for a study (the referral lookup's hasReport). */
  reportArrived: (site: SiteSummary, studyInstanceUID: string) => Promise<boolean>;
  /** The link speed the app measured (bits/s), when it has. */
  measuredBitsPerSecond?: () => number | undefined;
  /**
   * case-send's JPEG-LS codec (a worker) and dcmjs. Absent: the "send
   * JPEG-LS lossless compressed" choice is not offered and files go as imported.
   */
  transcodeDeps?: () => Promise<TranscodeDeps>;
  /** The quality service (issue 8): its findings show before sending and its blockers gate the send. */
  quality?: CaseQualityChecker;
  /** main's audit trail (issue 9): what was de-identified and sent, and any quality override. */
  audit?: ReferralCaseDeps['audit'];
  now: () => number;
  randomUUID: () => string;
  log: Logger;
}

export interface ReferralCaseUi {
  cases: ReferralCases;
  myReferrals: MyReferralsStore;
  estimate: (bytes: number, instances: number, compress: boolean) => SendEstimate;
  /** Whether JPEG-LS lossless transcoding is available in this build. */
  canCompress: boolean;
  /** The case's bytes once JPEG-LS compressed, from a few images actually encoded (case-send's estimateCompressed). */
  compressedBytes: (record: ReferralCaseRecord) => Promise<number>;
  /** The referring clinician a new case starts with: the user profile's name. */
  defaultClinician: () => Promise<string | undefined>;
  /** The viewer request for a case: its study at the site once delivered, else a local study from the cache. */
  openRequest: (record: ReferralCaseRecord, localStudyInstanceUID?: string) => Promise<OpenRequest>;
  /** Resolves once every draft field typed so far is written (a lock waits for this before it reloads). */
  flushPendingSaves: () => Promise<void>;
}

/** The files as sent: JPEG-LS lossless where case-send can re-encode them, else as they are. */
async function compressFiles(files: SendFile[], compress: boolean, transcodeDeps: () => Promise<TranscodeDeps>): Promise<SendFile[]> {
  if (!compress) return files;
  const prepared = await prepareCaseForSending(
    files.map((f) => f.bytes),
    { compress, deps: await transcodeDeps() },
  );
  return prepared.instances.map((i) => ({ sopInstanceUID: i.sopInstanceUID, sopClassUID: i.sopClassUID, seriesInstanceUID: i.seriesInstanceUID, bytes: i.bytes }));
}

export function createReferralCaseUi(deps: ReferralCaseWiringDeps): ReferralCaseUi {
  const { db, log } = deps;
  const casesRaw = createReferralCases({
    db,
    cache: deps.cache,
    loadDcmjs: deps.loadDcmjs,
    enqueueOutboxJob: deps.outbox.enqueue,
    now: deps.now,
    randomUUID: deps.randomUUID,
    log,
    ...(deps.quality ? { quality: deps.quality } : {}),
    ...(deps.audit ? { audit: deps.audit } : {}),
    ...(deps.transcodeDeps ? { prepareForSending: (files, options) => compressFiles(files, options.compress, deps.transcodeDeps!) } : {}),
  });
  // A lock must not reload the page while a typed change is still on its way to the database.
  const { cases, flushPendingSaves } = trackPendingSaves(casesRaw);
  const myReferrals = createMyReferralsStore({
    cases,
    jobs: () => deps.outbox.getState().jobs,
    reportArrived: async (siteId, uid) => {
      const site = deps.site(siteId);
      return site ? deps.reportArrived(site, uid) : false;
    },
    log,
  });
  // Per-instance progress and delivery show in the list as the outbox moves. A 300-instance upload
  // notifies 300 times: refreshes are coalesced (one running, at most one more after it).
  let running: Promise<void> | undefined;
  let again = false;
  const follow = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = myReferrals.refresh().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        follow();
      }
    });
  };
  deps.outbox.subscribe(follow);

  return {
    cases,
    flushPendingSaves,
    myReferrals,
    estimate: (bytes) => sendEstimate(bytes, deps.measuredBitsPerSecond?.()),
    canCompress: !!deps.transcodeDeps,
    async compressedBytes(record) {
      const rows = (await db.instances.bulkGet(record.sopInstanceUIDs)).filter((r) => r !== undefined);
      const total = rows.reduce((n, r) => n + r.size, 0);
      if (!deps.transcodeDeps || rows.length === 0) return total;
      // A few images spread over the case are encoded; their ratio is applied to the whole case.
      const picks = [...new Set([0.2, 0.5, 0.8].map((f) => rows[Math.floor(f * rows.length)]!))];
      const sample: ArrayBuffer[] = [];
      for (const r of picks) {
        const bytes = await deps.cache.readInstanceBytes(r.sopInstanceUID);
        if (bytes) sample.push(bytes);
      }
      if (sample.length < picks.length) log.warn(`Compressed-size estimate: ${picks.length - sample.length} of ${picks.length} sampled images are not in the cache`);
      const e = await estimateCompressed(sample, await deps.transcodeDeps(), { sampleSize: sample.length });
      if (e.kept?.length) log.warn(`Compressed-size estimate: ${e.kept.length} of ${sample.length} sampled images stay as they are: ${[...new Set(e.kept)].join('; ')}`);
      return e.originalBytes > 0 ? Math.round((total * e.bytes) / e.originalBytes) : total;
    },
    defaultClinician: async () => {
      const p = await db.userProfile.get('me');
      const name = p?.name.trim();
      return name ? [name, p?.credentials.trim()].filter(Boolean).join(', ') : undefined;
    },
    async openRequest(record, localUid) {
      if (record.state !== 'draft' && record.sentStudyInstanceUID && record.siteId && !localUid) {
        const site = deps.site(record.siteId);
        const jobs = await findOutboxJobs(db, record.outboxJobIds);
        return {
          site,
          study: {
            studyInstanceUID: record.sentStudyInstanceUID,
            siteId: record.siteId,
            patientName: record.patient.name,
            patientId: record.patient.id,
            studyDate: '',
            modalities: [],
            description: 'Referral',
            numInstances: jobs.reduce((n, j) => n + (j?.instances.length ?? 0), 0),
          },
        };
      }
      const uid = localUid ?? record.localStudyInstanceUID;
      const st = await db.studies.get(uid);
      // site undefined: the viewer reads the cache only (nothing of a local case is at any site).
      return {
        site: undefined,
        study: {
          studyInstanceUID: uid,
          siteId: LOCAL_SITE_ID,
          patientName: st?.patientName ?? record.patient.name,
          patientId: st?.patientId ?? record.patient.id,
          studyDate: st?.studyDate ?? '',
          modalities: st?.modalities ?? [],
          description: st?.description ?? 'Referral case',
          numInstances: st?.numInstances ?? 0,
          pinned: true,
        },
      };
    },
  };
}
