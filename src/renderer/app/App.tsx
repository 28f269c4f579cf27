import { useCallback, useEffect, useState } from 'react';
import type { JSX } from 'react';
import type { AppInfo, ServiceClient } from '../../shared/ipc/contract';
import type { Logger } from '../../shared/log';
import type { WorklistRow, WorklistStore } from '../worklist/worklist-store';
import { WorklistView } from '../worklist/WorklistView';
import type { OpenRequest, ViewerStore } from '../viewer/viewer-store';
import { StackViewer } from '../viewer/StackViewer';
import type { SitesStore } from '../sites/sites-store';
import { SitesPanel } from '../sites/SitesPanel';
import type { PdfRuntime } from '../referral/pdf-runtime';
import type { ReferralPanelStore } from '../referral/referral-panel-store';
import { ReferralPanel } from '../referral/ReferralPanel';
import type { TransfersStore } from '../transfers/transfers-store';
import { TransfersButton, TransfersPanel } from '../transfers/TransfersPanel';
import type { StorageStore } from '../storage/storage-store';
import { StorageButton, StoragePanel } from '../storage/StoragePanel';
import type { Prefetch } from '../prefetch/prefetch-wiring';
import { PrefetchPanel, PrefetchStatus } from '../prefetch/PrefetchPanel';
import type { ConnectivityStore } from './connectivity';
import { ConnectivityIndicator } from './ConnectivityIndicator';
import type { DeliveryNotices } from '../outbox/delivery-notices';
import type { OutboxView } from '../outbox/OutboxPanel';
import { DeliveryToasts, OutboxButton, OutboxPanel } from '../outbox/OutboxPanel';
import type { Reports } from '../reports/report-wiring';
import { ReportPanel } from '../reports/ReportPanel';
import { NewReportNoticeList } from '../reports/NewReportNotices';

/** Everything the UI needs, built once in main.tsx: components receive, never construct, their services. */
export interface AppDeps {
  client: ServiceClient;
  worklist: WorklistStore;
  viewer: ViewerStore;
  log: Logger;
  /** Site management (the header's "Sites" button). */
  sites: SitesStore;
  /** The referral side panel of the open study, and pdf.js for its attached PDFs. */
  referralPanel: ReferralPanelStore;
  pdfRuntime: PdfRuntime;
  /** Study retrievals under way (the header's "Transfers" button). */
  transfers?: TransfersStore;
  /** The offline cache's usage, budget and eviction (the header's "Storage" button). */
  storage?: StorageStore;
  /** Background prefetch: its status in the header, its settings panel, the worklist's mark toggles. */
  prefetch?: Prefetch;
  /** Online / offline / sites unreachable, shown in the header. */
  connectivity?: ConnectivityStore;
  /** The store-and-forward outbox (the header's "Outbox (n)") and its "delivered" notices. */
  outbox?: { jobs: OutboxView; notices: DeliveryNotices };
  /** The report editor of the open case, and "new report" notices over the worklist. */
  reports?: Reports;
}

export function App({ deps }: { deps: AppDeps }): JSX.Element {
  const { client, worklist, viewer, log, referralPanel, pdfRuntime } = deps;
  const [info, setInfo] = useState<AppInfo | undefined>(undefined);
  const [open, setOpen] = useState<OpenRequest | undefined>(undefined);
  const [showSites, setShowSites] = useState(false);
  const [showTransfers, setShowTransfers] = useState(false);
  const [showStorage, setShowStorage] = useState(false);
  const [showOutbox, setShowOutbox] = useState(false);
  const [showPrefetch, setShowPrefetch] = useState(false);

  useEffect(() => {
    let live = true;
    client.app
      .info({})
      .then((i) => live && setInfo(i))
      .catch((err: unknown) => log.warn('app.info failed', err));
    void worklist.refresh();
    return () => {
      live = false;
    };
  }, [client, worklist, log]);

  const onOpen = useCallback(
    (row: WorklistRow) => {
      const site = worklist.getState().sites.find((s) => s.site.id === row.siteId)?.site;
      setOpen({
        site,
        study: {
          studyInstanceUID: row.studyInstanceUID,
          siteId: row.siteId,
          patientName: row.patientName,
          patientId: row.patientId,
          studyDate: row.studyDate,
          modalities: row.modalities,
          description: row.description,
          numInstances: row.numInstances ?? 0,
        },
      });
    },
    [worklist],
  );
  const onClose = useCallback(() => setOpen(undefined), []);

  return (
    <div className="app">
      <header className="app-header">
        <span className="app-name">{info?.name ?? 'Telerad Workstation'}</span>
        {info && (
          <span className="app-host" data-testid="app-host">
            {info.host === 'electron' ? 'desktop' : 'browser host'} · v{info.version}
          </span>
        )}
        <button type="button" className="btn btn-small app-sites-button" data-testid="sites-button" aria-pressed={showSites} onClick={() => setShowSites((v) => !v)}>
          Sites
        </button>
        {deps.connectivity && <ConnectivityIndicator store={deps.connectivity} />}
        {deps.prefetch && <PrefetchStatus scheduler={deps.prefetch.scheduler} pressed={showPrefetch} onToggle={() => setShowPrefetch((v) => !v)} />}
        {deps.transfers && <TransfersButton store={deps.transfers} pressed={showTransfers} onToggle={() => setShowTransfers((v) => !v)} />}
        {deps.storage && (
          <StorageButton
            pressed={showStorage}
            onToggle={() => {
              // Both panels drop down from the same corner: one at a time.
              setShowTransfers(false);
              setShowStorage((v) => !v);
            }}
          />
        )}
        {deps.outbox && <OutboxButton outbox={deps.outbox.jobs} pressed={showOutbox} onToggle={() => setShowOutbox((v) => !v)} />}
      </header>
      {deps.outbox && showOutbox && <OutboxPanel outbox={deps.outbox.jobs} onClose={() => setShowOutbox(false)} />}
      {deps.outbox && <DeliveryToasts notices={deps.outbox.notices} />}
      {deps.transfers && showTransfers && <TransfersPanel store={deps.transfers} />}
      {deps.storage && showStorage && <StoragePanel store={deps.storage} onClose={() => setShowStorage(false)} />}
      {deps.prefetch && showPrefetch && <PrefetchPanel settings={deps.prefetch.settings} sites={worklist.getState().sites.map((s) => s.site)} />}
      <main className="app-main">
        {open ? (
          <div className="study-layout">
            <StackViewer store={viewer} request={open} onClose={onClose} />
            <ReferralPanel
              store={referralPanel}
              site={open.site}
              studyInstanceUID={open.study.studyInstanceUID}
              pdfRuntime={pdfRuntime}
              onShowSeries={viewer.selectSeries}
            />
            {deps.reports && (
              <ReportPanel
                store={deps.reports.panel}
                reportCase={{ site: open.site, siteId: open.study.siteId, studyInstanceUID: open.study.studyInstanceUID, modalities: open.study.modalities, description: open.study.description }}
                pdfRuntime={pdfRuntime}
              />
            )}
          </div>
        ) : showSites ? (
          <SitesPanel store={deps.sites} onClose={() => setShowSites(false)} />
        ) : (
          <WorklistView store={worklist} onOpen={onOpen} {...(deps.prefetch ? { prefetchMarks: deps.prefetch.settings } : {})} />
        )}
      </main>
      {deps.reports && <NewReportNoticeList notices={deps.reports.notices} />}
    </div>
  );
}
