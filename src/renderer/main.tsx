import './app/zod-jitless';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createLogger } from '../shared/log';
import { App } from './app/App';
import { createRendererLogSink } from './app/log-sink';
import { createAppServiceClient } from './app/service-client';
import { StudyCache } from './cache/study-cache';
import { StudyRetriever } from './cache/study-retriever';
import { TeleradDB } from './cache/telerad-db';
import { createDicomWebApiFactory } from './dicomweb/dicomweb-api';
import { createPdfRuntime } from './referral/pdf-runtime';
import { createReferralPanelStore } from './referral/referral-panel-store';
import { createPdfAttachmentLoader, createReferralLookup } from './referral/referral-reader';
import { DECODE_WORKER_FILE } from '../shared/csp';
import { initCornerstone } from './viewer/cornerstone-setup';
import { createViewerStore } from './viewer/viewer-store';
import { startAutoRefresh } from './worklist/auto-refresh';
import { createCachedStudyBytes } from './worklist/cached-sizes';
import { classifyWorklistError, querySiteStudies } from './worklist/qido-worklist';
import { createWorklistStore } from './worklist/worklist-store';
import { createSitesStore } from './sites/sites-store';
import { createTransfersStore } from './transfers/transfers-store';
import pdfWorkerUrl from 'pdfjs-dist/build/pdf.worker.min.mjs?url';
import './app/theme.css';

/**
 * The composition root: the only place that constructs services and the only
 * place that touches globals (window, location, fetch). Everything below
 * receives what it needs.
 */
const client = createAppServiceClient(window.telerad, window.fetch.bind(window));
const log = createLogger('renderer', createRendererLogSink(client));
const db = new TeleradDB('telerad');
const cache = new StudyCache(db);
const dicomweb = createDicomWebApiFactory(window.location.origin, window.fetch.bind(window));
const referralLookup = createReferralLookup({ db, dicomweb, log: log.child('referral') });
const transfers = createTransfersStore();
const retriever = new StudyRetriever({ cache, dicomweb, log: log.child('retrieve'), concurrency: 4, transfers });
// Back online: retrievals that failed on the way resume where they stopped.
window.addEventListener('online', () => transfers.resumeFailed());
const worklist = createWorklistStore({
  listSites: () => client.sites.list({}),
  queryStudies: (site) => querySiteStudies(dicomweb(site), site),
  listCachedStudies: () => cache.listCachedStudies(),
  cachedStudyBytes: createCachedStudyBytes(cache),
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
const sites = createSitesStore({ client, onSitesChanged: () => void worklist.refresh(), log: log.child('sites') });
const imaging = initCornerstone(log.child('cornerstone'), navigator.hardwareConcurrency, {
  host: window,
  url: new URL(`assets/${DECODE_WORKER_FILE}`, document.baseURI).href,
});
const viewer = createViewerStore({
  cache,
  retriever,
  imaging,
  log: log.child('viewer'),
  onCacheChanged: () => void worklist.refreshCached(),
});

const referralPanel = createReferralPanelStore({
  lookup: referralLookup,
  loadPdf: createPdfAttachmentLoader({ cache, dicomweb, log: log.child('referral') }),
  cachedReferral: (studyUID) => db.referrals.get(studyUID),
  log: log.child('referral'),
});
const pdfRuntime = createPdfRuntime(pdfWorkerUrl, log.child('pdf'));

window.addEventListener('unhandledrejection', (e) => log.error('Unhandled rejection', e.reason));
window.addEventListener('error', (e) => log.error('Uncaught error', e.error ?? e.message));

const rootEl = document.getElementById('root');
if (!rootEl) throw new Error('index.html has no #root');
createRoot(rootEl).render(
  <StrictMode>
    <App deps={{ client, worklist, viewer, log, sites, referralPanel, pdfRuntime, transfers }} />
  </StrictMode>,
);
