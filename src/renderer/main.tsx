import './app/zod-jitless';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import type { Root } from 'react-dom/client';
import type { VaultStatus } from '../shared/ipc/contract';
import type { RowSealer } from './cache/sealing/row-sealer';
import { createRowSealer } from './cache/sealing/row-sealer';
import { sealExistingRows } from './cache/sealing/seal-existing-rows';
import { createLockController } from './lock/lock-controller';
import { LockScreen } from './lock/LockScreen';
import { keepTypedTextOutOfBrowserStorage } from './app/form-state-guard';
import { createLogger } from '../shared/log';
import { App } from './app/App';
import { createRendererLogSink } from './app/log-sink';
import { createAppServiceClient } from './app/service-client';
import { CacheBudget } from './cache/cache-budget';
import { StudyCache } from './cache/study-cache';
import { StudyRetriever } from './cache/study-retriever';
import { TeleradDB } from './cache/telerad-db';
import { createDicomWebApiFactory, instanceListsAfterTheFirstSlice } from './dicomweb/dicomweb-api';
import { isOfflineFailure } from './dicomweb/site-error';
import { createConnectivityStore, windowNetworkSignal } from './app/connectivity';
import { browserNetworkStatus, createPrefetch } from './prefetch/prefetch-wiring';
import { createPdfRuntime } from './lib/pdf/pdf-runtime';
import { createReferralPanelStore } from './referral/referral-panel-store';
import { createPdfAttachmentLoader, createReferralLookup } from './referral/referral-reader';
import { DECODE_WORKER_FILE, JPEGLS_ENCODER_WORKER_FILE } from '../shared/csp';
import { DECODED_IMAGE_CACHE_BYTES, initCornerstone } from './viewer/cornerstone-setup';
import { createViewerStore } from './viewer/viewer-store';
import { createReports } from './reports/report-wiring';
import { createLosslessGate } from './reports/lossless-gate';
import { createCaseThread } from './case-thread/thread-wiring';
import { hasUnsentReportWork } from './reports/report-status';
import { createStackPreloader } from './viewer/stack-preloader';
import { initTools } from './viewer/tools-setup';
import { createAnnotationRepo } from './viewer/annotations/annotation-repo';
import { createMeasurementStore } from './viewer/annotations/measurement-store';
import type { ViewerStore } from './viewer/viewer-store';
import { createStorageStore } from './storage/storage-store';
import { startAutoRefresh } from './worklist/auto-refresh';
import { createCachedStudyBytes, createStoredInstanceCounts } from './worklist/cached-sizes';
import { classifyWorklistError, querySiteStudies } from './worklist/qido-worklist';
import { createWorklistStore } from './worklist/worklist-store';
import { createSitesStore } from './sites/sites-store';
import { createTransfersStore } from './cache/transfers-store';
import pdfWorkerUrl from 'pdfjs-dist/build/pdf.worker.min.mjs?url';
import { createDeliveryNotices } from './outbox/delivery-notices';
import { createOutbox } from './outbox/outbox-scheduler';
import type { Outbox } from './outbox/outbox-scheduler';
import { createReferralCaseUi } from './referral-cases/referral-case-wiring';
import { LOCAL_SITE_ID } from './referral-cases/referral-case-repo';
import { createAuditReporter, createAuditStore, deliveryAuditRecord, failedDeliveryAuditRecord, retrievalAuditRecord } from './audit/audit-store';
import { liveQuery } from 'dexie';
import { lastDownloadBytesPerSecond, measuredBitsPerSecond } from './case-send/send-estimate';
import { createWorkerFrameCodec } from './case-send/jpegls-codec';
import { loadDcmjs } from './lib/dicom/dcmjs-runtime';
import { createSiteTransport } from './outbox/stow-client';
import { gatewayPathForSite } from '../shared/gateway';
import { createQualityService } from './quality/study-quality';
import { badgeCandidates, createQualityBadges } from './quality/quality-badges';
import type { StoredPixels } from '../shared/quality';
import './app/theme.css';
import { errorMessage } from '../shared/error-message';

/**
 * The composition root: the only place that constructs services and the only
 * place that touches globals (window, location, fetch). Everything below
 * receives what it needs.
 */
