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
import { classifySiteError } from './dicomweb/site-error';
import { initCornerstone } from './viewer/cornerstone-setup';
import { createViewerStore } from './viewer/viewer-store';
import { queryStudies } from './worklist/qido-worklist';
import { createWorklistStore } from './worklist/worklist-store';
import './app/theme.css';

/**
 * The composition root: the only place that constructs services and the only
 * place that touches globals (window, location, fetch). Everything below
 * receives what it needs.
 */
const client = createAppServiceClient(window.telerad, window.fetch.bind(window));
const log = createLogger('renderer', createRendererLogSink(client));
const cache = new StudyCache(new TeleradDB('telerad'));
const dicomweb = createDicomWebApiFactory(window.location.origin, window.fetch.bind(window));
const retriever = new StudyRetriever({ cache, dicomweb, log: log.child('retrieve'), concurrency: 4 });
const worklist = createWorklistStore({
  listSites: () => client.sites.list({}),
  queryStudies: (site) => queryStudies(dicomweb(site), site),
  listCachedStudies: () => cache.listCachedStudies(),
  classifyError: classifySiteError,
  log: log.child('worklist'),
});
const imaging = initCornerstone(log.child('cornerstone'), navigator.hardwareConcurrency);
const viewer = createViewerStore({
  cache,
  retriever,
  imaging,
  log: log.child('viewer'),
  onCacheChanged: () => void worklist.refreshCached(),
});

window.addEventListener('unhandledrejection', (e) => log.error('Unhandled rejection', e.reason));
window.addEventListener('error', (e) => log.error('Uncaught error', e.error ?? e.message));

const rootEl = document.getElementById('root');
if (!rootEl) throw new Error('index.html has no #root');
createRoot(rootEl).render(
  <StrictMode>
    <App deps={{ client, worklist, viewer, log }} />
  </StrictMode>,
);
