import './app/zod-jitless';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import type { Root } from 'react-dom/client';
import type { VaultStatus } from '../shared/ipc/contract';
import type { RowSealer } from './cache/sealing/row-sealer';
import { createRowSealer } from './cache/sealing/row-sealer';
import { LockScreen } from './lock/LockScreen';
import { createLockedAnswers } from './lock/locked-answers';
import { keepTypedTextOutOfBrowserStorage } from './app/form-state-guard';
import { createLogger } from '../shared/log';
import { App } from './app/App';
import { createRendererLogSink } from './app/log-sink';
import { createAppServiceClient } from './app/service-client';
import { fetchWithLaunchToken, takeLaunchToken } from './app/launch-token';
import { TeleradDB } from './cache/telerad-db';
import { createPdfRuntime } from './lib/pdf/pdf-runtime';
import pdfWorkerUrl from 'pdfjs-dist/build/pdf.worker.min.mjs?url';
import { createAuditReporter } from './audit/audit-store';
import type { Page } from './app/wiring/page';
import { wireAudit } from './app/wiring/audit';
import { sealRowsCachedBeforeEncryption, wireCache } from './app/wiring/cache';
import { wireConnectivity, wirePrefetch, wireSites, wireWorklist } from './app/wiring/worklist';
import { wireViewer } from './app/wiring/viewer';
import { wireStorage } from './app/wiring/storage';
import { wireReferralCases, wireReferralPanel } from './app/wiring/referrals';
import { createBrowserOutbox, wireOutbox, wireOutboxAudit } from './app/wiring/outbox';
import { followCachedStudiesWithBadges, wireQuality } from './app/wiring/quality';
import { wireReports } from './app/wiring/reports';
import { wireCaseThread } from './app/wiring/case-thread';
import { saveTypedTextOnPageHide, wireLock } from './app/wiring/lock';
import './app/theme.css';
import { errorMessage } from '../shared/error-message';

/**
 * The composition root: the only place that constructs services and the only
 * place that touches globals (window, location, fetch). Everything below
 * receives what it needs.
 */
// Browser host: the launch token leaves the address bar before anything else runs, and only the host's
// /api and /sites requests carry it (a header, never a cookie). Electron has no token: its IPC needs none.
const launchToken = window.telerad ? undefined : takeLaunchToken(window);
const windowFetch = window.fetch.bind(window);
const page: Page = {
  window,
  document,
  navigator,
  fetch: launchToken ? fetchWithLaunchToken(windowFetch, launchToken, window.location.origin) : windowFetch,
  now: Date.now,
  random: Math.random,
  randomUUID: () => crypto.randomUUID(),
  startWorker: (url) => new Worker(url),
};
// Main may lock on its own (issue 18); the first LOCKED answer takes the unlocked app to its lock screen.
const lockedAnswers = createLockedAnswers();
const client = createAppServiceClient(window.telerad, page.fetch, lockedAnswers.watch);
const log = createLogger('renderer', createRendererLogSink(client));

/**
 * The unlocked app: every service, over a database that seals what it stores with the vault's keys. One
 * wire<Feature>() per feature in dependency order, each given what it needs and returning what later ones
 * need; the order is also the order services start in (timers, subscriptions, the outbox, prefetch).
 */
function startApp(sealer: RowSealer, vaultStatus: VaultStatus, root: Root): void {
  const db = new TeleradDB('telerad', { sealer });
  const audit = wireAudit({ db, client, log });
  const cache = wireCache({ db, page, log, auditReport: audit.report });
  const connectivity = wireConnectivity(page);
  const { worklist, referralLookup } = wireWorklist({ db, client, page, log, cache, connectivity });
  const prefetch = wirePrefetch({ db, page, log, cache, worklist });
  const sites = wireSites({ client, worklist, log });
  const { viewer, imaging } = wireViewer({ db, page, log, cache, worklist, connectivity });
  const storage = wireStorage({ db, cache, worklist, log });
  const referralPanel = wireReferralPanel({ db, log, cache, referralLookup });
  const pdfRuntime = createPdfRuntime(pdfWorkerUrl, log.child('pdf'));
  const { outbox, deliveryNotices } = wireOutbox({ db, page, log, worklist, connectivity, auditReport: audit.report });
  // Built before the reports and the referral cases, whose signing and sending gates ask it.
  const quality = wireQuality({ cache: cache.cache, imaging, log });
  const reports = wireReports({ db, page, log, cache, worklist, outbox, quality, auditReport: audit.report });
  const caseThread = wireCaseThread({ db, page, log, cache, outbox });
  saveTypedTextOnPageHide(page, [() => reports.panel.flush(), () => caseThread.drafts.flush()]);
  const referralCases = wireReferralCases({ db, page, log, cache, worklist, referralLookup, outbox, quality, auditReport: audit.report });
  followCachedStudiesWithBadges(worklist, quality.badges);
  // A lock writes what is typed (report editor, thread composer, referral wizard) first, with the key still here.
  const lock = wireLock({ client, sealer, vaultStatus, page, log, onLockedAnswer: lockedAnswers.subscribe, flushes: [() => reports.panel.flush(), () => caseThread.drafts.flush(), () => referralCases.flushPendingSaves()] });
  sealRowsCachedBeforeEncryption(db, page, log);

  const { retriever, transfers, progressive } = cache;
  root.render(
    <StrictMode>
      <App deps={{ client, worklist, viewer, log, ...(progressive ? { listAhead: (site, uid) => retriever.listAhead(site, uid) } : {}), sites, referralPanel, pdfRuntime, transfers, connectivity, prefetch, storage, reports, outbox: { jobs: outbox, notices: deliveryNotices }, caseThread, referralCases, quality, audit, lock }} />
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
      // Main answers no sites.* while locked (issue 18): jobs are named by site id here, on no screen.
      const outbox = createBrowserOutbox({ db, page, log, siteName: () => undefined });
      // The user profile is sealed with the data key: deliveries made while locked name the app as actor.
      const auditReport = createAuditReporter(client, () => 'background sending (workstation locked)', log.child('audit'));
      // The same trail as unlocked (app/wiring/outbox.ts): deliveries, site errors, and jobs changed on disk.
      wireOutboxAudit(outbox, auditReport);
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
  if (!window.telerad && !launchToken) {
    root.render(
      <main className="lock-screen" role="alert" data-testid="no-launch-token">
        This page was opened without its launch link. Open the link the browser host printed when it started (it ends in
        #token=…); the app reads it and takes it out of the address bar.
      </main>,
    );
    return;
  }
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