const client = createAppServiceClient(window.telerad, window.fetch.bind(window));
const log = createLogger('renderer', createRendererLogSink(client));
/** The outbox over this page's database, sending through the gateway (the same in the unlocked app and behind the lock). */
function createBrowserOutbox(db: TeleradDB, siteName: (siteId: string) => string | undefined): Outbox {
  return createOutbox({
    db,
    transport: createSiteTransport({ fetchImpl: window.fetch.bind(window), siteBaseUrl: (id) => window.location.origin + gatewayPathForSite(id) }),
    clock: { now: Date.now, setTimeout: (fn, ms) => window.setTimeout(fn, ms), clearTimeout: (h) => window.clearTimeout(h as number) },
    random: Math.random,
    log: log.child('outbox'),
    network: browserNetworkStatus(window, navigator),
    siteName,
  });
}

/** The unlocked app: every service, over a database that seals what it stores with the vault's keys. */
function startApp(sealer: RowSealer, vaultStatus: VaultStatus, root: Root): void {
  const db = new TeleradDB('telerad', { sealer });
  // Who the audit trail names: the user profile's name, followed live (it can be filled in later).
  let profileName = '';
  liveQuery(() => db.userProfile.get('me')).subscribe({
    next: (p) => {
      profileName = p?.name.trim() ?? '';
    },
    error: (err: unknown) => log.warn('Reading the user profile failed', err),
  });
  // main's audit trail (issue 9): what the app reports (views, signatures, exports, deliveries) and the "Audit" view.
  const auditReport = createAuditReporter(client, () => profileName, log.child('audit'));
  const auditStore = createAuditStore({ client, log: log.child('audit'), report: auditReport });
  // Studies open in the viewer (counted: StrictMode opens twice): never evicted. Kept by the viewer wrapper below.
  const openStudies = new Map<string, number>();
  const isOpen = (uid: string): boolean => (openStudies.get(uid) ?? 0) > 0;
  const budget = new CacheBudget({
    db,
    log: log.child('storage'),
    storage: navigator.storage,
    isOpen,
    // A case with a report draft or an unsent outbox job keeps its images (signing and corrections read them).
    hasUnsentWork: (uid) => hasUnsentReportWork(db, uid),
    // Only a case the user is waiting for evicts others; prefetch stops at the budget rather than churn.
    mayEvictFor: isOpen,
    onEvicted: () => {
      void worklist.refreshCached();
      void storage.refresh();
    },
  });
  void budget.start();
  const cache = new StudyCache(db, Date.now, budget);
  const siteDicomweb = createDicomWebApiFactory(window.location.origin, window.fetch.bind(window));
  const transfers = createTransfersStore();
  // `?open=complete`: the path before progressive reading (wait for the whole study), bench/progressive's baseline.
  const progressive = new URLSearchParams(window.location.search).get('open') !== 'complete';
  // Every retrieval from a site is an audit event (issue 9), prefetch included.
  // Request slots per site: the default (5) leaves one of the page's six connections to its origin for the rest.
  const retriever = new StudyRetriever({ cache, dicomweb: siteDicomweb, log: log.child('retrieve'), transfers, onStudyRetrieved: (e) => void auditReport(retrievalAuditRecord(e)) });
  // Everyone else's instance queries of a study wait for the viewer's first slice of it: the side panels
  // (referral, reports at the site, case thread) asked for theirs at the same moment, and a site answers a
  // 300-instance list in ≈ 0.2 s of work each — the first slice waited behind all four (bench/progressive).
  const dicomweb = instanceListsAfterTheFirstSlice(siteDicomweb, (uid) => retriever.firstSliceSettled(uid));
  const referralLookup = createReferralLookup({ db, dicomweb, log: log.child('referral') });
  // Back online: retrievals that failed on the way resume where they stopped.
  window.addEventListener('online', () => transfers.resumeFailed());
  // Offline made visible: the browser's network signal plus what each site last answered.
  const connectivity = createConnectivityStore(windowNetworkSignal(window, navigator));
  const worklist = createWorklistStore({
    listSites: async () => {
      const listed = await client.sites.list({});
      connectivity.setSites(listed.map((s) => s.id));
      return listed;
    },
    queryStudies: (site) =>
      querySiteStudies(dicomweb(site), site).then(
        (answer) => {
          connectivity.reportSiteReachable(site.id, true);
          return answer;
        },
        (err: unknown) => {
          // A refused login or a bad answer still means the site was reached.
          connectivity.reportSiteReachable(site.id, !isOfflineFailure(classifyWorklistError(err)));
          throw err;
        },
      ),
    // Cases imported here for a referral are the rural side's own (My referrals), not studies to read.
    listCachedStudies: async () => (await cache.listCachedStudies()).filter((st) => st.siteId !== LOCAL_SITE_ID),
    cachedStudyBytes: createCachedStudyBytes(cache),
    storedInstanceCounts: createStoredInstanceCounts(db),
    lookupReferral: referralLookup,
    classifyError: classifyWorklistError,
    log: log.child('worklist'),
  });
  // Timed refresh every 2 minutes, paused while the page is hidden; the first load is App's.
  startAutoRefresh({
    refresh: () => worklist.refresh(),
    lastRefreshAt: () => worklist.getState().lastRefreshAt,
    visibility: {
      isHidden: () => document.visibilityState === 'hidden',
      onChange(listener) {
        document.addEventListener('visibilitychange', listener);
        return () => document.removeEventListener('visibilitychange', listener);
      },
    },
  });
  // Background download of STAT/urgent, marked and keep-offline cases; yields to the user's own retrievals.
  const prefetch = createPrefetch({
    db,
    cache,
    retriever,
    worklist,
    dicomweb,
    network: browserNetworkStatus(window, navigator),
    log: log.child('prefetch'),
  });
  void prefetch.settings.load().catch((err: unknown) => log.warn('Reading prefetch settings failed', err));
  prefetch.scheduler.start();
  const sites = createSitesStore({ client, onSitesChanged: () => void worklist.refresh(), log: log.child('sites') });
  const imaging = initCornerstone(log.child('cornerstone'), navigator.hardwareConcurrency, {
    host: window,
    url: new URL(`assets/${DECODE_WORKER_FILE}`, document.baseURI).href,
  });
  const measurements = createMeasurementStore({
    tools: initTools(imaging, log.child('tools')),
    repo: createAnnotationRepo(db),
    getImage: (el) => imaging.cornerstone.getImage(el),
    now: Date.now,
    log: log.child('measurements'),
  });
  const viewerBase = createViewerStore({
    cache,
    retriever,
    imaging,
    log: log.child('viewer'),
    onCacheChanged: () => void worklist.refreshCached(),
    isOnline: connectivity.isOnline,
    measurements,
    createPreloader: createStackPreloader,
    decodedCacheBytes: DECODED_IMAGE_CACHE_BYTES,
    progressive,
  });
  // Images dropped by the integrity check while offline are fetched as soon as the network is back.
  connectivity.subscribe(() => {
    if (connectivity.isOnline()) viewer.refetchDropped();
  });
  // The open study is never evicted while it is on screen.
  const viewer: ViewerStore = {
    ...viewerBase,
    open(req) {
      const uid = req.study.studyInstanceUID;
      openStudies.set(uid, (openStudies.get(uid) ?? 0) + 1);
      const close = viewerBase.open(req);
      return () => {
        openStudies.set(uid, (openStudies.get(uid) ?? 1) - 1);
        if (!isOpen(uid)) openStudies.delete(uid);
        close();
      };
    },
  };
  const storage = createStorageStore({
    db,
    budget,
    isOpen,
    siteName: (id) => worklist.getState().sites.find((s) => s.site.id === id)?.site.name,
    onCacheChanged: () => void worklist.refreshCached(),
    log: log.child('storage'),
  });

  const referralPanel = createReferralPanelStore({
    lookup: referralLookup,
    loadPdf: createPdfAttachmentLoader({ cache, dicomweb, log: log.child('referral') }),
    cachedReferral: (studyUID) => db.referrals.get(studyUID),
    log: log.child('referral'),
  });
  const pdfRuntime = createPdfRuntime(pdfWorkerUrl, log.child('pdf'));

  // Outbox (issue 6; issue 7's referrals too): durable jobs delivered by STOW-RS through the gateway, exactly once.
  const outbox = createBrowserOutbox(db, (id) => worklist.getState().sites.find((s) => s.site.id === id)?.site.name);
  void outbox.start();
  // A site the worklist finds reachable again: jobs backing off from it go now rather than at their next try.
  let unreachableBefore = new Set(connectivity.getState().unreachableSiteIds);
  connectivity.subscribe(() => {
    const now = new Set(connectivity.getState().unreachableSiteIds);
    for (const id of unreachableBefore) if (!now.has(id)) void outbox.siteReachable(id);
    unreachableBefore = now;
  });
  // Every delivery to a site is an audit event: what left, for which study, to where.
  outbox.onDelivered((job) => void auditReport(deliveryAuditRecord(job)));
  // A site answering an error to a delivery: once per job and distinct error, not once per retry.
  outbox.onFailed((f) => void auditReport(failedDeliveryAuditRecord(f)));
  const deliveryNotices = createDeliveryNotices({ onDelivered: outbox.onDelivered, setTimeout: (fn, ms) => window.setTimeout(fn, ms) });

  // Reports (issue 6): drafts, signing into the outbox, case statuses and the read-back of a site's reports.
  const reports = createReports({
    db,
    readInstanceBytes: (uid) => cache.readInstanceBytes(uid),
    dicomweb,
    loadSitePdf: createPdfAttachmentLoader({ cache, dicomweb, log: log.child('reports') }),
    worklist,
    enqueueOutboxJob: outbox.enqueue,
    audit: (event) => auditReport(event),
    randomUUID: () => crypto.randomUUID(),
    now: Date.now,
    log: log.child('reports'),
    // The quality service is made below; signing asks it only once the app runs.
    quality: { checkStudy: (uid) => quality.checkStudy(uid) },
    // Signed on lossless images only: a measured or key slice seen as a preview is waited for, first in the queue.
    losslessGate: createLosslessGate({
      hasLossless: (sop) => cache.hasInstance(sop),
      hasPreview: (sop) => cache.hasPreview(sop),
      isStreaming: (uid) => retriever.isStreaming(uid),
      prioritize: (uid, sops) => retriever.prioritize(uid, sops),
      onStored: (listener) => retriever.onStored(listener),
    }),
  });
  // Leaving the page: write what is typed now rather than at the next debounce.
  window.addEventListener('pagehide', () => {
    void reports.panel.flush();
    void caseThread.drafts.flush();
  });

  // The conversation around a case (issue 7): notes from the site and written here, actions through the outbox.
  const caseThread = createCaseThread({
    db,
    cache,
    dicomweb,
    loadPdf: createPdfAttachmentLoader({ cache, dicomweb, log: log.child('thread') }),
    enqueueOutboxJob: outbox.enqueue,
    randomUUID: () => crypto.randomUUID(),
    now: Date.now,
    log: log.child('thread'),
  });

  // Referral cases (issue 7): the wizard's import into the local cache, sending through the outbox, "My referrals".
  // The JPEG-LS encoder worker starts on the first compressed send, not with the app.
  const jpeglsCodec = createWorkerFrameCodec(() => new Worker(new URL(`assets/${JPEGLS_ENCODER_WORKER_FILE}`, document.baseURI)));
  const referralCases = createReferralCaseUi({
    db,
    cache,
    loadDcmjs,
    outbox,
    site: (id) => worklist.getState().sites.find((s) => s.site.id === id)?.site,
    reportArrived: async (site, uid) => (await referralLookup(site, uid))?.hasReport ?? false,
    measuredBitsPerSecond: () =>
      measuredBitsPerSecond({ uploadBytesPerSecond: outbox.getState().lastUploadBytesPerSecond, downloadBytesPerSecond: lastDownloadBytesPerSecond(transfers.getState()) }),
    transcodeDeps: async () => ({ dcmjs: await loadDcmjs(), codec: jpeglsCodec }),
    now: Date.now,
    randomUUID: () => crypto.randomUUID(),
    log: log.child('referral-cases'),
    // The quality gate before sending (issue 8); the service is made below, asked only once the app runs.
    quality: { checkInstances: (sops, context) => quality.checkInstances(sops, context) },
    audit: (event) => auditReport(event),
  });

  // Image quality checks (issue 8) over the local cache: compressed pixels decode in the viewer's decode workers.
  const quality = createQualityService({
    readInstanceBytes: (sop) => cache.readInstanceBytes(sop),
    listStudyInstances: (uid) => cache.getStudyInstances(uid),
    decodePixels: async (bytes) => {
      const file = new Blob([bytes], { type: 'application/dicom' });
      const imageId = imaging.addFile(file);
      try {
        const image = await imaging.cornerstone.loadImage(imageId);
        // Not in the image cache, so nothing else would release the loader's parsed copy of the file.
        image.decache?.();
        const px = image.getPixelData();
        return ArrayBuffer.isView(px) ? (px as StoredPixels) : undefined;
      } finally {
        imaging.removeFile?.(imageId, file);
      }
    },
    log: log.child('quality'),
  });
  // The worklist's badges read headers and native pixels only: decoding every cached compressed study on each
  // launch would keep the viewer's decode workers busy. Opening a case runs the full checks (its panel) and
  // updates its badge with that result.
  const headerQuality = createQualityService({
    readInstanceBytes: (sop) => cache.readInstanceBytes(sop),
    listStudyInstances: (uid) => cache.getStudyInstances(uid),
    log: log.child('quality'),
  });
  const qualityBadges = createQualityBadges({ quality: headerQuality, log: log.child('quality') });
  // Badges for complete cached cases, in the background, whenever the worklist's cached list changes.
  const updateQualityBadges = (): void => {
    void qualityBadges.update(badgeCandidates(worklist.getState().cached));
  };
  let lastCached = worklist.getState().cached;
  worklist.subscribe(() => {
    if (worklist.getState().cached === lastCached) return;
    lastCached = worklist.getState().cached;
    updateQualityBadges();
  });

  const lock = createLockController({
    vault: client.vault,
    onActivity: (listener) => {
      const events = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart'] as const;
      for (const e of events) window.addEventListener(e, listener, { passive: true, capture: true });
      return () => {
        for (const e of events) window.removeEventListener(e, listener, { capture: true });
      };
    },
    hideScreen: () => document.body.classList.add('app-locking'),
    dropKey: () => sealer.dropDataKey(),
    reload: () => window.location.reload(),
    clock: { now: Date.now, setInterval: (fn, ms) => window.setInterval(fn, ms), clearInterval: (h) => window.clearInterval(h as number) },
    log: log.child('lock'),
  });
  // A lock writes what is typed (report editor, thread composer, referral wizard) first, with the key still here.
  lock.registerFlush(() => reports.panel.flush());
  lock.registerFlush(() => caseThread.drafts.flush());
  lock.registerFlush(() => referralCases.flushPendingSaves());
  lock.start(vaultStatus);
  // Rows cached before encryption at rest: sealed once, in the background (readable meanwhile).
  void sealExistingRows(db, { log: log.child('sealing'), now: Date.now }).catch((err: unknown) => log.error('Sealing the existing cache failed', err));

  root.render(
    <StrictMode>
      <App deps={{ client, worklist, viewer, log, ...(progressive ? { listAhead: (site, uid) => retriever.listAhead(site, uid) } : {}), sites, referralPanel, pdfRuntime, transfers, connectivity, prefetch, storage, reports, outbox: { jobs: outbox, notices: deliveryNotices }, caseThread, referralCases, quality: { service: quality, badges: qualityBadges }, audit: { store: auditStore, report: auditReport }, lock }} />
    </StrictMode>,
  );
}

/**
 * Locked (or first start): only the lock screen. When main still holds the outbox key (unlocked once in
 * this run), the outbox keeps sending in the background; nothing else can open the cache without the
 * data key.
 */
async function startLocked(status: VaultStatus, root: Root): Promise<void> {
  let outboxWaiting: (() => number) | undefined;
  let subscribeOutbox: ((l: () => void) => () => void) | undefined;
  if (status.state === 'locked' && status.outboxKeyAvailable) {
    try {
      const k = await client.vault.outboxKey({});
      const sealer = await createRowSealer({ keyId: k.keyId, outboxKey: k.outboxKey });
      const db = new TeleradDB('telerad', { sealer });
      const siteNames = new Map<string, string>();
      void client.sites.list({}).then((list) => list.forEach((s) => siteNames.set(s.id, s.name)), () => undefined);
      const outbox = createBrowserOutbox(db, (id) => siteNames.get(id));
      // The user profile is sealed with the data key: deliveries made while locked name the app as actor.
      const auditReport = createAuditReporter(client, () => 'background sending (workstation locked)', log.child('audit'));
      outbox.onDelivered((job) => void auditReport(deliveryAuditRecord(job)));
      void outbox.start();
      outboxWaiting = () => outbox.getState().unsent;
      subscribeOutbox = (l) => outbox.subscribe(l);
    } catch (err) {
      log.warn('Background sending could not start while locked', err);
    }
  }
  const render = (): void =>
    root.render(
      <StrictMode>
        <LockScreen vault={client.vault} status={status} onUnlocked={() => window.location.reload()} log={log.child('lock')} {...(outboxWaiting ? { outboxWaiting: outboxWaiting() } : {})} />
      </StrictMode>,
    );
  subscribeOutbox?.(render);
  render();
}


window.addEventListener('unhandledrejection', (e) => log.error('Unhandled rejection', e.reason));
window.addEventListener('error', (e) => log.error('Uncaught error', e.error ?? e.message));

async function boot(root: Root): Promise<void> {
  const status = await client.vault.status({});
  if (status.state !== 'unlocked') return startLocked(status, root);
  const keys = await client.vault.keys({});
  startApp(await createRowSealer(keys), status, root);
}

const rootEl = document.getElementById('root');
if (!rootEl) throw new Error('index.html has no #root');
// What is typed (report text, referral questions, patient names) never goes to Chromium's session or autofill files.
keepTypedTextOutOfBrowserStorage(document.body, MutationObserver);
const appRoot = createRoot(rootEl);
boot(appRoot).catch((err: unknown) => {
  log.error('Starting the app failed', err);
  appRoot.render(
    <main className="lock-screen" role="alert">
      The app could not start: {errorMessage(err)}. Reload to try again.
    </main>,
  );
});
